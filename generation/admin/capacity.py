"""The capacity page: deployment pools with each deployment's live state, and their editing.

Platform operators (superusers) see every pool: its members with region, data zone, type, priority, weight, rpm
(configured and learned), headroom now, calls and 429s in the last minute, latency p50/p95 and breaker state, and
the tenants assigned to it; they create pools, add, edit, enable/disable (one or several) and delete members, and
place tenants in pools. Every write is one call of `generation.services.capacity` (audited there; keys encrypted
there), the services code and the API call too. A tenant's admins see, read-only, their own tenant's pool and the
deployments its calls may go to (residency applied), never another tenant's.

The live figures come from `live/`, a small JSON document the page polls every few seconds (capacity.js) and
writes into the cells in place: a full reload, or an htmx swap of the tables, would drop ticked boxes and
half-typed forms.
"""

from __future__ import annotations

import datetime as dt
import logging
from functools import partial
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import redis
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseNotAllowed, HttpResponseRedirect, JsonResponse
from django.template.response import TemplateResponse
from django.urls import path, reverse

from generation.admin.capacity_forms import PoolForm, PoolMemberForm, TenantCapacityForm, add_refusal
from generation.dispatch import Member, MemberState
from generation.models import DeploymentPool, PoolMember, TenantCapacity
from generation.selectors.pools import _dispatcher, pool_members, route_for
from generation.services.capacity import pool_create, pool_member_delete, pool_member_save, tenant_capacity_set
from tenants.admin.base import admin_tenant_context, page_context, require_scope
from tenants.audit import Actor, RequestOrigin
from tenants.errors import ServiceError
from tenants.models import Scope, Tenant
from tenants.numbers import is_digits

logger = logging.getLogger(__name__)

PAGE = "admin:generation_deploymentpool_changelist"
TEMPLATE = "admin/generation/capacity/page.html"
LIVE_SECONDS = 3
BREAKER_WORDS = {"closed": "Closed", "open": "Open", "half_open": "Half-open"}


# --- live state --------------------------------------------------------------------------------------------------


def _zone(name: str | None) -> ZoneInfo:
    try:
        return ZoneInfo(name or "UTC")
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")


def _duration(ms: int | None) -> str:
    if ms is None:
        return "—"
    return f"{ms} ms" if ms < 1000 else f"{ms / 1000:.1f} s"


def _since(opened_at: float, zone: ZoneInfo, now: float) -> str:
    moment = dt.datetime.fromtimestamp(opened_at, tz=zone)
    seconds = max(0, int(now - opened_at))
    ago = f"{seconds}\u00a0s" if seconds < 120 else f"{seconds // 60}\u00a0min"
    # No-break spaces: a narrow cell wraps between the moment and its age, never inside either.
    return f"since\u00a0{moment:%H:%M:%S}\u00a0{zone.key} · {ago}"


def live_values(state: MemberState | None, *, zone: ZoneInfo, enabled: bool = True) -> dict[str, Any]:
    """One member's live cells, as the page first renders them and as `live/` sends them again."""
    if state is None:
        return {"available": False}
    usable = max(1, state.effective_rpm)
    return {
        "available": True,
        "effective_rpm": state.effective_rpm,
        "learned": state.effective_rpm < state.rpm,
        "in_window": state.requests_in_window,
        "headroom": state.headroom,
        "headroom_percent": round(100 * state.headroom / usable),
        "calls": state.calls_last_minute,
        "throttled": state.throttled_last_minute,
        "p50": _duration(state.latency_p50_ms),
        "p95": _duration(state.latency_p95_ms),
        "breaker": state.breaker,
        "breaker_label": BREAKER_WORDS.get(state.breaker, state.breaker),
        "opened": _since(state.opened_at, zone, dt.datetime.now(dt.UTC).timestamp()) if state.opened_at else "",
        "failures": state.consecutive_failures,
        "enabled": enabled,
    }


def _states(pool_key: str, members: tuple[Member, ...]) -> dict[str, MemberState] | None:
    """Every member's state from the dispatcher; None when Redis cannot say (the page still shows the pool)."""
    if not members:
        return {}
    try:
        return {state.key: state for state in _dispatcher(pool_key, members).snapshot()}
    except (redis.RedisError, ValueError):
        logger.warning("capacity page: no live state for %s", pool_key, exc_info=True)
        return None


def _dispatch_members(rows: list[PoolMember]) -> tuple[Member, ...]:
    # As the route selector builds them: the same members, so the same dispatcher (and its loaded scripts).
    return tuple(
        Member(key=r.dispatch_key, rpm=r.rpm, tpm=r.tpm, priority=r.priority, weight=r.weight, enabled=r.enabled)
        for r in rows
    )


