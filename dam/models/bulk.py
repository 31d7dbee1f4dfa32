"""Bulk operations: a large selection of the library's bulk actions (tag, untag, move, publish window, archive,
unarchive), run in the background by `dam.services.bulk.bulk_operation_run` with its progress on the row."""

from __future__ import annotations

from django.conf import settings
from django.db import models

from tenants.scoping import TenantOwnedModel


class BulkOperation(TenantOwnedModel):
    class State(models.TextChoices):
        QUEUED = "queued", "Queued"
        RUNNING = "running", "Running"
        DONE = "done", "Done"
        FAILED = "failed", "Failed"

    tenant = models.ForeignKey("tenants.Tenant", on_delete=models.CASCADE, related_name="bulk_operations")
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    requested_by_key = models.ForeignKey(
        "tenants.ApiKey", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    # Who asked and from where, as the per-asset audit events record it ({"kind", "id", "label"} and
    # {"request_id", "ip"}): kept as given, so a run after the person or key is gone still names them.
    actor = models.JSONField(default=dict)
    origin = models.JSONField(default=dict, blank=True)
    action = models.CharField(max_length=32)
    # The action's arguments, JSON-ready: tags, collection (id and slug), available_from/until (ISO 8601).
    parameters = models.JSONField(default=dict, blank=True)
    # The assets the selection resolved to when the operation was started, in the order they are worked
    # through: a re-run (after a crash) works through the same list, whatever changed in the library since.
    asset_ids = models.JSONField(default=list)
    state = models.CharField(max_length=16, choices=State.choices, default=State.QUEUED)
    total = models.PositiveIntegerField(default=0)
    # asset_ids[:processed] are finished (done or skipped). Moved forward in the same transaction as each
    # asset's change and audit event, so a crash can never leave an asset changed but not counted.
    processed = models.PositiveIntegerField(default=0)
    done_count = models.PositiveIntegerField(default=0)
    # Assets left as they were: [{"id", "title", "reason"}].
    skipped = models.JSONField(default=list, blank=True)
    # Each run takes the next number; only the run holding the newest one may move progress or finish.
    attempts = models.PositiveSmallIntegerField(default=0)
    error = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta(TenantOwnedModel.Meta):
        ordering = ["-id"]
        indexes = [
            models.Index(fields=["tenant", "-id"], name="bulkop_tenant_recent"),
            models.Index(fields=["state", "created_at"], name="bulkop_state_created"),
        ]

    def __str__(self) -> str:
        return f"bulk operation {self.pk} ({self.action}, {self.state})"

    @property
    def terminal(self) -> bool:
        return self.state in (self.State.DONE, self.State.FAILED)

    @property
    def percent(self) -> int:
        if self.state == self.State.DONE:
            return 100
        return int(100 * self.processed / self.total) if self.total else 0

    @property
    def skipped_count(self) -> int:
        return len(self.skipped)

    @property
    def summary(self) -> str:
        """The action in words, for the staff UI: "Add tags summer, sale", "Move to summer-26"."""
        params = self.parameters or {}
        if self.action in ("tag", "untag"):
            verb = "Add tags" if self.action == "tag" else "Remove tags"
            return f"{verb} {', '.join(params.get('tags', []))}"
        if self.action == "move":
            return f"Move to {params.get('collection_slug') or 'no collection'}"
        if self.action == "publish_window":
            start, end = params.get("available_from") or "…", params.get("available_until") or "…"
            return "Clear the publish window" if start == end == "…" else f"Publish window {start} to {end}"
        if self.action == "recheck":
            return "Check the copy and brand again"
        return self.action.capitalize()
