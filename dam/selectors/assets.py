"""Reads for the asset library."""

from __future__ import annotations

from collections.abc import Callable

from django.db.models import Prefetch, QuerySet

from dam.models import Asset, AssetVersion, Collection, Rendition, VersionCheck
from tenants.models import Tenant


def assets_for_tenant(*, tenant: Tenant) -> QuerySet[Asset]:
    return (
        Asset.objects.for_tenant(tenant)
        .select_related("collection", "current_version")
        .prefetch_related(Prefetch("current_version__renditions", queryset=Rendition.unscoped.order_by("spec")))
    )


def collection_names(*, tenant: Tenant, ids: list[int]) -> dict[int, str]:
    return dict(Collection.objects.for_tenant(tenant).filter(pk__in=ids).values_list("pk", "name"))


def asset_versions(*, tenant: Tenant, asset: Asset) -> QuerySet[AssetVersion]:
    return (
        AssetVersion.objects.for_tenant(tenant)
        .filter(asset=asset)
        .prefetch_related(Prefetch("renditions", queryset=Rendition.unscoped.order_by("spec")))
        .order_by("number")
    )


# keys -> the ones rows of a higher layer still point at (a generation job's recorded provider responses)
BlobHolder = Callable[[list[str]], set[str]]
_blob_holders: list[BlobHolder] = []


def install_blob_holder(holder: BlobHolder) -> None:
    """Installed by an app that keeps blob keys in its own rows (generation), which dam may not import."""
    if holder not in _blob_holders:
        _blob_holders.append(holder)


def storage_keys_in_use(*, keys: list[str]) -> set[str]:
    """Which of these blob keys some version, rendition or check's evidence, or an installed holder, points at
    (any tenant: housekeeping). A charged provider response's images are held before their versions exist: removing
    them would leave the job nothing to finish from but a second, paid call."""
    used = set(AssetVersion.unscoped.filter(storage_key__in=keys).values_list("storage_key", flat=True))
    used |= set(Rendition.unscoped.filter(storage_key__in=keys).values_list("storage_key", flat=True))
    used |= set(VersionCheck.unscoped.filter(evidence_key__in=keys).values_list("evidence_key", flat=True))
    for holder in _blob_holders:
        used |= holder([key for key in keys if key not in used])
    return used


# A list page counts its rows up to this many and then says "10,000+": COUNT(*) over a big tenant reads every
# matching row (140-190 ms at a million assets or 120,000 versions in review, bench/data_scale.py), a capped
# count at most this many index entries. It is also the most a bulk operation takes at once
# (BULK_OPERATION_MAX_ASSETS by default), so "select all matching" above it is refused either way.
COUNT_CAP = 10_000


def count_capped(rows: QuerySet, *, cap: int = COUNT_CAP) -> int:
    """How many rows `rows` holds, counted up to `cap` + 1: more than `cap` means "more than `cap`".

    One statement, `SELECT COUNT(*) FROM (SELECT id ... LIMIT cap + 1)`: the list's ordering and annotations
    (a search rank) are left out, so the count reads ids only."""
    return rows.order_by().values("pk")[: cap + 1].count()
