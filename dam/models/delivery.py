"""Storefront delivery: publish windows of versions and each tenant's delivery policy."""

from __future__ import annotations

from django.db import models
from django.db.models import Q

from tenants.scoping import TenantOwnedModel


class PublishWindow(TenantOwnedModel):
    """Rights on a version: outside [available_from, available_until) it is never served.

    A version without a window is available as soon as it is approved. Kept beside the
    version (one row, optional) so the library's own tables stay untouched.
    """

    tenant = models.ForeignKey("tenants.Tenant", on_delete=models.CASCADE, related_name="+")
    version = models.OneToOneField("dam.AssetVersion", on_delete=models.CASCADE, related_name="publish_window")
    available_from = models.DateTimeField(null=True, blank=True)
    available_until = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta(TenantOwnedModel.Meta):
        constraints = [
            models.CheckConstraint(
                condition=Q(available_from__isnull=True)
                | Q(available_until__isnull=True)
                | Q(available_from__lt=models.F("available_until")),
                name="publish_window_from_before_until",
            )
        ]
        indexes = [
            # The tenant's next window boundary (dam.delivery.http_cache.next_window_boundary): one index probe
            # each, however many windows the tenant has.
            models.Index(fields=["tenant", "available_from"], name="publish_window_opens"),
            models.Index(fields=["tenant", "available_until"], name="publish_window_closes"),
        ]

    def __str__(self) -> str:
        return f"{self.version_id}: {self.available_from or '…'} to {self.available_until or '…'}"


class TenantDelivery(TenantOwnedModel):
    """How a tenant's approved images reach the public; no row means the defaults (public URLs)."""

    tenant = models.OneToOneField("tenants.Tenant", on_delete=models.CASCADE, related_name="delivery")
    # Private delivery: every byte URL must carry a valid, unexpired signature.
    signed_urls_required = models.BooleanField(default=False)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta(TenantOwnedModel.Meta):
        verbose_name_plural = "tenant delivery settings"

    def __str__(self) -> str:
        return f"{self.tenant_id}: {'signed' if self.signed_urls_required else 'public'}"
