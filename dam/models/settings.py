"""Per-tenant settings of the asset library: on-demand renditions and provenance."""

from __future__ import annotations

from django.contrib.postgres.fields import ArrayField
from django.db import models

from tenants.scoping import TenantOwnedModel


class LibrarySettings(TenantOwnedModel):
    """No row means the defaults: presets and placements only, no credit line, no prompt in files."""

    tenant = models.OneToOneField("tenants.Tenant", on_delete=models.CASCADE, related_name="library_settings")
    # Canonical filter specs a client may ask for on demand, beyond the presets and the placements.
    # Open transforms are a denial-of-service hole: anything not listed is refused.
    rendition_allow_list = ArrayField(models.CharField(max_length=200), default=list, blank=True)
    credit_line = models.CharField(max_length=300, blank=True, help_text="XMP photoshop:Credit of every file")
    copyright_notice = models.CharField(max_length=300, blank=True, help_text="XMP dc:rights of every file")
    include_prompt_in_provenance = models.BooleanField(
        default=False, help_text="Embed the compiled prompt (IPTC AI Prompt Information) in generated files"
    )
    updated_at = models.DateTimeField(auto_now=True)

    class Meta(TenantOwnedModel.Meta):
        verbose_name_plural = "library settings"

    def __str__(self) -> str:
        return f"{self.tenant_id} library settings"
