"""Changing the library in the staff UI: bulk work from the asset browser and metadata on the asset page.

A bulk action over more than BULK_INLINE_MAX assets starts a bulk operation and goes to its page, which follows
its progress (`dam.admin.bulk_operations`); a smaller one is done in the request and reported as messages.

Thin views: each reads the form, calls the service the API calls (`dam.services.bulk`,
`dam.services.metadata`, `dam.services.delivery`), reports what happened as messages and goes back
to the page it came from. A refusal of the service is a message, not a 500; nothing is written here.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from typing import TYPE_CHECKING, Any

from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseNotAllowed, HttpResponseRedirect, QueryDict
from django.urls import NoReverseMatch, reverse
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from django.utils.http import url_has_allowed_host_and_scheme

from dam.admin.review import bulk_report_messages
from dam.models import Asset, AssetVersion, Collection, PublishWindow
from dam.selectors.bulk import bulk_selection
from dam.selectors.search import AssetFilters
from dam.services.bulk import BulkChange, BulkResult, assets_bulk_update, bulk_operation_start, bulk_runs_inline
from dam.services.checks import version_checks_rerun
from dam.services.delivery import publish_window_set
from dam.services.metadata import asset_archive, asset_unarchive, asset_update, version_metadata_update
from dam.services.review import Reviewer, versions_review_bulk
from tenants.admin.base import admin_tenant_context
from tenants.audit import Actor, RequestOrigin
from tenants.errors import ServiceError
from tenants.models import Scope, Tenant
from tenants.numbers import is_digits
from tenants.selectors import placements_for_tenant

if TYPE_CHECKING:
    from dam.admin.assets import AssetAdmin

# Decisions on the selected assets' current versions (dam.services.review, four-eyes per version).
REVIEW_ACTIONS = ("approve", "reject", "publish")
# Skipped assets named one by one in a result message, per reason; the rest are counted.
NAMED_SKIPS = 8
DONE_WORDS = {
    "tag": "Tagged {n} asset{s} with {tags}.",
    "untag": "Removed {tags} from {n} asset{s}.",
    "move": "Moved {n} asset{s} to {collection}.",
    "publish_window": "Set the publish window of {n} asset{s}.",
    "archive": "Archived {n} asset{s}: out of the lists, still reachable by id.",
    "unarchive": "Unarchived {n} asset{s}.",
    "recheck": "Checking the copy and brand of {n} asset{s} again: their badges show the new verdicts when done.",
}


def export_url() -> str | None:
    try:
        return reverse("admin:dam_export_create")
    except NoReverseMatch:
        return None


def collections_of(tenant: Tenant | None) -> list[Collection]:
    return list(Collection.objects.for_tenant(tenant).order_by("name")) if tenant else []


def _writer(request: HttpRequest, scope: str = Scope.ASSETS_WRITE) -> Tenant:
    context = admin_tenant_context(request)
    if context.tenant is None or not context.can(scope):
        raise PermissionDenied
    return context.tenant


def _back(request: HttpRequest, default: str) -> HttpResponseRedirect:
    target = request.POST.get("next", "")
    safe = url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()}, require_https=False)
    return HttpResponseRedirect(target if target and safe else default)


def _explain(exc: Exception) -> str:
    if isinstance(exc, ServiceError):
        return exc.message
    if isinstance(exc, ValidationError) and hasattr(exc, "error_dict"):
        return "; ".join(f"{name.replace('_', ' ')}: {' '.join(texts)}" for name, texts in exc.message_dict.items())
    if isinstance(exc, ValidationError):
        return " ".join(exc.messages)
    return str(exc)


def _moment(raw: str, *, name: str) -> dt.datetime | None:
    """A `datetime-local` field's value, in the current time zone; empty: None."""
    raw = raw.strip()
    if not raw:
        return None
    try:
        parsed = parse_datetime(raw)
    except ValueError:
        parsed = None
    if parsed is None:
        raise ValidationError({name: "a date and time"})
    return timezone.make_aware(parsed) if timezone.is_naive(parsed) else parsed


def _tags(raw: str) -> list[str]:
    return [tag.strip() for tag in raw.split(",") if tag.strip()]


def _collection(tenant: Tenant, slug: str) -> Collection | None:
    if not slug:
        return None
    collection = Collection.objects.for_tenant(tenant).filter(slug=slug).first()
    if collection is None:
        raise ValidationError({"collection": f"no collection {slug!r}"})
    return collection


def _selection(request: HttpRequest, tenant: Tenant) -> list[int]:
    if request.POST.get("all") == "1":
        # Every asset the grid's filters match, not only the page shown: the same selector, re-run.
        filters = AssetFilters.from_query_params(QueryDict(request.POST.get("filters", "")))
        return bulk_selection(tenant=tenant, filters=filters, field="selection")
    return [int(i) for i in request.POST.getlist("ids") if is_digits(i) and len(i) <= 18]


