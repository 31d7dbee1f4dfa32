"""Campaigns: a brief run as a creative x market x placement grid, versioned like brand policies."""

from __future__ import annotations

from django.conf import settings
from django.db import models

from tenants.scoping import TenantOwnedModel


class CellStatus(models.TextChoices):
    """A cell's status, derived when read (never stored): see generation.selectors.campaigns.cell_status."""

    PLANNED = "planned", "Planned"
    GENERATING = "generating", "Generating"
    NEEDS_REVIEW = "needs_review", "Needs review"
    APPROVED = "approved", "Approved"
    REJECTED = "rejected", "Rejected"
    BLOCKED = "blocked", "Blocked"
    FAILED = "failed", "Failed"
    PUBLISHED = "published", "Published"


class Campaign(TenantOwnedModel):
    """The campaign's identity; what it asks for lives in its versions (the highest is current)."""

    tenant = models.ForeignKey("tenants.Tenant", on_delete=models.CASCADE, related_name="campaigns")
    name = models.CharField(max_length=200)
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    collection = models.ForeignKey("dam.Collection", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    # The current version's number (CampaignVersion.number); bumped under the campaign's row lock.
    version = models.PositiveIntegerField(default=1)
    archived = models.BooleanField(default=False)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta(TenantOwnedModel.Meta):
        ordering = ["-id"]
        indexes = [models.Index(fields=["tenant", "-id"], name="campaign_tenant_recent")]

    def __str__(self) -> str:
        return self.name


class CampaignVersion(TenantOwnedModel):
    """One immutable version of what a campaign asks for. A change is a new version; jobs keep theirs."""

    tenant = models.ForeignKey("tenants.Tenant", on_delete=models.CASCADE, related_name="+")
    campaign = models.ForeignKey(Campaign, on_delete=models.CASCADE, related_name="versions")
    number = models.PositiveIntegerField()
    brief = models.TextField(blank=True, help_text="What the campaign sells")
    # [{"locale", "copy", "alt_text", "storefront"}]: the markets, in row order.
    markets = models.JSONField(default=list)
    # Placement slugs of the tenant, in column order.
    placements = models.JSONField(default=list)
    # [{"key", "name", "prompt", "source_version_id"}]
    creatives = models.JSONField(default=list)
    quality = models.CharField(max_length=8, blank=True, help_text="blank: the brand policy's default")
    # As a job request takes it: {"mode": "tier" | "bucket" | "auto", ...}; null: auto.
    routing = models.JSONField(null=True, blank=True)
    deadline = models.DateTimeField(null=True, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_by_key = models.ForeignKey(
        "tenants.ApiKey", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta(TenantOwnedModel.Meta):
        ordering = ["campaign_id", "-number"]
        constraints = [models.UniqueConstraint(fields=["campaign", "number"], name="campaign_version_unique_number")]

    def __str__(self) -> str:
        return f"campaign {self.campaign_id} v{self.number}"

    @property
    def locales(self) -> list[str]:
        return [market["locale"] for market in self.markets]

    @property
    def creative_keys(self) -> list[str]:
        return [creative["key"] for creative in self.creatives]


class CampaignCell(TenantOwnedModel):
    """One creative x market x placement of a campaign, once it has been run.

    Its status is derived when read (generation.selectors.campaigns.cell_status), never stored: from the
    last job's state and the current version's status.
    """

    tenant = models.ForeignKey("tenants.Tenant", on_delete=models.CASCADE, related_name="+")
    campaign = models.ForeignKey(Campaign, on_delete=models.CASCADE, related_name="cells")
    creative = models.CharField(max_length=64)
    locale = models.CharField(max_length=16)
    placement = models.SlugField(max_length=63)
    asset = models.ForeignKey("dam.Asset", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    current_version = models.ForeignKey(
        "dam.AssetVersion", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    last_job = models.ForeignKey("generation.Job", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    campaign_version = models.PositiveIntegerField()
    updated_at = models.DateTimeField(auto_now=True)

    class Meta(TenantOwnedModel.Meta):
        ordering = ["campaign_id", "creative", "locale", "placement"]
        constraints = [
            models.UniqueConstraint(
                fields=["campaign", "creative", "locale", "placement"], name="campaign_cell_unique_position"
            )
        ]

    def __str__(self) -> str:
        return f"campaign {self.campaign_id} {self.creative}/{self.locale}/{self.placement}"
