"""The review board: versions waiting for a person, oldest first, decided through the review services.

Reads through `dam.services.review.review_queue` (the queue of `GET /api/v1/reviews`) and decides through
`version_approve` / `version_reject` / `version_publish`, so four-eyes, transitions, decision records,
audit events and webhooks are the API's own. The page only shows the four-eyes rule ahead of time.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.contrib import admin, messages
from django.contrib.admin import AdminSite
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseNotAllowed, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import reverse

from dam.models import AssetVersion, ReviewDecision
from dam.services.review import (
    FourEyesViolation,
    Reviewer,
    is_own_request,
    review_queue,
    version_approve,
    version_publish,
    version_reject,
)
from tenants.admin.base import TenantScopedAdmin, page_context, require_scope
from tenants.errors import ServiceError
from tenants.models import Scope, Tenant

BOARD_SIZE = 50


@dataclass(frozen=True)
class BoardItem:
    version: AssetVersion
    requested_by: str
    own_request: bool  # four-eyes: the viewer requested it (in person or through a key of a chain they started)
    newer_waiting: list[int]


def _requester_label(version: AssetVersion) -> str:
    if version.created_by_key_id:
        person = version.created_by_person.get_username() if version.created_by_person_id else None
        # The person behind the key is who four-eyes compares: the reviewer sees them, not only the key.
        key = f"API key {version.created_by_key.prefix}…"
        return f"{key} for {person}" if person else key
    return version.created_by.get_username() if version.created_by_id else "system"


def board_items(*, tenant: Tenant, user: Any) -> tuple[list[BoardItem], int]:
    queue = review_queue(tenant=tenant)
    versions = list(queue[:BOARD_SIZE])
    reviewer = Reviewer(user=user)
    own: dict[tuple[int | None, ...], bool] = {}  # one walk of a key chain per requester, not per version
    for v in versions:
        requester = (v.created_by_id, v.created_by_key_id, v.created_by_person_id)
        if requester not in own:
            own[requester] = is_own_request(version=v, reviewer=reviewer)
    waiting: dict[int, list[int]] = {}
    for asset_id, number in queue.values_list("asset_id", "number"):
        waiting.setdefault(asset_id, []).append(number)
    items = [
        BoardItem(
            version=v,
            requested_by=_requester_label(v),
            own_request=own[(v.created_by_id, v.created_by_key_id, v.created_by_person_id)],
            newer_waiting=sorted(n for n in waiting.get(v.asset_id, []) if n > v.number),
        )
        for v in versions
    ]
    return items, queue.count()


def review_board_view(site: AdminSite, request: HttpRequest, *, status: int = 200) -> TemplateResponse:
    context = require_scope(request, Scope.REVIEWS_WRITE)
    if context.tenant is None:
        raise PermissionDenied("choose a tenant to review its queue")
    items, total = board_items(tenant=context.tenant, user=request.user)
    page = page_context(site, request, title="Review", items=items, total=total, board_size=BOARD_SIZE)
    return TemplateResponse(request, "admin/dam/review_board.html", page, status=status)


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
    label = f"{version.asset.title} v{version.number}"
    try:
        if action == "approve":
            version_approve(
                version=version,
                reviewer=reviewer,
                comment=comment,
                approve_over_newer=request.POST.get("approve_over_newer") == "1",
            )
            if request.POST.get("publish") == "1":
                version_publish(version=version, reviewer=reviewer, comment=comment)
                messages.success(request, f"Approved and published {label}.")
            else:
                messages.success(request, f"Approved {label}.")
        elif action == "reject":
            version_reject(version=version, reviewer=reviewer, comment=comment)
            messages.success(request, f"Rejected {label}.")
        else:
            messages.error(request, "Choose approve or reject.")
    except FourEyesViolation as exc:
        # The page hides the button; a crafted POST still meets the service's refusal.
        messages.error(request, f"{label}: {exc.message}")
        return review_board_view(site, request, status=403)
    except ServiceError as exc:
        messages.error(request, f"{label}: {exc.message}")
    except ValidationError as exc:
        messages.error(request, f"{label}: " + "; ".join(exc.messages))
    return HttpResponseRedirect(reverse("admin:governance_review_board"))


@admin.register(ReviewDecision)
class ReviewDecisionAdmin(TenantScopedAdmin):
    scopes = {"view": Scope.JOBS_READ, "add": None, "change": None, "delete": None}
    list_display = ["created_at", "version", "action", "from_status", "to_status", "actor_label", "comment"]
    list_filter = ["action"]
    ordering = ["-id"]

    def scoped_queryset(self, request, queryset):
        return queryset.select_related("version")