def operator_pools() -> list[dict[str, Any]]:
    """Every pool with its members (and their live state) and the tenants it serves: the operator's view."""
    pools = list(DeploymentPool.objects.select_related("owner").order_by("owner_id", "name"))
    rows: dict[int, list[PoolMember]] = {pool.pk: [] for pool in pools}
    for member in PoolMember.objects.filter(pool__in=pools).order_by("priority", "id"):
        rows[member.pool_id].append(member)
    served: dict[int, list[TenantCapacity]] = {pool.pk: [] for pool in pools}
    # The operator's page looks across tenants on purpose: which tenants each pool serves.
    for capacity in TenantCapacity.unscoped.filter(pool__in=pools).select_related("tenant").order_by("tenant__name"):
        served[capacity.pool_id].append(capacity)
    utc = _zone("UTC")
    result = []
    for pool in pools:
        states = _states(pool.dispatch_key, _dispatch_members(rows[pool.pk]))
        members = [
            {
                "member": m,
                "key": m.dispatch_key,
                "live": live_values((states or {}).get(m.dispatch_key), zone=utc, enabled=m.enabled),
            }
            for m in rows[pool.pk]
        ]
        result.append({"pool": pool, "members": members, "tenants": served[pool.pk], "live": states is not None})
    return result


def _single_name(key: str) -> str:
    # A tenant without a pool calls one deployment: its own default, else the platform's (generation.selectors.pools).
    return "The platform's deployment" if key == "platform" else "Your deployment"


def tenant_capacity_view(tenant: Tenant) -> dict[str, Any]:
    """The tenant's own pool and the deployments its calls may go to (residency applied), nothing of others."""
    capacity = TenantCapacity.objects.for_tenant(tenant).select_related("pool").first()
    route = route_for(tenant_id=tenant.pk)
    try:
        states = {state.key: state for state in route.dispatcher().snapshot()}
    except (redis.RedisError, ValueError):
        logger.warning("capacity page: no live state for tenant %s", tenant.pk, exc_info=True)
        states = None
    zone = _zone(tenant.time_zone)
    pool = capacity.pool if capacity else None
    rows = {m.dispatch_key: m for m in pool_members(pool_id=pool.pk)} if pool else {}
    deployments = []
    for member in route.members:
        if member.key not in route.allowed:
            continue  # outside the tenant's residency: not its business
        row = rows.get(member.key)
        deployments.append(
            {
                "key": member.key,
                "name": row.name if row else _single_name(member.key),
                "region": row.region if row else "",
                "data_zone": row.data_zone if row else "",
                "deployment_type": row.get_deployment_type_display() if row else "",
                "priority": member.priority,
                "rpm": member.rpm,
                "live": live_values((states or {}).get(member.key), zone=zone, enabled=member.enabled),
            }
        )
    return {"capacity": capacity, "pool": pool, "deployments": deployments, "live": states is not None}


# --- pages -------------------------------------------------------------------------------------------------------


def _operator(request: HttpRequest) -> None:
    if not admin_tenant_context(request).is_superuser:
        raise PermissionDenied("pools are managed by platform operators")


def _page(
    model_admin: admin.ModelAdmin,
    request: HttpRequest,
    *,
    bound: dict[str, Any] | None = None,
    status: int = 200,
) -> TemplateResponse:
    """The page; `bound` holds a refused form (by its slot: "pool", "tenant", "add-<pool>", "member-<id>"), shown
    again open with its errors in place of the empty one."""
    context = admin_tenant_context(request)
    bound = bound or {}
    page = {"opts": model_admin.model._meta, "title": "Capacity", "live_seconds": LIVE_SECONDS, "open": ""}
    if bound:
        page["open"] = next(iter(bound))
    if context.is_superuser:
        pools = operator_pools()
        for entry in pools:
            pool = entry["pool"]
            blank = PoolMember(pool=pool)
            entry["add_form"] = bound.get(f"add-{pool.pk}") or _member_form(blank, prefix=f"add{pool.pk}")
            for row in entry["members"]:
                m = row["member"]
                row["form"] = bound.get(f"member-{m.pk}") or _member_form(m, prefix=f"m{m.pk}")
        chosen = Tenant.objects.filter(slug=request.GET.get("tenant", "")).first()
        page.update(
            operator=True,
            pools=pools,
            pool_form=bound.get("pool") or PoolForm(auto_id="pool_%s"),
            tenant_form=bound.get("tenant") or TenantCapacityForm(initial=TenantCapacityForm.initial_for(chosen)),
            unassigned=Tenant.objects.exclude(
                pk__in=TenantCapacity.unscoped.filter(pool__isnull=False).values("tenant")
            ),
        )
        if chosen is not None and not bound:
            page["open"] = "tenant"
    else:
        require_scope(request, Scope.ADMIN)
        if context.tenant is None:
            raise PermissionDenied("choose a tenant first")
        page.update(operator=False, mine=tenant_capacity_view(context.tenant))
    return TemplateResponse(request, TEMPLATE, page_context(model_admin.admin_site, request, **page), status=status)


