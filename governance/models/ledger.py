"""The price book and the cost ledger.

Money is `Decimal` US dollars, never float. Prices carry at most 4 decimal places per 1M
tokens, so a cost (tokens x price / 1,000,000) is exact with 10 decimal places: that is the
scale of every amount in the ledger. Ledger entries are append-only in the database (trigger),
and each snapshots the unit prices it used: a price change never rewrites a past entry.
"""

from __future__ import annotations

from django.contrib.postgres.constraints import ExclusionConstraint
from django.contrib.postgres.fields import DateTimeRangeField, RangeBoundary, RangeOperators
from django.db import models
from django.db.models import Func, Q

from tenants.scoping import TenantOwnedModel

AMOUNT_DIGITS = 24
AMOUNT_PLACES = 10
PRICE_PLACES = 4
DEFAULT_MODEL = "gpt-image-2"
DEFAULT_TIER = "standard-global"


class TokenKind(models.TextChoices):
    TEXT_INPUT = "text_input", "Text input"
    CACHED_TEXT_INPUT = "cached_text_input", "Cached text input"
    IMAGE_INPUT = "image_input", "Image input"
    CACHED_IMAGE_INPUT = "cached_image_input", "Cached image input"
    IMAGE_OUTPUT = "image_output", "Image output"


class TsTzRange(Func):
    function = "TSTZRANGE"
    output_field = DateTimeRangeField()


class Price(models.Model):
    """USD per 1M tokens of one kind, for a model and deployment tier, over [effective_from, effective_to)."""

    model = models.CharField(max_length=64, default=DEFAULT_MODEL)
    deployment_tier = models.CharField(max_length=32, default=DEFAULT_TIER)
    token_kind = models.CharField(max_length=32, choices=TokenKind.choices)
    usd_per_million = models.DecimalField(max_digits=12, decimal_places=PRICE_PLACES)
    effective_from = models.DateTimeField()
    effective_to = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["model", "deployment_tier", "token_kind", "effective_from"]
        constraints = [
            models.CheckConstraint(
                condition=Q(effective_to__isnull=True) | Q(effective_to__gt=models.F("effective_from")),
                name="price_period_not_empty",
            ),
            models.CheckConstraint(condition=Q(usd_per_million__gte=0), name="price_not_negative"),
            # Two prices for the same kind can never apply at the same instant.
            ExclusionConstraint(
                name="price_periods_do_not_overlap",
                expressions=[
                    ("model", RangeOperators.EQUAL),
                    ("deployment_tier", RangeOperators.EQUAL),
                    ("token_kind", RangeOperators.EQUAL),
                    (TsTzRange("effective_from", "effective_to", RangeBoundary()), RangeOperators.OVERLAPS),
                ],
            ),
        ]

    def __str__(self) -> str:
        return f"{self.model}/{self.deployment_tier} {self.token_kind} ${self.usd_per_million}/1M"


