"""The campaign page: the market x placement grid with live progress, compare across markets, and the grid's
bulk actions (run, approve, export), each one call of the service the API uses for the same thing."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.contrib import admin, messages
from django.core.exceptions import ValidationError
from django.http import (
    Http404,
    HttpRequest,
    HttpResponse,
    HttpResponseNotAllowed,
    HttpResponseNotModified,
    HttpResponseRedirect,
)
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils.cache import patch_cache_control

from dam.admin.review import bulk_report_messages
from dam.formats import FORMATS
from dam.models import Rendition
from dam.services.exports import export_create
from dam.services.review import MAX_BULK_VERSIONS, Reviewer, version_publish, version_reject, versions_review_bulk
from dam.thumbnails import THUMBNAIL_FORMAT, rendition_thumbnail
from generation.models import Campaign, CellStatus
from generation.selectors.campaigns import RERUNNABLE, campaign_cells, campaigns_for_tenant
from generation.selectors.campaigns import campaign_grid as grid_of
from generation.services.campaigns import campaign_run
from tenants.admin.base import admin_tenant_context, require_scope
from tenants.audit import Actor, RequestOrigin
from tenants.errors import ServiceError
from tenants.models import Scope, Tenant
from tenants.numbers import is_digits

if TYPE_CHECKING:
    from generation.admin.campaigns import CampaignAdmin

# The services' field names in the form's words.
FIELD_WORDS = {
    "name": "Name",
    "brief": "Brief",
    "collection": "Collection",
    "markets": "Markets",
    "placements": "Placements",
    "creatives": "Creatives",
    "quality": "Quality",
    "routing": "Routing",
    "deadline": "Deadline",
    "archived": "Archived",
    "non_field_errors": "Campaign",
}


def page_context(model_admin: admin.ModelAdmin, request: HttpRequest, **context: Any) -> dict[str, Any]:
    request.current_app = model_admin.admin_site.name
    return {**model_admin.admin_site.each_context(request), "opts": model_admin.model._meta, **context}


def campaign_or_404(request: HttpRequest, campaign_id: Any, *, scope: str) -> tuple[Campaign, Tenant]:
    """The campaign of the staff member's current tenant: another tenant's is a 404, as a missing one."""
    context = require_scope(request, scope)
    if context.tenant is None or not is_digits(str(campaign_id)):
        raise Http404("no such campaign")
    campaign = campaigns_for_tenant(tenant=context.tenant).filter(pk=int(campaign_id)).first()
    if campaign is None:
        raise Http404("no such campaign")
    return campaign, context.tenant


STATUS_ORDER = [status.value for status in CellStatus]
POLL_SECONDS = 2
THUMBNAIL_WIDTH = 320
PRIVATE_CACHE_SECONDS = 3600
# The cells a person decides one by one on the grid: rejecting needs a version someone can still stop,
# publishing an approved one.
REJECTABLE = frozenset({CellStatus.NEEDS_REVIEW, CellStatus.APPROVED})
PUBLISHABLE = frozenset({CellStatus.APPROVED})


def _count(number: int, word: str) -> str:
    return f"{number} {word}{'' if number == 1 else 's'}"


def _status_words(status: str) -> str:
    return CellStatus(status).label if status in STATUS_ORDER else status


def grid_context(request: HttpRequest, campaign: Any) -> dict[str, Any]:
    """The grid as the template draws it: one row per market, one column per placement, in each cell the
    creatives; cells outside the status filter are drawn empty so the rows and columns keep their places."""
    context = admin_tenant_context(request)
    grid = grid_of(campaign=campaign)
    wanted = request.GET.get("status", "")
    if wanted not in STATUS_ORDER:
        wanted = ""
    placements = grid["placements"]
    per_place = len(grid["creatives"])
    names = {c["key"]: c["name"] for c in grid["creatives"]}
    rows = []
    for market, row in zip(grid["markets"], grid["rows"], strict=True):
        columns = []
        for index, placement in enumerate(placements):
            cells = row["cells"][index * per_place : (index + 1) * per_place]
            for cell in cells:
                cell["creative_name"] = names.get(cell["creative"], cell["creative"])
                cell["status_words"] = _status_words(cell["status"])
                cell["shown"] = not wanted or cell["status"] == wanted
                cell["rerunnable"] = cell["status"] in RERUNNABLE
                cell["rejectable"] = bool(cell["version"]) and cell["status"] in REJECTABLE
                cell["publishable"] = bool(cell["version"]) and cell["status"] in PUBLISHABLE
            columns.append({"placement": placement, "cells": cells})
        rows.append({"market": market, "columns": columns})
    generating = grid["counts"].get(CellStatus.GENERATING, 0)
    # Versions whose copy is still being read back: the grid keeps polling so their verdicts appear live.
    checking = sum(
        1 for row in grid["rows"] for cell in row["cells"] if cell["checks"] and cell["checks"]["state"] == "pending"
    )
    return {
        "campaign": campaign,
        "grid": grid,
        "rows": rows,
        "placements": placements,
        "counts": [(s, _status_words(s), grid["counts"].get(s, 0)) for s in STATUS_ORDER if grid["counts"].get(s)],
        "total": sum(grid["counts"].values()),
        "status_filter": wanted,
        "statuses": [(s, _status_words(s)) for s in STATUS_ORDER],
        "generating": generating,
        "checking": checking,
        "poll_seconds": POLL_SECONDS,
        "thumbnail_width": THUMBNAIL_WIDTH,
        "can_run": context.can(Scope.JOBS_WRITE) and not campaign.archived,
        "can_review": context.can(Scope.REVIEWS_WRITE),
        "can_export": context.can(Scope.ASSETS_READ),
        "can_see_costs": context.can(Scope.COSTS_READ),
    }


def campaign_page(model_admin: CampaignAdmin, request: HttpRequest, campaign_id: int) -> TemplateResponse:
    campaign, _ = campaign_or_404(request, campaign_id, scope=Scope.JOBS_READ)
    page = page_context(model_admin, request, title=campaign.name, **grid_context(request, campaign))
    return TemplateResponse(request, "admin/generation/campaign/detail.html", page)


def grid_view(model_admin: CampaignAdmin, request: HttpRequest, campaign_id: int) -> TemplateResponse:
    """The grid region alone: what the page's htmx polling swaps in while cells generate."""
    campaign, _ = campaign_or_404(request, campaign_id, scope=Scope.JOBS_READ)
    return TemplateResponse(request, "admin/generation/campaign/grid.html", grid_context(request, campaign))