def _report(request: HttpRequest, result: BulkResult, change: BulkChange) -> None:
    n = len(result.done)
    if n:
        words = DONE_WORDS[change.action].format(
            n=n,
            s="" if n == 1 else "s",
            tags=", ".join(change.tags),
            collection=change.collection.name if change.collection else "no collection",
        )
        messages.success(request, words)
    by_reason: dict[str, list[str]] = defaultdict(list)
    for skip in result.skipped:
        by_reason[skip.reason].append(f"#{skip.asset_id} {skip.title}".strip())
    for reason, names in by_reason.items():
        listed = ", ".join(names[:NAMED_SKIPS]) + (
            f" and {len(names) - NAMED_SKIPS} more" if len(names) > NAMED_SKIPS else ""
        )
        messages.warning(request, f"Skipped {len(names)} ({reason}): {listed}")
    if not n and not result.skipped:
        messages.info(request, "No asset was selected.")


def _review_bulk(request: HttpRequest, action: str, back: HttpResponseRedirect) -> HttpResponseRedirect:
    """Approve, reject or publish the current version of each selected asset: one decision per version
    through the review service, so four-eyes skips (and every other refusal) are listed, not hidden."""
    tenant = _writer(request, Scope.REVIEWS_WRITE)
    try:
        ids = _selection(request, tenant)
        rows = list(
            Asset.objects.for_tenant(tenant).filter(pk__in=ids).values_list("pk", "title", "current_version_id")
        )
        without = [f"#{pk} {title}" for pk, title, version_id in rows if version_id is None]
        missing = len(set(ids)) - len(rows)
        version_ids = [version_id for _, _, version_id in rows if version_id is not None]
        report = (
            versions_review_bulk(
                tenant=tenant,
                action=action,
                version_ids=version_ids,
                reviewer=Reviewer(user=request.user),
                comment=request.POST.get("comment", ""),
                origin=RequestOrigin.of(request),
            )
            if version_ids
            else None
        )
    except (ValidationError, ServiceError) as exc:
        messages.error(request, f"Nothing decided: {_explain(exc)}")
        return back
    if report is not None:
        summary, lines = bulk_report_messages(tenant=tenant, report=report)
        (messages.success if report.done else messages.info)(request, summary)
        for line in lines:
            messages.warning(request, line)
    if without:
        messages.warning(request, f"Skipped {len(without)} (has no version yet): {', '.join(without[:NAMED_SKIPS])}")
    if missing:
        messages.warning(request, f"Skipped {missing} (not found)")
    if report is None and not without and not missing:
        messages.info(request, "No asset was selected.")
    return back


def asset_bulk(model_admin: AssetAdmin, request: HttpRequest) -> HttpResponse:
    if request.method != "POST":
        return HttpResponseNotAllowed(["POST"])
    back = _back(request, reverse("admin:dam_asset_changelist"))
    action = request.POST.get("action", "")
    if action in REVIEW_ACTIONS:
        return _review_bulk(request, action, back)
    tenant = _writer(request)
    try:
        change = BulkChange(
            action=action,
            tags=_tags(request.POST.get("tags", "")) if action in ("tag", "untag") else (),
            # Not `collection`: the export endpoint this form also posts to reads that as a filter.
            collection=_collection(tenant, request.POST.get("to_collection", "")) if action == "move" else None,
            available_from=_moment(request.POST.get("available_from", ""), name="available_from"),
            available_until=_moment(request.POST.get("available_until", ""), name="available_until"),
        )
        ids = _selection(request, tenant)
        who = {"actor": Actor.for_user(request.user), "origin": RequestOrigin.of(request)}
        if bulk_runs_inline(len(set(ids))):
            result = assets_bulk_update(tenant=tenant, asset_ids=ids, change=change, **who)
        else:
            # "Select all matching" can be thousands: a bulk operation, whose page follows it live.
            operation = bulk_operation_start(
                tenant=tenant, asset_ids=ids, change=change, requested_by=request.user, **who
            )
            messages.info(request, f"Started: {operation.summary} on {operation.total:,} assets, in the background.")
            return HttpResponseRedirect(reverse("admin:dam_asset_bulk_operation", args=[operation.pk]))
    except (ValidationError, ServiceError) as exc:
        messages.error(request, f"Nothing changed: {_explain(exc)}")
        return back
    _report(request, result, change)
    return back


# --- the asset page ---------------------------------------------------------------------------------


def _alt_text(request: HttpRequest) -> dict[str, str | None]:
    """Locale and text rows; an emptied text removes its locale (the service's merge rule)."""
    locales, texts = request.POST.getlist("alt_locale"), request.POST.getlist("alt_text")
    return {locale.strip(): text for locale, text in zip(locales, texts, strict=False) if locale.strip()}