class LedgerEntry(TenantOwnedModel):
    """One money movement of a tenant.

    - `hold`: a job's estimated maximum, reserved at submit (one per job).
    - `charge`: the cost of one provider response, from its reported usage (one per provider request id).
    - `release`: what is left of a job's hold when it is settled or released (one per job).
    - `adjustment`: a credit (negative) or debit by an administrator, with a note.
    - `provisional`: a call whose outcome is unknown (a timeout after it was sent, a worker killed while it was
      out), at its planned cost, until reconciled; `provider_request_id` holds the call's client request id.
    - `provisional_release`: the reversal (negative) of one provisional charge, when reconciliation found the
      answer (a `charge` from its real usage comes with it) or showed the provider did not bill it.
    Confirmed spend is charges plus adjustments; provisional spend is provisional charges plus their reversals;
    the budget counts both. Holds and releases only move reservations.
    """

    class Kind(models.TextChoices):
        HOLD = "hold", "Hold"
        CHARGE = "charge", "Charge"
        RELEASE = "release", "Release"
        ADJUSTMENT = "adjustment", "Adjustment"
        PROVISIONAL = "provisional", "Provisional charge"
        PROVISIONAL_RELEASE = "provisional_release", "Provisional charge reversed"

    tenant = models.ForeignKey("tenants.Tenant", on_delete=models.PROTECT, related_name="ledger_entries")
    kind = models.CharField(max_length=24, choices=Kind.choices)
    amount_usd = models.DecimalField(max_digits=AMOUNT_DIGITS, decimal_places=AMOUNT_PLACES)
    # Plain ids: generation and dam depend on governance, not the reverse; reports group by them.
    job_id = models.BigIntegerField(null=True, blank=True)
    api_key_id = models.BigIntegerField(null=True, blank=True)
    user_id = models.BigIntegerField(null=True, blank=True)
    collection_id = models.BigIntegerField(null=True, blank=True)
    provider_request_id = models.CharField(max_length=128, null=True, blank=True)
    model = models.CharField(max_length=64, blank=True)
    deployment_tier = models.CharField(max_length=32, blank=True)
    # What the charge was for, so estimates can be calibrated from observed tokens per size and quality.
    size = models.CharField(max_length=16, blank=True)
    quality = models.CharField(max_length=8, blank=True)
    operation = models.CharField(max_length=16, blank=True, help_text="generate | edit")
    images = models.PositiveSmallIntegerField(default=0)
    # Usage as the provider reported it; cached tokens are included in the input counts.
    text_input_tokens = models.PositiveIntegerField(default=0)
    cached_text_input_tokens = models.PositiveIntegerField(default=0)
    image_input_tokens = models.PositiveIntegerField(default=0)
    cached_image_input_tokens = models.PositiveIntegerField(default=0)
    output_tokens = models.PositiveIntegerField(default=0)
    usage_estimated = models.BooleanField(default=False, help_text="the response carried no usage")
    # token kind -> {"tokens", "price_id", "usd_per_million", "amount_usd"}: the price rows used.
    breakdown = models.JSONField(default=dict, blank=True)
    note = models.CharField(max_length=500, blank=True)
    occurred_at = models.DateTimeField()
    # The calendar day and month in the tenant's time zone when it occurred (month = its first day).
    day = models.DateField()
    period = models.DateField()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta(TenantOwnedModel.Meta):
        ordering = ["-id"]
        verbose_name_plural = "ledger entries"
        constraints = [
            models.UniqueConstraint(
                fields=["provider_request_id"], condition=Q(kind="charge"), name="ledger_one_charge_per_response"
            ),
            models.UniqueConstraint(
                fields=["job_id", "kind"], condition=Q(kind__in=["hold", "release"]), name="ledger_one_hold_per_job"
            ),
            models.CheckConstraint(
                condition=~Q(kind="charge") | Q(provider_request_id__isnull=False), name="ledger_charge_has_response"
            ),
            # One provisional charge per attempted call, and at most one reversal of it.
            models.UniqueConstraint(
                fields=["kind", "provider_request_id"],
                condition=Q(kind__in=["provisional", "provisional_release"]),
                name="ledger_one_provisional_per_call",
            ),
            models.CheckConstraint(
                condition=~Q(kind__in=["provisional", "provisional_release"]) | Q(provider_request_id__isnull=False),
                name="ledger_provisional_names_call",
            ),
        ]
        indexes = [
            models.Index(fields=["tenant", "id"], name="ledger_tenant_recent"),
            models.Index(fields=["tenant", "job_id"], name="ledger_tenant_job"),
            models.Index(fields=["tenant", "kind", "occurred_at"], name="ledger_tenant_kind_time"),
        ]

    def __str__(self) -> str:
        return f"{self.kind} {self.amount_usd} USD (job {self.job_id})"


class DailySpend(TenantOwnedModel):
    """Spend (charges + adjustments) per tenant-local day, kept with each entry: one row per day for the
    total, and one per day per API key, user, collection and model.

    Reports read these instead of the ledger: a year of a tenant by collection is at most 365 rows per
    collection however many entries it has. Keyed by one dimension at a time on purpose: a row per
    combination of dimensions would be nearly one row per entry. `governance.services.ledger.daily_spend_rebuild`
    recomputes them from the ledger.
    """

    class Dimension(models.TextChoices):
        TOTAL = "total", "Total"
        API_KEY = "api_key", "API key"
        USER = "user", "User"
        COLLECTION = "collection", "Collection"
        MODEL = "model", "Model"

    tenant = models.ForeignKey("tenants.Tenant", on_delete=models.CASCADE, related_name="+")
    day = models.DateField()
    dimension = models.CharField(max_length=16, choices=Dimension.choices)
    # The dimension's value as text (an id, or a model name); "" for none (spend without a key...) and the total.
    key = models.CharField(max_length=64, blank=True)
    amount_usd = models.DecimalField(max_digits=AMOUNT_DIGITS, decimal_places=AMOUNT_PLACES, default=0)
    entries = models.PositiveIntegerField(default=0)
    images = models.PositiveIntegerField(default=0)
    input_tokens = models.PositiveBigIntegerField(default=0)
    output_tokens = models.PositiveBigIntegerField(default=0)

    class Meta(TenantOwnedModel.Meta):
        ordering = ["day"]
        constraints = [
            models.UniqueConstraint(fields=["tenant", "dimension", "day", "key"], name="daily_spend_unique_cell")
        ]

    def __str__(self) -> str:
        return f"{self.tenant_id} {self.day} {self.dimension}={self.key or '-'} {self.amount_usd}"