def compare_view(model_admin: CampaignAdmin, request: HttpRequest, campaign_id: int) -> TemplateResponse:
    """One placement, every market side by side, creative by creative: what reviewers check for consistency."""
    campaign, _ = campaign_or_404(request, campaign_id, scope=Scope.JOBS_READ)
    context = grid_context(request, campaign)
    slugs = [p["slug"] for p in context["placements"]]
    chosen = request.GET.get("placement", "")
    if chosen not in slugs:
        chosen = slugs[0] if slugs else ""
    index = slugs.index(chosen) if chosen else 0
    creatives = []
    for creative_index, creative in enumerate(context["grid"]["creatives"]):
        creatives.append(
            {
                "creative": creative,
                "markets": [
                    (row["market"], row["columns"][index]["cells"][creative_index])
                    for row in context["rows"]
                    if row["columns"]
                ],
            }
        )
    placement = context["placements"][index] if context["placements"] else None
    page = page_context(
        model_admin,
        request,
        title=f"{campaign.name}: compare markets",
        campaign=campaign,
        placements=context["placements"],
        placement=placement,
        creatives=creatives,
        thumbnail_width=THUMBNAIL_WIDTH * 2,
    )
    return TemplateResponse(request, "admin/generation/campaign/compare.html", page)


def _back(campaign_id: int, request: HttpRequest) -> HttpResponseRedirect:
    url = reverse("admin:generation_campaign_change", args=[campaign_id])
    status = request.POST.get("status", "")
    return HttpResponseRedirect(f"{url}?status={status}" if status in STATUS_ORDER else url)


def _scope_of(post: Any) -> dict[str, Any]:
    """The run's scope as the service takes it, from the button pressed: all, a row, a column or one cell."""
    scope = post.get("scope", "all")
    if scope == "row":
        return {"scope": "row", "locale": post.get("locale", "")}
    if scope == "column":
        return {"scope": "column", "placement": post.get("placement", "")}
    if scope == "cell":
        cell = {k: post.get(k, "") for k in ("creative", "locale", "placement")}
        return {"scope": "cells", "cells": [cell]}
    return {"scope": "all"}


