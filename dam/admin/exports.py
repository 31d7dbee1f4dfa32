"""Exports page: the tenant's hand-off exports with live progress (htmx polls each running one) and their
downloads; and the endpoint the asset browser's bulk bar posts a selection to (`admin:dam_export_create`).

Every write is the API's service (`dam.services.exports.export_create`), so the same selection rules, the
same audit event and the same background build apply.
"""

from __future__ import annotations

from django.contrib import messages
from django.contrib.admin import AdminSite
from django.core.exceptions import PermissionDenied
from django.http import FileResponse, HttpRequest, HttpResponse, HttpResponseNotAllowed, HttpResponseRedirect, QueryDict
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import reverse

from dam.models import Export
from dam.selectors.search import AssetFilters, assets_search
from dam.services.exports import EXPORT_MAX_VERSIONS, FILTER_KEYS, export_create, export_open
from tenants.admin.base import require_scope
from tenants.audit import Actor, RequestOrigin
from tenants.errors import ServiceError
from tenants.models import Scope, Tenant

RECENT_EXPORTS = 50
POLL_SECONDS = 1
LIST_URL = "admin:dam_export_changelist"
ID_FIELDS = ("version_ids", "asset_ids")


def _tenant(request: HttpRequest) -> Tenant:
    context = require_scope(request, Scope.ASSETS_READ)
    if context.tenant is None:
        raise PermissionDenied("choose a tenant first")
    return context.tenant


def _ids(request: HttpRequest, name: str) -> list[int] | str | None:
    """Ids from repeated fields (`version_ids=1&version_ids=2`) or one comma-separated field; the raw text
    when one is not a number (the service names the field)."""
    raw = [part.strip() for value in request.POST.getlist(name) for part in value.split(",") if part.strip()]
    if not raw:
        return None
    return [int(part) for part in raw] if all(part.isascii() and part.isdigit() for part in raw) else ",".join(raw)


def _selection(request: HttpRequest, tenant: Tenant) -> dict:
    selection: dict = {name: ids for name in ID_FIELDS if (ids := _ids(request, name)) is not None}
    # The asset browser's bulk bar as it is: its checked assets (`ids`), or with `all=1` every asset its
    # filters (`filters`, the grid's query string) match, found by the grid's own selector.
    if request.POST.get("all") == "1":
        filters = AssetFilters.from_query_params(QueryDict(request.POST.get("filters", "")))
        matching = assets_search(tenant=tenant, filters=filters).values_list("pk", flat=True)
        selection["asset_ids"] = list(matching[: EXPORT_MAX_VERSIONS + 1])
    elif "asset_ids" not in selection and (ids := _ids(request, "ids")) is not None:
        selection["asset_ids"] = ids
    for name in FILTER_KEYS:
        if name in ID_FIELDS or not (value := request.POST.get(name, "").strip()):
            continue
        selection[name] = int(value) if name == "campaign_id" and value.isdigit() else value
    if "include_originals" in request.POST:
        selection["include_originals"] = request.POST["include_originals"] not in ("", "0", "false", "off")
    return selection


def exports_view(site: AdminSite, request: HttpRequest) -> HttpResponse:
    tenant = _tenant(request)
    exports = list(Export.objects.for_tenant(tenant).select_related("requested_by").order_by("-id")[:RECENT_EXPORTS])
    request.current_app = site.name
    context = {
        **site.each_context(request),
        "title": "Exports",
        "exports": exports,
        "poll_seconds": POLL_SECONDS,
        "highlight": request.GET.get("export", ""),
    }
    return TemplateResponse(request, "admin/dam/exports.html", context)


def export_create_view(site: AdminSite, request: HttpRequest) -> HttpResponse:
    """POST a selection: version_ids, asset_ids (or the bulk bar's `ids`, or `all=1` with its `filters`), or
    the filter fields (collection, locale, placement, campaign_id, status); ids repeated or comma-separated.
    The export is queued and the exports page shows its progress; a refused selection goes back to `next`."""
    tenant = _tenant(request)
    if request.method != "POST":
        return HttpResponseNotAllowed(["POST"])
    try:
        export = export_create(
            tenant=tenant,
            selection=_selection(request, tenant),
            requested_by=request.user,
            delivery_origin=request.build_absolute_uri("/"),
            actor=Actor.for_user(request.user),
            origin=RequestOrigin.of(request),
        )
    except ServiceError as refusal:
        messages.error(request, f"Nothing exported: {refusal.field.replace('_', ' ')}: {refusal.message}.")
        back = request.POST.get("next", "")
        return HttpResponseRedirect(back if back.startswith("/") and not back.startswith("//") else reverse(LIST_URL))
    messages.success(
        request, f"Export {export.pk} queued: {len(export.version_ids)} versions, {export.files_total} files."
    )
    return HttpResponseRedirect(f"{reverse(LIST_URL)}?export={export.pk}")


def export_progress_view(site: AdminSite, request: HttpRequest, export_id: int) -> HttpResponse:
    """One export's row, polled by htmx until it is done or failed."""
    tenant = _tenant(request)
    export = get_object_or_404(Export.objects.for_tenant(tenant).select_related("requested_by"), pk=export_id)
    return TemplateResponse(request, "admin/dam/export_row.html", {"export": export, "poll_seconds": POLL_SECONDS})


def export_download_view(site: AdminSite, request: HttpRequest, export_id: int) -> HttpResponse:
    tenant = _tenant(request)
    export = get_object_or_404(Export.objects.for_tenant(tenant), pk=export_id)
    if export.state != Export.State.DONE:
        messages.error(request, f"Export {export.pk} is {export.get_state_display().lower()}, not ready to download.")
        return HttpResponseRedirect(reverse(LIST_URL))
    response = FileResponse(
        export_open(export), as_attachment=True, filename=export.filename, content_type="application/zip"
    )
    response["Cache-Control"] = "private, no-store"
    return response
