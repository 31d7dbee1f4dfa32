"""What a brand tells the generator: its policy (versioned) and its placements."""

from __future__ import annotations

from decimal import Decimal

from django.conf import settings
from django.contrib.postgres.fields import ArrayField
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models

from tenants.scoping import TenantOwnedModel


class OutputFormat(models.TextChoices):
    PNG = "png", "PNG"
    JPEG = "jpeg", "JPEG"
    WEBP = "webp", "WebP"


class BrandLogo(TenantOwnedModel):
    """A logo image of a tenant, stored once and shared by every brand policy version that names it.

    Its own row, not a column of the policy: versions copy the policy row, and anything that reads a policy
    (a job's foreign key, the version list) would otherwise carry up to 2 MB of bytes it does not need.
    """

    class Format(models.TextChoices):
        PNG = "png", "PNG"
        JPEG = "jpeg", "JPEG"
        WEBP = "webp", "WebP"

    tenant = models.ForeignKey("tenants.Tenant", on_delete=models.CASCADE, related_name="brand_logos")
    sha256 = models.CharField(max_length=64)
    data = models.BinaryField()
    format = models.CharField(max_length=8, choices=Format.choices)
    width = models.PositiveIntegerField()
    height = models.PositiveIntegerField()
    size = models.PositiveIntegerField(help_text="bytes")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta(TenantOwnedModel.Meta):
        constraints = [models.UniqueConstraint(fields=["tenant", "sha256"], name="brand_logo_unique_sha256")]

    def __str__(self) -> str:
        return f"{self.format} logo {self.width}x{self.height} {self.sha256[:12]}"

    @property
    def content_type(self) -> str:
        return f"image/{self.format}"


class CopyMismatchAction(models.TextChoices):
    REVIEW = "review", "Send to review"
    BLOCK = "block", "Block"


def _range(low: str, high: str) -> list:
    return [MinValueValidator(Decimal(low)), MaxValueValidator(Decimal(high))]


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
    # Deterministic checks of generated versions (issue 18; dam/checks reads them).
    copy_check = models.BooleanField(default=True, help_text="Read the image's text and compare it with the copy")
    copy_mismatch_action = models.CharField(
        max_length=8, choices=CopyMismatchAction.choices, default=CopyMismatchAction.REVIEW
    )
    copy_near_cer = models.DecimalField(
        max_digits=4,
        decimal_places=3,
        default=Decimal("0.100"),
        validators=_range("0", "0.5"),
        help_text="Character error rate up to which read text counts as a near match (0-0.5)",
    )
    palette_max_delta_e = models.DecimalField(
        max_digits=4,
        decimal_places=1,
        default=Decimal("12.0"),
        validators=_range("1", "50"),
        help_text="CIEDE2000 distance within which a colour counts as a palette colour (1-50)",
    )
    palette_min_score = models.DecimalField(
        max_digits=4,
        decimal_places=3,
        default=Decimal("0.600"),
        validators=_range("0", "1"),
        help_text="Share of the image in palette colours needed to pass (0-1)",
    )
    legibility_min_contrast = models.DecimalField(
        max_digits=4,
        decimal_places=2,
        default=Decimal("4.50"),
        validators=_range("1", "21"),
        help_text="Lowest WCAG contrast ratio of the copy against its background (1-21; 4.5 is WCAG AA)",
    )
    # RESTRICT: a logo goes only with its tenant (whose deletion takes the policies too), never on its own.
    logo = models.ForeignKey(BrandLogo, null=True, blank=True, on_delete=models.RESTRICT, related_name="+")
    logo_min_width_share = models.DecimalField(
        max_digits=4,
        decimal_places=3,
        default=Decimal("0.050"),
        validators=_range("0.01", "1"),
        help_text="Smallest logo width as a share of the image width (0.01-1)",
    )
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
    min_text_height = models.PositiveSmallIntegerField(
        default=12,
        validators=[MinValueValidator(4), MaxValueValidator(200)],
        help_text="Smallest height of a line of copy in this placement's output, px (4-200)",
    )
    archived = models.BooleanField(default=False)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta(TenantOwnedModel.Meta):
        ordering = ["slug"]
        constraints = [models.UniqueConstraint(fields=["tenant", "slug"], name="placement_unique_slug")]

    def __str__(self) -> str:
        return f"{self.slug} {self.width}x{self.height} {self.output_format}"
