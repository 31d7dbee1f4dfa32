"""The review board: versions to decide, filtered, grouped and paged, decided one by one or in bulk.

Reads through `dam.selectors.review.review_versions` (the selector of the bulk API's `filter`) and decides through
`version_approve` / `version_reject` / `version_publish` and `versions_review_bulk`, so four-eyes, transitions,
decision records, audit events and webhooks are the API's own. The page only shows the four-eyes rule ahead of
time; a bulk decision lists what it skipped and why, in the reviewer's words.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

from django.contrib import admin, messages
from django.contrib.admin import AdminSite
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import F
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseNotAllowed, HttpResponseRedirect, QueryDict
from django.template.response import TemplateResponse
from django.urls import reverse

from dam.admin.paging import CappedPaginator
from dam.lifecycle import VersionStatus
from dam.models import AssetVersion, ReviewDecision
from dam.selectors.review import (
    CHECKS_FILTERS,
    ReviewFilters,
    placement_names,
    review_campaign_labels,
    review_cards,
    review_filter_choices,
    review_versions,
)
from dam.services.review import (
    MAX_BULK_VERSIONS,
    BulkReviewReport,
    BulkSkip,
    FourEyesViolation,
    Reviewer,
    is_own_request,
    version_approve,
    version_publish,
    version_reject,
    versions_review_bulk,
)
from tenants.admin.base import TenantScopedAdmin, page_context, require_scope
from tenants.audit import RequestOrigin
from tenants.errors import ServiceError
from tenants.models import Scope, Tenant
from tenants.numbers import is_digits

PAGE_SIZE = 24
# The statuses a reviewer works on from the board (blocked versions are moderation's, never served).
BOARD_STATUSES = [VersionStatus.NEEDS_REVIEW, VersionStatus.APPROVED, VersionStatus.PUBLISHED, VersionStatus.REJECTED]
GROUPINGS = {"campaign": "Campaign", "job": "Job", "none": "No grouping"}
FILTER_FIELDS = ("campaign", "locale", "placement", "job", "collection", "status", "checks")


@dataclass(frozen=True)
class BoardItem:
    version: AssetVersion
    requested_by: str
    own_request: bool  # four-eyes: the viewer requested it (in person or through a key of a chain they started)
    newer_waiting: list[int]
    placements: list[str] = field(default_factory=list)  # the names of the placements it is cut for


@dataclass
class BoardGroup:
    key: Any
    label: str
    items: list[BoardItem]


@dataclass(frozen=True)
class BoardQuery:
    """The board's filters as the page's query string gives them, cleaned (a bad value is ignored, not a 500)."""

    values: dict[str, str]
    group: str

    @classmethod
    def of(cls, params: QueryDict) -> BoardQuery:
        values = {}
        for name in FILTER_FIELDS:
            value = (params.get(name) or "").strip()[:100]
            if name in ("campaign", "job") and not is_digits(value):
                value = ""
            if name == "status" and value not in BOARD_STATUSES:
                value = ""
            if name == "checks" and value not in CHECKS_FILTERS:
                value = ""
            if value and "\x00" not in value:
                values[name] = value
        group = params.get("group") or "campaign"
        return cls(values=values, group=group if group in GROUPINGS else "campaign")

    @property
    def status(self) -> str:
        return self.values.get("status") or VersionStatus.NEEDS_REVIEW

    def filters(self) -> ReviewFilters:
        v = self.values
        return ReviewFilters(
            statuses=(self.status,),
            campaign_id=int(v["campaign"]) if "campaign" in v else None,
            locale=v.get("locale", ""),
            placement=v.get("placement", ""),
            job_id=int(v["job"]) if "job" in v else None,
            collection=v.get("collection", ""),
            checks=v.get("checks", ""),
        )

    def query_string(self, **extra: Any) -> str:
        params = {**self.values, **({"group": self.group} if self.group != "campaign" else {}), **extra}
        return urlencode({k: v for k, v in params.items() if v not in ("", None)})


def _requester_label(version: AssetVersion) -> str:
    if version.created_by_key_id:
        person = version.created_by_person.get_username() if version.created_by_person_id else None
        # The person behind the key is who four-eyes compares: the reviewer sees them, not only the key.
        key = f"API key {version.created_by_key.prefix}…"
        return f"{key} for {person}" if person else key
    return version.created_by.get_username() if version.created_by_id else "system"


def board_items(*, tenant: Tenant, user: Any, versions: list[AssetVersion]) -> list[BoardItem]:
    """Cards for one page of versions: queries per page, not per card."""
    reviewer = Reviewer(user=user)
    own: dict[tuple[int | None, ...], bool] = {}  # one walk of a key chain per requester, not per version
    for v in versions:
        requester = (v.created_by_id, v.created_by_key_id, v.created_by_person_id)
        if requester not in own:
            own[requester] = is_own_request(version=v, reviewer=reviewer)
    waiting: dict[int, list[int]] = {}
    rows = AssetVersion.objects.for_tenant(tenant).filter(
        asset_id__in={v.asset_id for v in versions}, status=VersionStatus.NEEDS_REVIEW
    )
    for asset_id, number in rows.values_list("asset_id", "number"):
        waiting.setdefault(asset_id, []).append(number)
    names = placement_names(tenant=tenant)

    def placements_of(v: AssetVersion) -> list[str]:
        # What the asset was made for (the library's rule, dam.selectors.search): its placements; only an asset
        # that names none (an upload) shows the placement cuts it has. Up-front renditions of every placement of
        # the tenant would otherwise list placements a version was never meant for.
        rendered = (r.placement_slug for r in v.renditions.all() if r.placement_slug)
        slugs = dict.fromkeys(v.asset.placements or rendered)
        return [names.get(slug, slug) for slug in slugs]

    return [
        BoardItem(
            version=v,
            requested_by=_requester_label(v),
            own_request=own[(v.created_by_id, v.created_by_key_id, v.created_by_person_id)],
            newer_waiting=sorted(n for n in waiting.get(v.asset_id, []) if n > v.number),
            placements=placements_of(v),
        )
        for v in versions
    ]


def _grouped(*, tenant: Tenant, items: list[BoardItem], group: str) -> list[BoardGroup]:
    if group == "none":
        return [BoardGroup(None, "", items)] if items else []
    groups: list[BoardGroup] = []
    if group == "campaign":
        labels = review_campaign_labels(tenant=tenant, ids=[i.version.asset.campaign_id for i in items])
    for item in items:
        if group == "campaign":
            key = item.version.asset.campaign_id
            label = f"Campaign: {labels.get(key, f'#{key}')}" if key is not None else "Not in a campaign"
        else:
            key = item.version.job_id
            label = f"Job #{key}" if key is not None else "Uploads and edits (no job)"
        if not groups or groups[-1].key != key:
            groups.append(BoardGroup(key, label, []))
        groups[-1].items.append(item)
    return groups


def _ordered(versions, group: str):
    if group == "campaign":
        return versions.order_by(F("campaign_id").desc(nulls_last=True), "id")
    if group == "job":
        return versions.order_by(F("job_id").desc(nulls_last=True), "id")
    return versions.order_by("id")


def review_board_view(site: AdminSite, request: HttpRequest, *, status: int = 200) -> TemplateResponse:
    context = require_scope(request, Scope.REVIEWS_WRITE)
    if context.tenant is None:
        raise PermissionDenied("choose a tenant to review its queue")
    tenant = context.tenant
    query = BoardQuery.of(request.GET)
    versions = _ordered(review_versions(tenant=tenant, filters=query.filters()), query.group)
    # Counted up to a cap: "10,000+ versions waiting" (a COUNT of 120,000 versions in review took 190 ms).
    paginator = CappedPaginator(review_cards(versions), PAGE_SIZE)
    page = paginator.get_page(request.GET.get("page"))
    items = board_items(tenant=tenant, user=request.user, versions=list(page.object_list))
    choices = review_filter_choices(tenant=tenant)
    page_ctx = page_context(
        site,
        request,
        title="Review",
        items=items,
        groups=_grouped(tenant=tenant, items=items, group=query.group),
        total=paginator.count,
        total_label=paginator.count_label,
        page=page,
        page_range=list(paginator.get_elided_page_range(page.number, on_each_side=2, on_ends=1)),
        query=query,
        query_string=query.query_string(),
        status=query.status,
        status_label=VersionStatus(query.status).label,
        filtered=bool({k for k in query.values if k != "status"}),
        choices=choices,
        checks_choices=list(CHECKS_FILTERS.items()),
        status_choices=[(s, VersionStatus(s).label) for s in BOARD_STATUSES],
        groupings=list(GROUPINGS.items()),
        max_bulk=MAX_BULK_VERSIONS,
    )
    return TemplateResponse(request, "admin/dam/review_board.html", page_ctx, status=status)


def _board_url(query: BoardQuery | None = None, page: str = "") -> str:
    url = reverse("admin:governance_review_board")
    qs = query.query_string(page=page if is_digits(page) else "") if query else ""
    return f"{url}?{qs}" if qs else url


def review_decide_view(site: AdminSite, request: HttpRequest, version_id: int) -> HttpResponse:
    context = require_scope(request, Scope.REVIEWS_WRITE)
    if request.method != "POST":
        return HttpResponseNotAllowed(["POST"])
    if context.tenant is None:
        raise PermissionDenied("choose a tenant first")
    version = AssetVersion.objects.for_tenant(context.tenant).select_related("asset").filter(pk=version_id).first()
    if version is None:
        raise Http404("no such version")
    action = request.POST.get("action", "")
    comment = request.POST.get("comment", "")
    reviewer = Reviewer(user=request.user)
    origin = RequestOrigin.of(request)
    label = f"{version.asset.title} v{version.number}"
    try:
        if action == "approve":
            version_approve(
                version=version,
                reviewer=reviewer,
                comment=comment,
                approve_over_newer=request.POST.get("approve_over_newer") == "1",
                origin=origin,
            )
            if request.POST.get("publish") == "1":
                version_publish(version=version, reviewer=reviewer, comment=comment, origin=origin)
                messages.success(request, f"Approved and published {label}.")
            else:
                messages.success(request, f"Approved {label}.")
        elif action == "publish":
            version_publish(version=version, reviewer=reviewer, comment=comment, origin=origin)
            messages.success(request, f"Published {label}.")
        elif action == "reject":
            version_reject(version=version, reviewer=reviewer, comment=comment, origin=origin)
            messages.success(request, f"Rejected {label}.")
        else:
            messages.error(request, "Choose approve, publish or reject.")
    except FourEyesViolation as exc:
        # The page hides the button; a crafted POST still meets the service's refusal.
        messages.error(request, f"{label}: {exc.message}")
        return review_board_view(site, request, status=403)
    except ServiceError as exc:
        messages.error(request, f"{label}: {exc.message}")
    except ValidationError as exc:
        messages.error(request, f"{label}: " + "; ".join(exc.messages))
    return HttpResponseRedirect(_board_url(BoardQuery.of(request.POST), request.POST.get("page", "")))


# --- bulk ----------------------------------------------------------------------------------------

_DONE = {"approve": "Approved", "reject": "Rejected", "publish": "Published"}
# Why a version was skipped, as the reviewer says it (never the API's reason codes).
_SKIP_WORDS = {
    BulkSkip.FOUR_EYES: "You requested {them}, so another reviewer must approve {them}",
    BulkSkip.WRONG_STATUS: "Not in a state for this decision (already decided, or not approved yet)",
    BulkSkip.NEWER_VERSION_WAITING: "A newer version of the same asset waits for review: decide that one first",
    BulkSkip.CHECKS_PENDING: "The copy and brand checks are still running: decide when they are done",
    BulkSkip.NOT_FOUND: "No longer available",
    BulkSkip.INVALID: "Refused",
}
NAMES_SHOWN = 8


def _versions_word(n: int) -> str:
    return f"{n} version{'s' if n != 1 else ''}"


def bulk_report_messages(*, tenant: Tenant, report: BulkReviewReport) -> tuple[str, list[str]]:
    """The summary and, per reason, which versions were skipped: titles and numbers, in product words."""
    done = _DONE.get(report.action, report.action.capitalize())
    summary = f"{done} {_versions_word(len(report.done))}." if report.done else f"Nothing was {done.lower()}."
    if report.skipped:
        summary += f" Skipped {_versions_word(len(report.skipped))}, listed below."
    found = {
        v.pk: v
        for v in AssetVersion.objects.for_tenant(tenant)
        .filter(pk__in=[s.version_id for s in report.skipped])
        .select_related("asset")
    }
    by_reason: dict[BulkSkip, list[str]] = {}
    for skip in report.skipped:
        v = found.get(skip.version_id)
        name = f"{v.asset.title} v{v.number}" if v else f"version #{skip.version_id}"
        if v and skip.reason == BulkSkip.WRONG_STATUS:
            name += f" ({v.get_status_display().lower()})"
        if skip.reason == BulkSkip.INVALID:
            name += f" ({skip.detail})"
        by_reason.setdefault(skip.reason, []).append(name)
    lines = []
    for reason, names in by_reason.items():
        words = _SKIP_WORDS[reason].format(them="them" if len(names) > 1 else "it")
        shown = ", ".join(names[:NAMES_SHOWN])
        more = f" and {len(names) - NAMES_SHOWN} more" if len(names) > NAMES_SHOWN else ""
        lines.append(f"{words} ({len(names)}): {shown}{more}.")
    return summary, lines


def review_bulk_view(site: AdminSite, request: HttpRequest) -> HttpResponse:
    """One decision on the selected cards, or on every version matching the board's filter."""
    context = require_scope(request, Scope.REVIEWS_WRITE)
    if request.method != "POST":
        return HttpResponseNotAllowed(["POST"])
    if context.tenant is None:
        raise PermissionDenied("choose a tenant first")
    tenant = context.tenant
    query = BoardQuery.of(request.POST)
    back = HttpResponseRedirect(_board_url(query, request.POST.get("page", "")))
    action = request.POST.get("action", "")
    if action not in _DONE:
        messages.error(request, "Choose approve, reject or publish.")
        return back
    if request.POST.get("scope") == "matching":
        matching = review_versions(tenant=tenant, filters=query.filters()).values_list("id", flat=True)
        ids = list(matching[: MAX_BULK_VERSIONS + 1])
        if len(ids) > MAX_BULK_VERSIONS:
            messages.error(
                request,
                f"More than {MAX_BULK_VERSIONS} versions match the filter: narrow it (a campaign, a market, "
                "a placement) and decide in parts. Nothing was changed.",
            )
            return back
    else:
        ids = [int(v) for v in request.POST.getlist("version_ids") if is_digits(v)]
    if not ids:
        messages.error(request, "Select at least one version first.")
        return back
    try:
        report = versions_review_bulk(
            tenant=tenant,
            action=action,
            version_ids=ids,
            reviewer=Reviewer(user=request.user),
            comment=request.POST.get("comment", ""),
            origin=RequestOrigin.of(request),
        )
    except ServiceError as exc:
        words = {"comment": "Write a comment saying why: it goes with every rejection."}
        messages.error(
            request, words.get(exc.field, exc.message[:1].upper() + exc.message[1:]) + " Nothing was changed."
        )
        return back
    summary, lines = bulk_report_messages(tenant=tenant, report=report)
    (messages.success if report.done else messages.warning)(request, summary)
    for line in lines:
        messages.warning(request, line)
    return back


@admin.register(ReviewDecision)
class ReviewDecisionAdmin(TenantScopedAdmin):
    scopes = {"view": Scope.JOBS_READ, "add": None, "change": None, "delete": None}
    list_display = ["created_at", "version", "action", "from_status", "to_status", "actor_label", "comment"]
    list_filter = ["action"]
    ordering = ["-id"]

    def scoped_queryset(self, request, queryset):
        return queryset.select_related("version")