def _scope_words(post: Any) -> str:
    scope = post.get("scope", "all")
    if scope == "row":
        return f"market {post.get('locale', '')}"
    if scope == "column":
        return f"placement {post.get('placement', '')}"
    if scope == "cell":
        return f"cell {post.get('creative', '')} / {post.get('locale', '')} / {post.get('placement', '')}"
    return "the whole campaign"


def run_view(model_admin: CampaignAdmin, request: HttpRequest, campaign_id: int) -> HttpResponse:
    campaign, _ = campaign_or_404(request, campaign_id, scope=Scope.JOBS_WRITE)
    if request.method != "POST":
        return HttpResponseNotAllowed(["POST"])
    where = _scope_words(request.POST)
    try:
        result = campaign_run(
            campaign=campaign,
            requested_by=request.user,
            origin=RequestOrigin.of(request),
            **_scope_of(request.POST),
        )
    except ServiceError as exc:
        words = FIELD_WORDS.get((exc.field or "").split(".")[0], "")
        messages.error(request, f"Nothing was run for {where}: {words + ': ' if words else ''}{exc.message}")
        return _back(campaign.pk, request)
    except ValidationError as exc:
        messages.error(request, f"Nothing was run for {where}: {' '.join(exc.messages)}")
        return _back(campaign.pk, request)
    new = [job for _, job, created in result.submitted if created]
    replayed = len(result.submitted) - len(new)
    if result.submitted:
        cells = sum(len(planned.cells) for planned, _, _ in result.submitted)
        text = f"Submitted {_count(len(new), 'job')} for {_count(cells, 'cell')} of {where}."
        if replayed:
            text += f" {replayed} job{'s were' if replayed != 1 else ' was'} already submitted by an earlier click."
        messages.success(request, text)
    else:
        waiting = len(result.plan.skipped)
        messages.info(
            request,
            f"No job submitted for {where}: "
            + (
                f"its {waiting} cell{'s' if waiting != 1 else ''} already have an image or are generating "
                "(only planned, failed and rejected cells run)."
                if waiting
                else "it has no cells."
            ),
        )
    for planned, refusal in result.refused:
        messages.warning(request, f"Creative {planned.creative} was not run: {refusal.message}")
    return _back(campaign.pk, request)


def review_view(model_admin: CampaignAdmin, request: HttpRequest, campaign_id: int) -> HttpResponse:
    """Approve (or publish) every waiting version of a row, a column or the whole campaign in one call."""
    campaign, tenant = campaign_or_404(request, campaign_id, scope=Scope.REVIEWS_WRITE)
    if request.method != "POST":
        return HttpResponseNotAllowed(["POST"])
    scope, locale, placement = (request.POST.get(k, "") for k in ("scope", "locale", "placement"))
    action = request.POST.get("action", "approve")
    waiting = CellStatus.APPROVED if action == "publish" else CellStatus.NEEDS_REVIEW
    ids = sorted(
        {
            cell["version"]
            for row in grid_of(campaign=campaign)["rows"]
            for cell in row["cells"]
            if cell["version"]
            and cell["status"] == waiting
            and (scope != "row" or cell["locale"] == locale)
            and (scope != "column" or cell["placement"] == placement)
        }
    )
    where = _scope_words(request.POST)
    if not ids:
        state = CellStatus(waiting).label.lower()
        messages.info(request, f"Nothing in {where} is waiting for that decision (no cell is {state}).")
        return _back(campaign.pk, request)
    try:
        report = versions_review_bulk(
            tenant=tenant,
            action=action,
            version_ids=ids[:MAX_BULK_VERSIONS],
            reviewer=Reviewer(user=request.user),
            origin=RequestOrigin.of(request),
        )
    except ServiceError as exc:
        messages.error(request, f"{exc.message[:1].upper()}{exc.message[1:]}. Nothing was changed.")
        return _back(campaign.pk, request)
    summary, lines = bulk_report_messages(tenant=tenant, report=report)
    (messages.success if report.done else messages.warning)(request, f"{where[:1].upper()}{where[1:]}: {summary}")
    for line in lines:
        messages.warning(request, line)
    return _back(campaign.pk, request)