def _member_form(member: PoolMember, *, prefix: str, data: Any = None) -> PoolMemberForm:
    # Several member forms share the page: each one's ids and names carry its prefix.
    return PoolMemberForm(data, instance=member, prefix=prefix)


def capacity_view(model_admin: admin.ModelAdmin, request: HttpRequest) -> HttpResponse:
    if request.method != "GET":
        return HttpResponseNotAllowed(["GET"])
    return _page(model_admin, request)


def live_view(model_admin: admin.ModelAdmin, request: HttpRequest) -> JsonResponse:
    """{"members": {member key: live cells}} for the members the page shows, and when they were read."""
    context = admin_tenant_context(request)
    if context.is_superuser:
        members = {row["key"]: row["live"] for entry in operator_pools() for row in entry["members"]}
        zone = _zone("UTC")
    else:
        require_scope(request, Scope.ADMIN)
        if context.tenant is None:
            raise PermissionDenied("choose a tenant first")
        members = {row["key"]: row["live"] for row in tenant_capacity_view(context.tenant)["deployments"]}
        zone = _zone(context.tenant.time_zone)
    now = dt.datetime.now(zone)
    response = JsonResponse({"read_at": f"{now:%H:%M:%S} {zone.key}", "members": members})
    response["Cache-Control"] = "no-store"
    return response


def _done(request: HttpRequest, message: str, anchor: str = "") -> HttpResponseRedirect:
    messages.success(request, message)
    return HttpResponseRedirect(reverse(PAGE) + (f"#{anchor}" if anchor else ""))


def _post_only(request: HttpRequest) -> None:
    _operator(request)
    if request.method != "POST":
        raise _NotAllowed


class _NotAllowed(Exception):
    pass


def _pool_or_404(pool_id: Any) -> DeploymentPool:
    pool = DeploymentPool.objects.filter(pk=int(pool_id)).first() if is_digits(str(pool_id)) else None
    if pool is None:
        raise Http404("no such pool")
    return pool


def _member_or_404(request: HttpRequest, member_id: Any) -> PoolMember:
    # Only operators edit pools: to anyone else a member id is no member at all (404, as a missing one).
    if not admin_tenant_context(request).is_superuser or not is_digits(str(member_id)):
        raise Http404("no such deployment")
    member = PoolMember.objects.select_related("pool").filter(pk=int(member_id)).first()
    if member is None:
        raise Http404("no such deployment")
    return member


def pool_add_view(model_admin: admin.ModelAdmin, request: HttpRequest) -> HttpResponse:
    _post_only(request)
    form = PoolForm(request.POST, auto_id="pool_%s")
    if form.is_valid():
        try:
            pool = pool_create(
                name=form.cleaned_data["name"],
                owner=form.cleaned_data["owner"],
                description=form.cleaned_data["description"],
                actor=Actor.for_user(request.user),
                origin=RequestOrigin.of(request),
            )
        except (ServiceError, ValidationError) as refusal:
            add_refusal(form, refusal)
        else:
            return _done(request, f"Pool “{pool.name}” created. Add its deployments next.", f"pool-{pool.pk}")
    return _page(model_admin, request, bound={"pool": form}, status=400)


def _save_member(model_admin, request: HttpRequest, member: PoolMember, *, slot: str, prefix: str) -> HttpResponse:
    form = _member_form(member, prefix=prefix, data=request.POST)
    if form.is_valid():
        created = member.pk is None
        try:
            saved = pool_member_save(
                member=form.instance,
                api_key=form.cleaned_data.get("api_key") or None,
                actor=Actor.for_user(request.user),
                origin=RequestOrigin.of(request),
            )
        except (ServiceError, ValidationError) as refusal:
            add_refusal(form, refusal)
        else:
            verb = "added to" if created else "saved in"
            return _done(request, f"{saved.name} {verb} {saved.pool.name}.", f"pool-{saved.pool_id}")
    return _page(model_admin, request, bound={slot: form}, status=400)


def member_add_view(model_admin: admin.ModelAdmin, request: HttpRequest, pool_id: int) -> HttpResponse:
    _post_only(request)
    pool = _pool_or_404(pool_id)
    return _save_member(model_admin, request, PoolMember(pool=pool), slot=f"add-{pool.pk}", prefix=f"add{pool.pk}")


