"""Hand-off exports: a selection of versions packed as one zip (`<market>/<placement>/<name>.<ext>`) with a
manifest, built in the background (`dam.services.exports.export_build`)."""

from __future__ import annotations

from django.conf import settings
from django.db import models

from tenants.scoping import TenantOwnedModel


class Export(TenantOwnedModel):
    class State(models.TextChoices):
        QUEUED = "queued", "Queued"
        RUNNING = "running", "Running"
        DONE = "done", "Done"
        FAILED = "failed", "Failed"

    tenant = models.ForeignKey("tenants.Tenant", on_delete=models.CASCADE, related_name="exports")
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    requested_by_key = models.ForeignKey(
        "tenants.ApiKey", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    # What was asked for, as given (version ids, or a filter: asset ids, collection, locale, placement,
    # campaign_id, status), and the versions it resolved to when the export was created: a re-run of the
    # build packs the same versions, whatever changed in the library since.
    selection = models.JSONField(default=dict)
    version_ids = models.JSONField(default=list)
    # Versions the selection matched but the export leaves out, with the reason ({"version": id, "reason": ...}).
    skipped = models.JSONField(default=list, blank=True)
    # The origin delivery URLs in the manifest start with (DELIVERY_BASE_URL, else the requesting host).
    delivery_origin = models.CharField(max_length=300, blank=True)
    state = models.CharField(max_length=16, choices=State.choices, default=State.QUEUED)
    # Progress: files written into the zip of files_total (originals plus placement renditions).
    files_total = models.PositiveIntegerField(default=0)
    files_done = models.PositiveIntegerField(default=0)
    bytes_done = models.PositiveBigIntegerField(default=0)
    # Each run of the build takes the next number; only the run holding the newest one may write
    # progress or finish the export (a redelivered message racing a still-running one loses).
    attempts = models.PositiveSmallIntegerField(default=0)
    storage_key = models.CharField(max_length=300, blank=True)
    file_size = models.PositiveBigIntegerField(null=True, blank=True)
    manifest_sha256 = models.CharField(max_length=64, blank=True)
    error = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta(TenantOwnedModel.Meta):
        ordering = ["-id"]
        indexes = [models.Index(fields=["tenant", "-id"], name="export_tenant_recent")]

    def __str__(self) -> str:
        return f"export {self.pk} ({self.state})"

    @property
    def terminal(self) -> bool:
        return self.state in (self.State.DONE, self.State.FAILED)

    @property
    def percent(self) -> int:
        if self.state == self.State.DONE:
            return 100
        return int(100 * self.files_done / self.files_total) if self.files_total else 0

    @property
    def selection_summary(self) -> str:
        """The selection in words, for the staff UI: "3 versions chosen", "collection summer-26, locale de-DE"."""
        parts = []
        for name, value in self.selection.items():
            if name == "include_originals":
                continue
            if isinstance(value, list):
                parts.append(f"{len(value)} {name.removesuffix('_ids')}{'s' if len(value) != 1 else ''} chosen")
            else:
                parts.append(f"{name.replace('_', ' ')} {value}")
        return ", ".join(parts)

    @property
    def filename(self) -> str:
        return f"export-{self.pk}.zip"
