"""Capacity: deployment pools across regions, each tenant's place in one, and every provider call attempted.

A **pool** is a set of deployments (its members) that the dispatcher (generation.dispatch) spreads calls over:
platform-owned (`owner` empty: operators manage it, many tenants may use it) or owned by one tenant (that tenant's
admins manage it, only that tenant uses it). A tenant's `TenantCapacity` names its pool, its weight in the fair
scheduler, its cap on the pool's share and its data residency; a tenant without one keeps today's route (its default
deployment, else the platform's from settings).

A `ProviderAttempt` is written, durably, before each provider call leaves: after a crash or a timeout the attempt
is what proves a call may have been paid for (a provisional charge until reconciled).
"""

from __future__ import annotations

from decimal import Decimal

from django.contrib.postgres.fields import ArrayField
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models

from generation.models.deployments import FoundryConnection
from tenants.scoping import TenantOwnedModel


class DeploymentPool(models.Model):
    """A named set of deployments. Platform pools have no owner; a tenant's own pool has it as owner."""

    name = models.CharField(max_length=100)
    owner = models.ForeignKey(
        "tenants.Tenant", null=True, blank=True, on_delete=models.CASCADE, related_name="own_deployment_pools"
    )
    description = models.CharField(max_length=300, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["id"]
        constraints = [
            models.UniqueConstraint(
                fields=["name"], condition=models.Q(owner__isnull=True), name="pool_unique_platform_name"
            ),
            models.UniqueConstraint(fields=["owner", "name"], name="pool_unique_name_per_owner"),
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def dispatch_key(self) -> str:
        return f"pool-{self.pk}"


class PoolMember(FoundryConnection):
    """One deployment in a pool: where it is (region, data zone), what it may take (rpm, tpm), how the router
    prefers it (priority first, then weight among equals), and whether it takes calls at all."""

    class DeploymentType(models.TextChoices):
        GLOBAL = "global", "Global"
        DATA_ZONE = "data_zone", "Data Zone"
        STANDARD = "standard", "Standard (regional)"

    pool = models.ForeignKey(DeploymentPool, on_delete=models.CASCADE, related_name="members")
    region = models.CharField(max_length=40, help_text="Azure region, e.g. swedencentral")
    data_zone = models.CharField(
        max_length=8, blank=True, help_text="eu, us, … for Data Zone deployments; empty for Global"
    )
    deployment_type = models.CharField(max_length=16, choices=DeploymentType.choices, default=DeploymentType.GLOBAL)
    weight = models.PositiveSmallIntegerField(default=1, validators=[MinValueValidator(1), MaxValueValidator(1000)])
    priority = models.PositiveSmallIntegerField(default=0, help_text="Lower is tried first")
    enabled = models.BooleanField(default=True)

    class Meta:
        ordering = ["pool_id", "priority", "id"]
        constraints = [models.UniqueConstraint(fields=["pool", "name"], name="pool_member_unique_name")]

    def __str__(self) -> str:
        return f"{self.name} ({self.region})"

    @property
    def dispatch_key(self) -> str:
        return f"member-{self.pk}"

    def config_name(self) -> str:
        return f"pool-{self.pool_id}/{self.name}"

    def endpoint_chosen_by_tenant(self) -> bool:
        # A tenant's own pool: its admins add and change its members (generation.services.capacity). A platform
        # pool's members are the operators' and may be private endpoints.
        return self.pool.owner_id is not None


class RetryUnknownOutcome(models.TextChoices):
    NEVER = "never", "Never: fail the job and wait for reconciliation"
    ONCE = "once", "Once: call again one time (the first call stays a provisional charge)"


class TenantCapacity(TenantOwnedModel):
    """A tenant's place in the capacity plan."""

    tenant = models.OneToOneField("tenants.Tenant", on_delete=models.CASCADE, related_name="capacity")
    pool = models.ForeignKey(DeploymentPool, null=True, blank=True, on_delete=models.PROTECT, related_name="tenants")
    weight = models.DecimalField(
        max_digits=6,
        decimal_places=2,
        default=Decimal(1),
        validators=[MinValueValidator(Decimal("0.01")), MaxValueValidator(Decimal(1000))],
        help_text="Share of a busy shared pool relative to other tenants (weighted fair queuing)",
    )
    max_share_percent = models.PositiveSmallIntegerField(
        null=True,
        blank=True,
        validators=[MinValueValidator(1), MaxValueValidator(100)],
        help_text="At most this percentage of the pool's requests per minute while it is saturated",
    )
    allowed_regions = ArrayField(models.CharField(max_length=40), default=list, blank=True)
    allowed_data_zones = ArrayField(models.CharField(max_length=8), default=list, blank=True)
    retry_unknown_outcome = models.CharField(
        max_length=8, choices=RetryUnknownOutcome.choices, default=RetryUnknownOutcome.ONCE
    )
    updated_at = models.DateTimeField(auto_now=True)

    class Meta(TenantOwnedModel.Meta):
        verbose_name_plural = "tenant capacities"

    def __str__(self) -> str:
        return f"capacity of tenant {self.tenant_id}"

    def allows(self, member: PoolMember) -> bool:
        """Data residency: with regions or zones set, only members inside them may serve this tenant."""
        if self.allowed_regions and member.region not in self.allowed_regions:
            return False
        return not (self.allowed_data_zones and member.data_zone not in self.allowed_data_zones)


class AttemptState(models.TextChoices):
    SENT = "sent", "Sent (no outcome yet)"
    ANSWERED = "answered", "Answered (charged from its usage)"
    REFUSED = "refused", "Refused before generating (not billed)"
    FAILED = "failed", "Failed with an answer (not billed)"
    UNKNOWN = "unknown", "Outcome unknown (provisional charge)"
    SETTLED = "settled", "Found in the provider's usage (charged)"
    RELEASED = "released", "Not billed by the provider (provisional charge released)"


class ProviderAttempt(TenantOwnedModel):
    """One provider call, recorded before it leaves (`sent`), resolved by its answer or by reconciliation.

    `client_request_id` is the `x-ms-client-request-id` the call carries: the provider's logs and usage exports
    name the call by it, which is how an answer nobody received is found again."""

    tenant = models.ForeignKey("tenants.Tenant", on_delete=models.CASCADE, related_name="+")
    job = models.ForeignKey("generation.Job", on_delete=models.CASCADE, related_name="provider_attempts")
    generation = models.ForeignKey("generation.JobGeneration", on_delete=models.CASCADE, related_name="attempts")
    client_request_id = models.CharField(max_length=128, unique=True)
    deployment = models.CharField(max_length=200, help_text="the config name of the deployment it went to")
    region = models.CharField(max_length=40, blank=True)
    planned_cost_usd = models.DecimalField(max_digits=24, decimal_places=10)
    state = models.CharField(max_length=16, choices=AttemptState.choices, default=AttemptState.SENT)
    provider_request_id = models.CharField(max_length=128, blank=True)
    detail = models.JSONField(default=dict, blank=True)
    sent_at = models.DateTimeField(auto_now_add=True)
    resolved_at = models.DateTimeField(null=True, blank=True)

    class Meta(TenantOwnedModel.Meta):
        ordering = ["id"]
        indexes = [
            models.Index(fields=["tenant", "state", "sent_at"], name="attempt_tenant_state_time"),
            models.Index(fields=["generation", "state"], name="attempt_unit_state"),
        ]

    def __str__(self) -> str:
        return f"attempt {self.client_request_id} ({self.state})"
