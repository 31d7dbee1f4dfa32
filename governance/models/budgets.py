"""Monthly budgets, the spend counters that enforce them, and the holds of running jobs.

A budget's month is the calendar month in the tenant's time zone. `SpendCounter` holds, per
tenant (api_key_id NULL) or per API key, and per month: what was charged, what is held by
jobs in flight, and a copy of the budget's limit, so that a hold is ONE conditional UPDATE of
one row (`charged + held + amount <= limit`), never a read-then-write.
"""

from __future__ import annotations

from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q

from governance.models.ledger import AMOUNT_DIGITS, AMOUNT_PLACES
from tenants.scoping import TenantOwnedModel


class Budget(TenantOwnedModel):
    tenant = models.ForeignKey("tenants.Tenant", on_delete=models.CASCADE, related_name="budgets")
    # NULL: the whole tenant; else one API key's own allowance (checked in addition to the tenant's).
    api_key = models.ForeignKey(
        "tenants.ApiKey", null=True, blank=True, on_delete=models.CASCADE, related_name="budgets"
    )
    monthly_limit_usd = models.DecimalField(
        max_digits=14, decimal_places=2, validators=[MinValueValidator(0)], help_text="per calendar month"
    )
    alert_threshold_percent = models.PositiveSmallIntegerField(
        default=80, validators=[MinValueValidator(1), MaxValueValidator(100)]
    )
    hard_stop = models.BooleanField(default=True, help_text="refuse jobs whose estimate does not fit (402)")
    active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta(TenantOwnedModel.Meta):
        ordering = ["id"]
        constraints = [
            models.UniqueConstraint(fields=["tenant", "api_key"], name="budget_one_per_scope", nulls_distinct=False),
            models.CheckConstraint(condition=Q(monthly_limit_usd__gte=0), name="budget_limit_not_negative"),
        ]

    def __str__(self) -> str:
        scope = f"key {self.api_key_id}" if self.api_key_id else "tenant"
        return f"{self.tenant_id} {scope} ${self.monthly_limit_usd}/month"


class SpendCounter(TenantOwnedModel):
    tenant = models.ForeignKey("tenants.Tenant", on_delete=models.CASCADE, related_name="+")
    api_key_id = models.BigIntegerField(null=True, blank=True)
    period = models.DateField(help_text="first day of the month, tenant time zone")
    charged_usd = models.DecimalField(max_digits=AMOUNT_DIGITS, decimal_places=AMOUNT_PLACES, default=0)
    held_usd = models.DecimalField(max_digits=AMOUNT_DIGITS, decimal_places=AMOUNT_PLACES, default=0)
    # Copied from the active budget when the row is made and whenever the budget changes.
    limit_usd = models.DecimalField(max_digits=14, decimal_places=2, null=True, blank=True)
    alert_usd = models.DecimalField(max_digits=AMOUNT_DIGITS, decimal_places=AMOUNT_PLACES, null=True, blank=True)
    hard_stop = models.BooleanField(default=False)
    # Set once per month by a conditional UPDATE: each alert fires exactly once.
    alerted_at = models.DateTimeField(null=True, blank=True)
    exceeded_at = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta(TenantOwnedModel.Meta):
        ordering = ["period"]
        constraints = [
            models.UniqueConstraint(
                fields=["tenant", "api_key_id", "period"], name="spend_counter_unique", nulls_distinct=False
            ),
            models.CheckConstraint(condition=Q(held_usd__gte=0), name="spend_counter_held_not_negative"),
        ]

    def __str__(self) -> str:
        return f"{self.tenant_id}/{self.api_key_id or '-'} {self.period:%Y-%m}: {self.charged_usd}+{self.held_usd}"


class BudgetHold(TenantOwnedModel):
    """A job's reservation: `remaining_usd` shrinks as its charges arrive; settle/release closes it."""

    class Status(models.TextChoices):
        OPEN = "open", "Open"
        SETTLED = "settled", "Settled"
        RELEASED = "released", "Released"

    tenant = models.ForeignKey("tenants.Tenant", on_delete=models.CASCADE, related_name="+")
    job_id = models.BigIntegerField(unique=True)
    api_key_id = models.BigIntegerField(null=True, blank=True)
    period = models.DateField()
    amount_usd = models.DecimalField(max_digits=AMOUNT_DIGITS, decimal_places=AMOUNT_PLACES)
    remaining_usd = models.DecimalField(max_digits=AMOUNT_DIGITS, decimal_places=AMOUNT_PLACES)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.OPEN)
    created_at = models.DateTimeField(auto_now_add=True)
    closed_at = models.DateTimeField(null=True, blank=True)

    class Meta(TenantOwnedModel.Meta):
        ordering = ["id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(remaining_usd__gte=0) & Q(remaining_usd__lte=models.F("amount_usd")),
                name="budget_hold_remaining_within_amount",
            )
        ]
        indexes = [models.Index(fields=["status", "created_at"], name="budget_hold_open_age")]

    def __str__(self) -> str:
        return f"hold job {self.job_id} {self.remaining_usd}/{self.amount_usd} ({self.status})"