def member_edit_view(model_admin: admin.ModelAdmin, request: HttpRequest, member_id: int) -> HttpResponse:
    member = _member_or_404(request, member_id)
    _post_only(request)
    return _save_member(model_admin, request, member, slot=f"member-{member.pk}", prefix=f"m{member.pk}")


def member_delete_view(model_admin: admin.ModelAdmin, request: HttpRequest, member_id: int) -> HttpResponse:
    member = _member_or_404(request, member_id)
    _post_only(request)
    name, pool = member.name, member.pool
    pool_member_delete(member=member, actor=Actor.for_user(request.user), origin=RequestOrigin.of(request))
    return _done(request, f"{name} deleted from {pool.name}.", f"pool-{pool.pk}")


def members_bulk_view(model_admin: admin.ModelAdmin, request: HttpRequest) -> HttpResponse:
    """Enable or disable the ticked members: one service call (and audit event) each, as if edited one by one."""
    _post_only(request)
    op = request.POST.get("op")
    if op not in ("enable", "disable"):
        messages.error(request, "Choose Enable or Disable.")
        return HttpResponseRedirect(reverse(PAGE))
    ids = [int(value) for value in request.POST.getlist("member") if is_digits(value)]
    members = list(PoolMember.objects.select_related("pool").filter(pk__in=ids).order_by("pool_id", "id"))
    if not members:
        messages.error(request, "Tick the deployments to change first.")
        return HttpResponseRedirect(reverse(PAGE))
    changed, refused = [], []
    for member in members:
        if member.enabled == (op == "enable"):
            continue
        member.enabled = op == "enable"
        try:
            pool_member_save(member=member, actor=Actor.for_user(request.user), origin=RequestOrigin.of(request))
        except (ServiceError, ValidationError) as refusal:
            refused.append(f"{member.name}: {'; '.join(getattr(refusal, 'messages', None) or [str(refusal)])}")
        else:
            changed.append(member.name)
    if refused:
        messages.error(request, "Not changed: " + " · ".join(refused))
    word = "enabled" if op == "enable" else "disabled"
    return _done(request, f"{len(changed)} deployment(s) {word}" + (f": {', '.join(changed)}." if changed else "."))


def tenant_assign_view(model_admin: admin.ModelAdmin, request: HttpRequest) -> HttpResponse:
    _post_only(request)
    form = TenantCapacityForm(request.POST)
    if form.is_valid():
        tenant = form.cleaned_data["tenant"]
        try:
            capacity = tenant_capacity_set(
                tenant=tenant, actor=Actor.for_user(request.user), origin=RequestOrigin.of(request), **form.values()
            )
        except (ServiceError, ValidationError) as refusal:
            add_refusal(form, refusal)
        else:
            where = f"pool {capacity.pool.name}" if capacity.pool else "no pool"
            anchor = f"pool-{capacity.pool_id}" if capacity.pool_id else ""
            return _done(request, f"{tenant.name}: {where}, weight {capacity.weight}.", anchor)
    return _page(model_admin, request, bound={"tenant": form}, status=400)


def _guarded(view):
    def run(model_admin, request, *args, **kwargs):
        try:
            return view(model_admin, request, *args, **kwargs)
        except _NotAllowed:
            return HttpResponseNotAllowed(["POST"])

    return run


@admin.register(DeploymentPool)
class DeploymentPoolAdmin(admin.ModelAdmin):
    """Pools are changed on the capacity page only (through the capacity services), never a model form."""

    def get_urls(self):
        view = self.admin_site.admin_view

        def bound(function):
            return view(partial(_guarded(function), self))

        return [
            path("", bound(capacity_view), name="generation_deploymentpool_changelist"),
            path("live/", bound(live_view), name="generation_capacity_live"),
            path("add/", bound(pool_add_view), name="generation_deploymentpool_add"),
            path("<int:pool_id>/members/add/", bound(member_add_view), name="generation_capacity_member_add"),
            path("members/<int:member_id>/", bound(member_edit_view), name="generation_capacity_member_edit"),
            path(
                "members/<int:member_id>/delete/", bound(member_delete_view), name="generation_capacity_member_delete"
            ),
            path("members/bulk/", bound(members_bulk_view), name="generation_capacity_members_bulk"),
            path("tenants/", bound(tenant_assign_view), name="generation_capacity_tenant"),
        ]

    def has_module_permission(self, request: HttpRequest) -> bool:
        return admin_tenant_context(request).is_superuser

    # The "All data" list links the page; its stock add and change forms do not exist.
    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: DeploymentPool | None = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: DeploymentPool | None = None) -> bool:
        return False
