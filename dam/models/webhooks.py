"""Webhook endpoints a tenant registers, the deliveries of events to them and each attempt."""

from __future__ import annotations

import uuid

from django.contrib.postgres.fields import ArrayField
from django.db import models

from tenants.scoping import TenantOwnedModel


class WebhookEvent(models.TextChoices):
    JOB_SUCCEEDED = "job.succeeded", "Job succeeded"
    JOB_FAILED = "job.failed", "Job failed"
    ASSET_VERSION_CREATED = "asset.version_created", "Asset version created"
    ASSET_VERSION_CHECKED = "asset.version_checked", "Asset version checked (copy and brand)"
    ASSET_APPROVED = "asset.approved", "Asset approved"
    ASSET_PUBLISHED = "asset.published", "Asset published"
    BUDGET_THRESHOLD_REACHED = "budget.threshold_reached", "Budget threshold reached"
    DEPLOYMENT_BREAKER_CHANGED = "deployment.breaker_changed", "A deployment of the pool opened or closed its breaker"


class WebhookEndpoint(TenantOwnedModel):
    tenant = models.ForeignKey("tenants.Tenant", on_delete=models.CASCADE, related_name="webhook_endpoints")
    url = models.URLField(max_length=2000)
    description = models.CharField(max_length=200, blank=True)
    events = ArrayField(models.CharField(max_length=40, choices=WebhookEvent.choices))
    # The signing secret is needed in clear to sign, so it is stored encrypted, never hashed.
    secret_encrypted = models.TextField()
    active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta(TenantOwnedModel.Meta):
        ordering = ["-id"]

    def __str__(self) -> str:
        return self.url


class WebhookDelivery(TenantOwnedModel):
    """One event for one endpoint. The row is the outbox: written with the change, sent after commit."""

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"  # waiting for its (next) attempt
        SENDING = "sending", "Sending"  # claimed by a worker until lease_until
        SUCCEEDED = "succeeded", "Succeeded"
        FAILED = "failed", "Failed"  # attempts exhausted; replay sends it again

    tenant = models.ForeignKey("tenants.Tenant", on_delete=models.CASCADE, related_name="+")
    endpoint = models.ForeignKey(WebhookEndpoint, on_delete=models.CASCADE, related_name="deliveries")
    event = models.CharField(max_length=40, choices=WebhookEvent.choices)
    # The same event id is sent on every attempt and replay, so receivers can deduplicate.
    event_id = models.UUIDField(default=uuid.uuid4)
    payload = models.JSONField()
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PENDING)
    attempts = models.PositiveSmallIntegerField(default=0)
    next_attempt_at = models.DateTimeField()
    lease_until = models.DateTimeField(null=True, blank=True)
    last_status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    last_error = models.CharField(max_length=500, blank=True)
    delivered_at = models.DateTimeField(null=True, blank=True)
    replay_of = models.ForeignKey("self", null=True, blank=True, on_delete=models.SET_NULL, related_name="replays")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta(TenantOwnedModel.Meta):
        ordering = ["-id"]
        verbose_name_plural = "webhook deliveries"
        indexes = [
            # The sweep's two halves (dam.services.webhooks.webhook_deliveries_due), each walked in its order and
            # stopped at a batch, in the index alone: overdue pending deliveries, and sending ones whose lease ran out.
            models.Index(
                fields=["next_attempt_at"],
                include=["id"],
                name="webhook_delivery_overdue",
                condition=models.Q(status="pending"),
            ),
            models.Index(
                fields=["next_attempt_at"],
                include=["lease_until", "id"],
                name="webhook_delivery_lapsed",
                condition=models.Q(status="sending"),
            ),
            models.Index(fields=["tenant", "endpoint", "-id"], name="webhook_delivery_endpoint"),
        ]

    def __str__(self) -> str:
        return f"{self.event} → {self.endpoint_id} ({self.status})"


class WebhookAttempt(TenantOwnedModel):
    """The log of one HTTP attempt: what the receiver answered, or why it could not."""

    tenant = models.ForeignKey("tenants.Tenant", on_delete=models.CASCADE, related_name="+")
    delivery = models.ForeignKey(WebhookDelivery, on_delete=models.CASCADE, related_name="attempt_log")
    number = models.PositiveSmallIntegerField()
    started_at = models.DateTimeField()
    duration_ms = models.PositiveIntegerField()
    status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    error = models.CharField(max_length=500, blank=True)
    response_excerpt = models.CharField(max_length=500, blank=True)

    class Meta(TenantOwnedModel.Meta):
        ordering = ["delivery_id", "number"]
        constraints = [models.UniqueConstraint(fields=["delivery", "number"], name="webhook_attempt_unique_number")]

    def __str__(self) -> str:
        return f"{self.delivery_id} #{self.number}: {self.status_code or self.error}"