def export_view(model_admin: CampaignAdmin, request: HttpRequest, campaign_id: int) -> HttpResponse:
    campaign, tenant = campaign_or_404(request, campaign_id, scope=Scope.ASSETS_READ)
    if request.method != "POST":
        return HttpResponseNotAllowed(["POST"])
    try:
        export = export_create(
            tenant=tenant,
            selection={"campaign_id": campaign.pk},
            requested_by=request.user,
            delivery_origin=request.build_absolute_uri("/"),
            actor=Actor.for_user(request.user),
            origin=RequestOrigin.of(request),
        )
    except (ServiceError, ValidationError) as exc:
        text = exc.message if isinstance(exc, ServiceError) else " ".join(exc.messages)
        messages.error(request, f"The campaign was not exported: {text}")
        return _back(campaign.pk, request)
    messages.success(request, f"Export #{export.pk} of “{campaign.name}” is being built; it appears here when ready.")
    return HttpResponseRedirect(reverse("admin:dam_export_changelist"))


def cell_review_view(model_admin: CampaignAdmin, request: HttpRequest, campaign_id: int) -> HttpResponse:
    """Reject (with a comment) or publish one cell's current version, through the review services."""
    campaign, _ = campaign_or_404(request, campaign_id, scope=Scope.REVIEWS_WRITE)
    if request.method != "POST":
        return HttpResponseNotAllowed(["POST"])
    action = request.POST.get("action", "")
    if action not in ("reject", "publish"):
        messages.error(request, "Choose whether to reject or publish the cell. Nothing was changed.")
        return _back(campaign.pk, request)
    key = tuple(request.POST.get(k, "") for k in ("creative", "locale", "placement"))
    where = f"cell {key[0]} / {key[1]} / {key[2]}"
    cell = campaign_cells(campaign=campaign).get(key)
    version = cell.current_version if cell else None
    if version is None:
        messages.error(request, f"The {where} has no version to decide on. Nothing was changed.")
        return _back(campaign.pk, request)
    comment = request.POST.get("comment", "")
    reviewer = Reviewer(user=request.user)
    try:
        if action == "reject":
            version_reject(version=version, reviewer=reviewer, comment=comment, origin=RequestOrigin.of(request))
        else:
            version_publish(version=version, reviewer=reviewer, comment=comment, origin=RequestOrigin.of(request))
    except ServiceError as exc:
        text = exc.message
        if exc.code == "invalid_transition":  # the service's status names, said in the grid's words
            allowed = "approved" if action == "publish" else "needing review or approved"
            text = f"only a version {allowed} can be {action}ed; its status is {_status_words(version.status).lower()}"
        messages.error(request, f"The {where} was not changed: {text}.")
        return _back(campaign.pk, request)
    except ValidationError as exc:
        reasons = exc.message_dict.get("comment") if hasattr(exc, "error_dict") else None
        text = "a rejection needs a comment saying why" if reasons and not comment.strip() else " ".join(exc.messages)
        messages.error(request, f"The {where} was not changed: {text}.")
        return _back(campaign.pk, request)
    if action == "reject":
        messages.success(request, f"Rejected version {version.number} of {where}; re-run it to make a new version.")
    else:
        messages.success(request, f"Published version {version.number} of {where}.")
    return _back(campaign.pk, request)


def cell_thumbnail_view(
    model_admin: CampaignAdmin, request: HttpRequest, campaign_id: int, rendition_id: int
) -> HttpResponse:
    """A cell's preview cut from its placement's rendition (the placement's own crop, not the original's
    framing), read from storage after checking the campaign is the viewer's tenant's: never a public URL."""
    campaign, tenant = campaign_or_404(request, campaign_id, scope=Scope.JOBS_READ)
    rendition = (
        Rendition.objects.for_tenant(tenant)
        .filter(pk=rendition_id, version__asset__campaign_id=campaign.pk)
        .only("id", "storage_key", "sha256")
        .first()
    )
    if rendition is None:
        raise Http404("no such rendition")
    widths = settings.UI_THUMBNAIL_WIDTHS
    requested = request.GET.get("w", "")
    wanted = int(requested) if is_digits(requested) else THUMBNAIL_WIDTH
    # Only the configured widths: an arbitrary width per request would be an unbounded cache.
    width = next((w for w in widths if w >= wanted), widths[-1])
    data, etag = rendition_thumbnail(rendition=rendition, width=width)
    if request.headers.get("If-None-Match", "").strip('"') == etag:
        return HttpResponseNotModified()
    response = HttpResponse(data, content_type=FORMATS[THUMBNAIL_FORMAT].content_type)
    response["ETag"] = f'"{etag}"'
    patch_cache_control(response, private=True, max_age=PRIVATE_CACHE_SECONDS)
    return response
