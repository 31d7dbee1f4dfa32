"""A tenant's safety configuration, versioned like the brand policy: every change is a new row."""

from __future__ import annotations

from django.conf import settings
from django.db import models

from governance.safety.policy import BlocklistItem, ProviderModeration, ReviewRule, SafetyPolicy
from tenants.scoping import TenantOwnedModel


class SafetyConfig(TenantOwnedModel):
    """One immutable version of a tenant's safety configuration; the highest version is current.

    Jobs keep a foreign key to the version they were checked and generated under.
    """

    class Preset(models.TextChoices):
        GENERAL = "general", "General brands"
        FINANCIAL_SERVICES = "financial_services", "Financial services"
        HEALTHCARE = "healthcare", "Healthcare"
        CHILDRENS_MEDIA = "childrens_media", "Children's media"

    tenant = models.ForeignKey("tenants.Tenant", on_delete=models.CASCADE, related_name="safety_configs")
    version = models.PositiveIntegerField()
    preset = models.CharField(max_length=32, choices=Preset.choices, default=Preset.GENERAL)
    # category -> severity threshold (2, 4 or 6): block at or above, on Azure AI Content Safety's scale.
    prompt_thresholds = models.JSONField()
    output_thresholds = models.JSONField()
    # [{"id", "text", "regex", "description"}]: plain terms and regular expressions.
    blocklist = models.JSONField(default=list, blank=True)
    prompt_shield = models.BooleanField(default=True, help_text="Prompt-attack (jailbreak) detection")
    provider_moderation = models.CharField(
        max_length=8,
        choices=[(m.value, m.value) for m in ProviderModeration],
        default=ProviderModeration.AUTO.value,
        help_text="The image API's own `moderation` parameter",
    )
    review_rule = models.CharField(
        max_length=16, choices=[(r.value, r.value) for r in ReviewRule], default=ReviewRule.FLAGGED_ONLY.value
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta(TenantOwnedModel.Meta):
        ordering = ["-version"]
        constraints = [models.UniqueConstraint(fields=["tenant", "version"], name="safety_config_unique_version")]

    def __str__(self) -> str:
        return f"{self.tenant_id} safety configuration v{self.version} ({self.preset})"

    def as_policy(self) -> SafetyPolicy:
        return SafetyPolicy(
            version=self.version,
            preset=self.preset,
            prompt_thresholds=dict(self.prompt_thresholds),
            output_thresholds=dict(self.output_thresholds),
            blocklist=tuple(BlocklistItem.from_dict(item) for item in self.blocklist),
            prompt_shield=self.prompt_shield,
            provider_moderation=self.provider_moderation,
            review_rule=self.review_rule,
            tenant_id=self.tenant_id,
        )
