"""Pages of the asset browser beyond the grid: the asset page, version compare, and the admin-only
file views (thumbnails, originals, renditions) that check the viewer's tenant before reading bytes.

Every view is reached through `AssetAdmin.get_urls` (login and staff checks) and finds its rows
through the admin's tenant-scoped queryset, so another tenant's asset is a 404 like a missing one.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import PurePosixPath
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.core.exceptions import PermissionDenied
from django.db.models import Prefetch
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseNotModified
from django.template.response import TemplateResponse
from django.urls import NoReverseMatch, reverse
from django.utils import timezone
from django.utils.cache import patch_cache_control

from dam.admin.checks import checks_panel
from dam.admin.credentials import credentials_panel
from dam.admin.editing import edit_context
from dam.admin.related import VersionCost, asset_audit_events, version_costs, version_verdicts
from dam.blobs import blob_read
from dam.formats import FORMATS
from dam.lifecycle import VersionStatus
from dam.models import Asset, AssetVersion, Rendition, VersionCheck
from dam.thumbnails import THUMBNAIL_FORMAT, version_thumbnail
from tenants.admin.base import admin_tenant_context
from tenants.models import Scope
from tenants.numbers import is_digits

if TYPE_CHECKING:
    from dam.admin.assets import AssetAdmin

PRIVATE_CACHE_SECONDS = 3600


def _asset_or_404(model_admin: AssetAdmin, request: HttpRequest, asset_id: Any) -> Asset:
    if not model_admin.has_view_permission(request):
        raise PermissionDenied
    asset = model_admin.get_queryset(request).filter(pk=asset_id).first() if is_digits(str(asset_id)) else None
    if asset is None:
        raise Http404("no such asset")
    return asset


def _versions(asset: Asset) -> list[AssetVersion]:
    return list(
        asset.versions.select_related("parent", "created_by")
        .prefetch_related(Prefetch("renditions", queryset=Rendition.unscoped.order_by("spec")))
        .order_by("number")
    )


@dataclass(frozen=True)
class TimelineEntry:
    version: AssetVersion
    is_current: bool
    is_selected: bool
    origin: str  # "generated", "uploaded", "edit"
    branches: bool  # an edit of an older version than the one before it
    children: list[int]
    cost: VersionCost | None


def _timeline(
    asset: Asset, versions: list[AssetVersion], selected: AssetVersion, costs: dict[int, VersionCost]
) -> list[TimelineEntry]:
    children: dict[int, list[int]] = {}
    for version in versions:
        if version.parent_id:
            children.setdefault(version.parent_id, []).append(version.number)
    entries = []
    for index, version in enumerate(versions):
        previous = versions[index - 1] if index else None
        origin = "edit" if version.parent_id else asset.source
        entries.append(
            TimelineEntry(
                version=version,
                is_current=version.pk == asset.current_version_id,
                is_selected=version.pk == selected.pk,
                origin=origin,
                branches=bool(version.parent_id and previous and version.parent_id != previous.pk),
                children=children.get(version.pk, []),
                cost=costs.get(version.pk),
            )
        )
    return list(reversed(entries))  # newest on top


def _url_or_none(name: str, *args: Any) -> str | None:
    try:
        return reverse(name, args=args)
    except NoReverseMatch:
        return None


def _plan_summary(version: AssetVersion) -> dict[str, Any] | None:
    group = version.size_plan or {}
    if not group.get("size"):
        return None
    routing = group.get("routing") or {}
    value = routing.get("value")
    if isinstance(value, dict):
        value = f"{value.get('width')}x{value.get('height')}"
    return {
        "aspect": group.get("aspect"),
        "size": f"{group['size']['width']}x{group['size']['height']}",
        "routing": routing.get("kind", "auto") + (f" {value}" if value not in (None, "") else ""),
        "quality": group.get("quality"),
        "estimated_output_tokens": group.get("estimated_output_tokens"),
        "placements": [
            {
                "slug": p["slug"],
                "target": f"{p['target']['width']}x{p['target']['height']}",
                "order": p.get("order", "").replace("_", " "),
            }
            for p in group.get("placements", [])
        ],
        "warnings": [w.get("message") for w in group.get("warnings", [])],
    }


def asset_page(model_admin: AssetAdmin, request: HttpRequest, object_id: str) -> TemplateResponse:
    asset = _asset_or_404(model_admin, request, object_id)
    versions = _versions(asset)
    if not versions:
        raise Http404("the asset has no versions")
    by_number = {v.number: v for v in versions}
    requested = request.GET.get("v", "")
    selected = by_number.get(int(requested)) if is_digits(requested) else None
    selected = selected or next((v for v in versions if v.pk == asset.current_version_id), versions[-1])
    context = admin_tenant_context(request)
    costs = version_costs(asset=asset, versions=versions) if context.can(Scope.COSTS_READ) else {}
    edit_url = _url_or_none("admin:generation_job_generate") if context.can(Scope.JOBS_WRITE) else None
    compare_a = selected.parent.number if selected.parent_id else (versions[-2].number if len(versions) > 1 else None)
    # The placements' exact cuts first, then the derived presets (srcset sizes, fallbacks).
    renditions = sorted(selected.renditions.all(), key=lambda r: (not r.placement_slug, r.placement_slug, r.spec))
    page = {
        **model_admin.admin_site.each_context(request),
        "title": asset.title,
        "opts": model_admin.model._meta,
        "asset": asset,
        "versions": versions,
        "selected": selected,
        "renditions": renditions,
        "timeline": _timeline(asset, versions, selected, costs),
        "plan": _plan_summary(selected),
        "usage": selected.usage or {},
        "verdicts": version_verdicts(version=selected, show_terms=context.can(Scope.ADMIN)),
        "checks": checks_panel(selected),
        "credentials": credentials_panel(selected, renditions),
        "cost": costs.get(selected.pk),
        "show_costs": context.can(Scope.COSTS_READ),
        "audit_events": asset_audit_events(asset=asset, versions=versions) if context.can(Scope.ADMIN) else None,
        "job_url": _url_or_none("admin:generation_job_change", selected.job_id) if selected.job_id else None,
        "edit_url": f"{edit_url}?asset={asset.pk}&version={selected.number}" if edit_url else None,
        "compare_url": (
            reverse("admin:dam_asset_compare", args=[asset.pk]) + f"?a={compare_a}&b={selected.number}"
            if compare_a
            else None
        ),
        **edit_context(request, asset, selected),
    }
    request.current_app = model_admin.admin_site.name
    return TemplateResponse(request, "admin/dam/asset/detail.html", page)


COMPARED_FIELDS = (
    ("Status", lambda v: v.get_status_display()),
    ("Size", lambda v: f"{v.width}\u00d7{v.height}"),
    ("Format", lambda v: v.format.upper()),
    ("File size", lambda v: v.file_size),
    ("Locale", lambda v: v.locale or "—"),
    ("Edit of", lambda v: f"v{v.parent.number}" if v.parent_id else "—"),
    ("Job", lambda v: f"#{v.job_id}" if v.job_id else "—"),
    ("Output tokens", lambda v: (v.usage or {}).get("output_tokens", "—")),
    ("Created", lambda v: timezone.localtime(v.created_at).strftime("%Y-%m-%d %H:%M")),
    ("Created by", lambda v: v.created_by or "—"),
    ("Prompt", lambda v: v.compiled_prompt or "—"),
)


def asset_compare(model_admin: AssetAdmin, request: HttpRequest, asset_id: int) -> TemplateResponse:
    asset = _asset_or_404(model_admin, request, asset_id)
    versions = _versions(asset)
    by_number = {v.number: v for v in versions}

    def pick(name: str, default: AssetVersion) -> AssetVersion:
        value = request.GET.get(name, "")
        return by_number.get(int(value), default) if is_digits(value) else default

    right = pick("b", versions[-1])
    left = pick("a", right.parent if right.parent_id else versions[max(0, len(versions) - 2)])
    rows = []
    for label, read in COMPARED_FIELDS:
        a, b = read(left), read(right)
        rows.append({"label": label, "a": a, "b": b, "differs": str(a) != str(b), "is_size": label == "File size"})
    page = {
        **model_admin.admin_site.each_context(request),
        "title": f"Compare versions of {asset.title}",
        "opts": model_admin.model._meta,
        "asset": asset,
        "versions": versions,
        "left": left,
        "right": right,
        "rows": rows,
    }
    request.current_app = model_admin.admin_site.name
    return TemplateResponse(request, "admin/dam/asset/compare.html", page)


# --- files ---------------------------------------------------------------------------------


def _version_or_404(model_admin: AssetAdmin, request: HttpRequest, version_id: int) -> AssetVersion:
    if not model_admin.has_view_permission(request):
        raise Http404("no such version")
    version = (
        AssetVersion.unscoped.filter(pk=version_id, asset__in=model_admin.get_queryset(request).values("pk"))
        .prefetch_related("renditions")
        .first()
    )
    if version is None:
        raise Http404("no such version")
    return version


def _private(response: HttpResponse, etag: str) -> HttpResponse:
    response["ETag"] = f'"{etag}"'
    patch_cache_control(response, private=True, max_age=PRIVATE_CACHE_SECONDS)
    return response


def _not_modified(request: HttpRequest, etag: str) -> bool:
    return request.headers.get("If-None-Match", "").strip('"') == etag


def version_thumbnail_view(model_admin: AssetAdmin, request: HttpRequest, version_id: int) -> HttpResponse:
    version = _version_or_404(model_admin, request, version_id)
    widths = settings.UI_THUMBNAIL_WIDTHS
    requested = request.GET.get("w", "")
    wanted = int(requested) if is_digits(requested) else widths[2]
    # Only the configured widths: an arbitrary width per request would be an unbounded cache.
    width = next((w for w in widths if w >= wanted), widths[-1])
    data, etag = version_thumbnail(version=version, width=width)
    if _not_modified(request, etag):
        return HttpResponseNotModified()
    return _private(HttpResponse(data, content_type=FORMATS[THUMBNAIL_FORMAT].content_type), etag)


def _file_response(request: HttpRequest, *, key: str, sha256: str, image_format: str, name: str) -> HttpResponse:
    if _not_modified(request, sha256):
        return HttpResponseNotModified()
    stored = FORMATS.get(image_format)
    content_type, extension = (stored.content_type, stored.extension) if stored else ("application/octet-stream", "bin")
    response = HttpResponse(blob_read(key), content_type=content_type)
    disposition = "attachment" if request.GET.get("download") else "inline"
    response["Content-Disposition"] = f'{disposition}; filename="{name}.{extension}"'
    return _private(response, sha256)


def version_file_view(model_admin: AssetAdmin, request: HttpRequest, version_id: int) -> HttpResponse:
    version = _version_or_404(model_admin, request, version_id)
    return _file_response(
        request,
        key=version.storage_key,
        sha256=version.sha256,
        image_format=version.format,
        name=f"asset-{version.asset_id}-v{version.number}",
    )


def rendition_file_view(model_admin: AssetAdmin, request: HttpRequest, rendition_id: int) -> HttpResponse:
    if not model_admin.has_view_permission(request):
        raise Http404("no such rendition")
    assets = model_admin.get_queryset(request).values("pk")
    rendition = Rendition.unscoped.filter(pk=rendition_id, version__asset__in=assets).select_related("version").first()
    if rendition is None:
        raise Http404("no such rendition")
    label = rendition.placement_slug or rendition.spec.replace("|", "_").replace(":", "-")
    return _file_response(
        request,
        key=rendition.storage_key,
        sha256=rendition.sha256,
        image_format=rendition.format,
        name=f"asset-{rendition.version.asset_id}-v{rendition.version.number}-{label}",
    )


def check_evidence_view(model_admin: AssetAdmin, request: HttpRequest, check_id: int) -> HttpResponse:
    """The picture of a check's evidence (boxes drawn on the version). Never for a blocked version: the picture
    is the blocked image itself."""
    if not model_admin.has_view_permission(request):
        raise Http404("no such check")
    assets = model_admin.get_queryset(request).values("pk")
    check = (
        VersionCheck.unscoped.filter(pk=check_id, version__asset__in=assets)
        .exclude(evidence_key="")
        .exclude(version__status=VersionStatus.BLOCKED)
        .select_related("version")
        .first()
    )
    if check is None:
        raise Http404("no such check")
    label = f"{check.kind}-{check.placement}" if check.placement else check.kind
    return _file_response(
        request,
        key=check.evidence_key,
        # Evidence blobs are content-addressed (dam.blobs.blob_key): the key's name is the picture's SHA-256.
        sha256=PurePosixPath(check.evidence_key).stem,
        image_format="png",
        name=f"asset-{check.version.asset_id}-v{check.version.number}-{label}-evidence",
    )
