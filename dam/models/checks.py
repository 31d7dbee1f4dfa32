"""Deterministic checks of a generated version (dam.checks): the copy read back, the placement crops kept
text-safe, the brand's palette, legibility and logo. One row per check (and per placement for crops), with its
evidence; the version carries the overall state and the brand score (checks passed / checks run)."""

from __future__ import annotations

from django.db import models

from tenants.scoping import TenantOwnedModel


class ChecksState(models.TextChoices):
    NONE = "", "Not checked"  # uploads, edits, versions from before the checks, generations with nothing to check
    PENDING = "pending", "Checking"
    DONE = "done", "Checked"
    FAILED = "failed", "Check failed"  # the checker crashed: the version waits for a person, never auto-approved


class CheckKind(models.TextChoices):
    COPY = "copy", "Copy"
    CROP = "crop", "Text-safe crop"
    PALETTE = "palette", "Palette"
    LEGIBILITY = "legibility", "Legibility"
    LOGO = "logo", "Logo"


class CheckOutcome(models.TextChoices):
    PASS = "pass", "Passed"
    WARN = "warn", "Needs a look"  # near copy, an adjusted crop: shown, and (copy) sends the version to review
    FAIL = "fail", "Failed"


class VersionCheck(TenantOwnedModel):
    tenant = models.ForeignKey("tenants.Tenant", on_delete=models.CASCADE, related_name="+")
    version = models.ForeignKey("dam.AssetVersion", on_delete=models.CASCADE, related_name="checks")
    kind = models.CharField(max_length=16, choices=CheckKind.choices)
    placement = models.SlugField(max_length=63, blank=True)  # crops: one row per placement
    outcome = models.CharField(max_length=8, choices=CheckOutcome.choices)
    # The check's own word: exact / near / mismatch (copy), ok / adjusted / cut / too_small (crop), passed /
    # failed (palette, legibility), found / too_small / missing (logo).
    verdict = models.CharField(max_length=16)
    score = models.FloatField(null=True, blank=True)  # CER, palette score, contrast ratio, logo width share
    evidence = models.JSONField(default=dict, blank=True)
    # A picture of the evidence (boxes drawn on the image), in blob storage; blank when there is none.
    evidence_key = models.CharField(max_length=300, blank=True)
    seconds = models.FloatField(default=0)  # CPU-side time the check took
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta(TenantOwnedModel.Meta):
        ordering = ["version_id", "kind", "placement"]
        constraints = [
            models.UniqueConstraint(fields=["version", "kind", "placement"], name="version_check_unique_kind"),
        ]

    def __str__(self) -> str:
        return f"{self.version_id} {self.kind}{':' + self.placement if self.placement else ''} {self.verdict}"