def _focal_point(request: HttpRequest) -> dict[str, float] | None:
    if request.POST.get("reset"):
        return None
    try:
        point = {"x": float(request.POST.get("focal_x", "")), "y": float(request.POST.get("focal_y", ""))}
    except ValueError:
        raise ValidationError({"focal_point": "click on the image to choose a point"}) from None
    return point


def asset_edit(model_admin: AssetAdmin, request: HttpRequest, asset_id: int) -> HttpResponse:
    """One panel of the asset page: `part` says which (details, alt_text, focal_point, publish_window, archive,
    unarchive, recheck)."""
    if request.method != "POST":
        return HttpResponseNotAllowed(["POST"])
    if not model_admin.has_view_permission(request):
        raise Http404("no such asset")
    asset = model_admin.get_queryset(request).filter(pk=asset_id).first()
    if asset is None:
        raise Http404("no such asset")
    tenant = _writer(request)
    number = request.POST.get("v", "")
    version = asset.versions.filter(number=int(number)).first() if is_digits(number) and len(number) < 9 else None
    version = version or asset.current_version
    page = reverse("admin:dam_asset_change", args=[asset.pk]) + (f"?v={version.number}" if version else "")
    who = {"actor": Actor.for_user(request.user), "origin": RequestOrigin.of(request)}
    part = request.POST.get("part", "")
    try:
        if part == "details":
            asked = {
                "title": request.POST.get("title", "").strip(),
                "tags": [t.lower() for t in _tags(request.POST.get("tags", ""))],
                "collection": _collection(tenant, request.POST.get("collection", "")),
            }
            now = {"title": asset.title, "tags": list(asset.tags), "collection": asset.collection}
            changed = {name: value for name, value in asked.items() if value != now[name]}
            if changed:
                asset_update(asset=asset, **changed, **who)
            messages.success(request, "Saved the title, tags and collection." if changed else "Nothing changed.")
        elif part in ("archive", "unarchive"):
            if part == "archive":
                changed = asset_archive(asset=asset, **who)
                said = "Archived: out of the lists and the storefronts, still reachable here." if changed else None
            else:
                changed = asset_unarchive(asset=asset, **who)
                said = "Unarchived: back in the lists." if changed else None
            messages.success(request, said or "Nothing changed.")
        elif part == "alt_text" and version:
            version_metadata_update(version=version, alt_text=_alt_text(request), **who)
            messages.success(request, f"Saved the alt text of v{version.number}.")
        elif part == "focal_point" and version:
            version_metadata_update(version=version, focal_point=_focal_point(request), **who)
            messages.success(request, f"Saved the focal point of v{version.number}: its crops are being cut again.")
        elif part == "recheck" and version:
            version_checks_rerun(version=version, **who)
            messages.success(request, f"Checking v{version.number} again: the verdicts update when the checks finish.")
        elif part == "publish_window" and version:
            publish_window_set(
                version=version,
                available_from=_moment(request.POST.get("available_from", ""), name="available_from"),
                available_until=_moment(request.POST.get("available_until", ""), name="available_until"),
                **who,
            )
            messages.success(request, f"Saved the publish window of v{version.number}.")
        else:
            messages.error(request, "Nothing to save.")
    except (ValidationError, ServiceError) as exc:
        messages.error(request, f"Not saved: {_explain(exc)}")
    return HttpResponseRedirect(page)


def _local_input(moment: dt.datetime | None) -> str:
    return timezone.localtime(moment).strftime("%Y-%m-%dT%H:%M") if moment else ""


def edit_context(request: HttpRequest, asset: Asset, selected: AssetVersion) -> dict[str, Any]:
    """What the asset page's editing panels show: only to those who may change the asset."""
    context = admin_tenant_context(request)
    if context.tenant is None or not context.can(Scope.ASSETS_WRITE):
        return {"can_edit": False}
    alt_text = dict(selected.alt_text or {})
    markets = list(dict.fromkeys(filter(None, [*alt_text, asset.locale, selected.locale])))
    window = PublishWindow.objects.for_tenant(context.tenant).filter(version=selected).first()
    renditions = {r.placement_slug: r for r in selected.renditions.all() if r.placement_slug}
    crops = [
        {
            "slug": p.slug,
            "name": p.name or p.slug,
            "width": p.width,
            "height": p.height,
            "rendition": renditions.get(p.slug),
        }
        for p in placements_for_tenant(tenant=context.tenant)
    ]
    return {
        "can_edit": True,
        "collections": collections_of(context.tenant),
        "alt_rows": [{"locale": m, "text": alt_text.get(m, "")} for m in markets],
        "window_from": _local_input(window.available_from if window else None),
        "window_until": _local_input(window.available_until if window else None),
        "time_zone": timezone.get_current_timezone_name(),
        "focal": {
            "x": selected.focal_x if selected.focal_x is not None else 0.5,
            "y": selected.focal_y if selected.focal_y is not None else 0.5,
        },
        "focal_set": selected.focal_x is not None,
        "crops": crops,
    }
