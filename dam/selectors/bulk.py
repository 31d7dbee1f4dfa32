"""Reads for bulk work: the assets a filter selects (the library search's own selector, every page of it) and the
tenant's recent bulk operations. Writes are `dam.services.bulk`."""

from __future__ import annotations

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db.models import QuerySet

from dam.models import BulkOperation
from dam.selectors.search import AssetFilters, assets_search
from tenants.models import Tenant

RECENT_OPERATIONS = 50


def bulk_selection(*, tenant: Tenant, filters: AssetFilters, field: str = "filter") -> list[int]:
    """The ids of the tenant's assets matching `filters`, at most BULK_OPERATION_MAX_ASSETS: more is a refusal
    naming `field`, never a silent cut (the caller would believe it changed everything it matched)."""
    limit = settings.BULK_OPERATION_MAX_ASSETS
    ids = list(assets_search(tenant=tenant, filters=filters).values_list("pk", flat=True)[: limit + 1])
    if len(ids) > limit:
        raise ValidationError({field: f"matches more than {limit:,} assets: narrow it"})
    return ids


def bulk_operations_recent(*, tenant: Tenant, limit: int = RECENT_OPERATIONS) -> QuerySet[BulkOperation]:
    """The tenant's newest bulk operations, without their (long) id lists."""
    return (
        BulkOperation.objects.for_tenant(tenant)
        .select_related("requested_by")
        .defer("asset_ids")
        .order_by("-id")[:limit]
    )
