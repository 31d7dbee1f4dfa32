"""Bulk operations in the staff UI: the recent ones of the tenant, and one operation's page, whose progress htmx
polls until it is done and which then shows the report (changed, skipped with reasons).

Started by the asset browser's bulk bar (`dam.admin.editing.asset_bulk`) for a selection larger than
BULK_INLINE_MAX, through the API's service (`dam.services.bulk.bulk_operation_start`).
"""

from __future__ import annotations

from collections import defaultdict
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse

from dam.models import BulkOperation
from dam.selectors.bulk import bulk_operations_recent
from tenants.admin.base import require_scope
from tenants.models import Scope, Tenant

if TYPE_CHECKING:
    from dam.admin.assets import AssetAdmin

POLL_SECONDS = 1
# Skipped assets named one by one per reason on the report; the rest are counted.
NAMED_SKIPS = 50


def _tenant(request: HttpRequest) -> Tenant:
    context = require_scope(request, Scope.ASSETS_WRITE)
    if context.tenant is None:
        raise PermissionDenied("choose a tenant first")
    return context.tenant


def _operation(request: HttpRequest, operation_id: int) -> BulkOperation:
    rows = BulkOperation.objects.for_tenant(_tenant(request)).select_related("requested_by").defer("asset_ids")
    return get_object_or_404(rows, pk=operation_id)


def skips_by_reason(operation: BulkOperation) -> list[dict[str, Any]]:
    """The skipped assets grouped by reason, most frequent first, each with up to NAMED_SKIPS named."""
    groups: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for skip in operation.skipped:
        groups[skip.get("reason", "")].append(skip)
    return [
        {"reason": reason, "count": len(items), "named": items[:NAMED_SKIPS], "more": max(0, len(items) - NAMED_SKIPS)}
        for reason, items in sorted(groups.items(), key=lambda pair: -len(pair[1]))
    ]


def _row_context(operation: BulkOperation) -> dict[str, Any]:
    return {
        "operation": operation,
        "poll_seconds": POLL_SECONDS,
        "skip_groups": skips_by_reason(operation) if operation.terminal else [],
    }


def bulk_operations_view(model_admin: AssetAdmin, request: HttpRequest) -> HttpResponse:
    tenant = _tenant(request)
    context = {
        **model_admin.admin_site.each_context(request),
        "title": "Bulk operations",
        "operations": list(bulk_operations_recent(tenant=tenant)),
        "poll_seconds": POLL_SECONDS,
        "inline_max": settings.BULK_INLINE_MAX,
    }
    return TemplateResponse(request, "admin/dam/bulk_operations.html", context)


def bulk_operation_view(model_admin: AssetAdmin, request: HttpRequest, operation_id: int) -> HttpResponse:
    operation = _operation(request, operation_id)
    context = {
        **model_admin.admin_site.each_context(request),
        "title": f"Bulk operation {operation.pk}",
        **_row_context(operation),
    }
    return TemplateResponse(request, "admin/dam/bulk_operation.html", context)


def bulk_operation_progress_view(model_admin: AssetAdmin, request: HttpRequest, operation_id: int) -> HttpResponse:
    """The operation's panel, polled by htmx until it is done or failed."""
    return TemplateResponse(
        request, "admin/dam/bulk_operation_row.html", _row_context(_operation(request, operation_id))
    )
