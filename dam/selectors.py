"""Reads for the asset library."""

from __future__ import annotations

from django.db.models import Prefetch, QuerySet

from dam.models import Asset, AssetVersion, Rendition
from tenants.models import Tenant


def assets_for_tenant(*, tenant: Tenant) -> QuerySet[Asset]:
    return (
        Asset.objects.for_tenant(tenant)
        .select_related("collection", "current_version")
        .prefetch_related(Prefetch("current_version__renditions", queryset=Rendition.unscoped.order_by("spec")))
    )


def asset_versions(*, tenant: Tenant, asset: Asset) -> QuerySet[AssetVersion]:
    return (
        AssetVersion.objects.for_tenant(tenant)
        .filter(asset=asset)
        .prefetch_related(Prefetch("renditions", queryset=Rendition.unscoped.order_by("spec")))
        .order_by("number")
    )


def storage_keys_in_use(*, keys: list[str]) -> set[str]:
    """Which of these blob keys some version or rendition points at (any tenant: housekeeping)."""
    used = set(AssetVersion.unscoped.filter(storage_key__in=keys).values_list("storage_key", flat=True))
    used |= set(Rendition.unscoped.filter(storage_key__in=keys).values_list("storage_key", flat=True))
    return used
