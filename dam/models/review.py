"""Review decisions: who moved an asset version through the review life cycle, when, and why."""

from __future__ import annotations

from django.conf import settings
from django.db import models

from dam.lifecycle import VersionStatus
from tenants.scoping import TenantOwnedModel


class ReviewDecision(TenantOwnedModel):
    """Append-only: one row per decision on a version (approve, reject, publish, unpublish)."""

    class Action(models.TextChoices):
        APPROVE = "approve", "Approve"
        REJECT = "reject", "Reject"
        PUBLISH = "publish", "Publish"
        UNPUBLISH = "unpublish", "Unpublish"

    tenant = models.ForeignKey("tenants.Tenant", on_delete=models.CASCADE, related_name="review_decisions")
    version = models.ForeignKey("dam.AssetVersion", on_delete=models.CASCADE, related_name="review_decisions")
    action = models.CharField(max_length=16, choices=Action.choices)
    from_status = models.CharField(max_length=16, choices=VersionStatus.choices)
    to_status = models.CharField(max_length=16, choices=VersionStatus.choices)
    comment = models.TextField(blank=True)
    # Approving an older version while a newer one waits for review must be asked for explicitly.
    approved_over_newer = models.BooleanField(default=False)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    decided_by_key = models.ForeignKey(
        "tenants.ApiKey", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    # Kept as text too: the record of who decided outlives the user or key row.
    actor_label = models.CharField(max_length=200)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta(TenantOwnedModel.Meta):
        # Moved from governance with its rows: the table keeps the name it was created with.
        db_table = "governance_reviewdecision"
        ordering = ["id"]
        indexes = [models.Index(fields=["tenant", "version"], name="review_decision_version")]

    def __str__(self) -> str:
        return f"{self.action} v{self.version_id} by {self.actor_label}"
