"""What a brand tells the generator: its policy (versioned) and its placements."""

from __future__ import annotations

from django.conf import settings
from django.contrib.postgres.fields import ArrayField
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models

from tenants.scoping import TenantOwnedModel


class OutputFormat(models.TextChoices):
    PNG = "png", "PNG"
    JPEG = "jpeg", "JPEG"
    WEBP = "webp", "WebP"


class BrandPolicy(TenantOwnedModel):
    """One immutable version of a tenant's brand policy; the highest version is current.

    Jobs keep a foreign key to the exact version they compiled their prompt from.
    """

    class Quality(models.TextChoices):
        LOW = "low", "Low"
        MEDIUM = "medium", "Medium"
        HIGH = "high", "High"

    tenant = models.ForeignKey("tenants.Tenant", on_delete=models.CASCADE, related_name="brand_policies")
    version = models.PositiveIntegerField()
    style_guide = models.TextField(blank=True, help_text="Composed into every prompt, before the request")
    banned_terms = ArrayField(models.CharField(max_length=100), default=list, blank=True)
    palette = ArrayField(models.CharField(max_length=7), default=list, blank=True, help_text="#RRGGBB colours")
    default_quality = models.CharField(max_length=8, choices=Quality.choices, default=Quality.HIGH)
    default_output_format = models.CharField(max_length=8, choices=OutputFormat.choices, default=OutputFormat.PNG)
    default_locales = ArrayField(models.CharField(max_length=16), default=list, blank=True)
    review_required = models.BooleanField(default=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta(TenantOwnedModel.Meta):
        ordering = ["-version"]
        verbose_name_plural = "brand policies"
        constraints = [models.UniqueConstraint(fields=["tenant", "version"], name="brand_policy_unique_version")]

    def __str__(self) -> str:
        return f"{self.tenant_id} brand policy v{self.version}"


class Placement(TenantOwnedModel):
    """A named output format of the tenant (a storefront slot): exact pixels and encoding."""

    tenant = models.ForeignKey("tenants.Tenant", on_delete=models.CASCADE, related_name="placements")
    slug = models.SlugField(max_length=63)
    name = models.CharField(max_length=100, blank=True)
    width = models.PositiveIntegerField(validators=[MinValueValidator(16), MaxValueValidator(16384)])
    height = models.PositiveIntegerField(validators=[MinValueValidator(16), MaxValueValidator(16384)])
    output_format = models.CharField(max_length=8, choices=OutputFormat.choices, default=OutputFormat.JPEG)
    compression = models.PositiveSmallIntegerField(
        default=85, validators=[MaxValueValidator(100)], help_text="0-100; quality for JPEG/WebP"
    )
    archived = models.BooleanField(default=False)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta(TenantOwnedModel.Meta):
        ordering = ["slug"]
        constraints = [models.UniqueConstraint(fields=["tenant", "slug"], name="placement_unique_slug")]

    def __str__(self) -> str:
        return f"{self.slug} {self.width}x{self.height} {self.output_format}"
