"""The capacity page: deployment pools with each deployment's live state, and their editing.

Platform operators (superusers) see every pool: its members with region, data zone, type, priority, weight, rpm
(configured and learned), headroom now, calls and 429s in the last minute, latency p50/p95 and breaker state, and
the tenants assigned to it; they create pools, add, edit, enable/disable (one or several) and delete members, and
place tenants in pools. Every write is one call of `generation.services.capacity` (audited there; keys encrypted
there), the services code and the API call too. A tenant's admins see their own tenant's capacity and the
deployments its calls may go to (residency applied), never another tenant's nor the platform's pools; when the pool
it uses is the tenant's own, they add, edit and delete its members with the operators' form, through the tenant
side of the same services (`tenant_pool_member_*`: only the tenant's own pool, never its last usable deployment).

The live figures (`capacity_live`) come from `live/`, a small JSON document the page polls every few seconds
(capacity.js) and writes into the cells in place: a full reload, or an htmx swap of the tables, would drop ticked
boxes and half-typed forms.
"""

from __future__ import annotations

import datetime as dt
from functools import partial
from typing import Any

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect, JsonResponse
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.views.decorators.http import require_GET, require_POST

from generation.admin.capacity_forms import MEMBER_FIELDS, PoolForm, PoolMemberForm, TenantCapacityForm, add_refusal
from generation.admin.capacity_live import (
    operator_pools,
    own_pool_in_use,
    own_pool_view,
    tenant_capacity_view,
    zone_named,
)
from generation.foundry.config import AuthKind
from generation.models import DeploymentPool, PoolMember, TenantCapacity
from generation.services.capacity import (
    pool_create,
    pool_member_delete,
    pool_member_save,
    tenant_capacity_set,
    tenant_pool_member_add,
    tenant_pool_member_delete,
    tenant_pool_member_update,
)
from tenants.admin.base import admin_tenant_context, page_context, require_scope
from tenants.audit import Actor, RequestOrigin
from tenants.errors import ServiceError
from tenants.models import Scope, Tenant
from tenants.numbers import is_digits

PAGE = "admin:generation_deploymentpool_changelist"
TEMPLATE = "admin/generation/capacity/page.html"
LIVE_SECONDS = 3


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
        tenant = _tenant_admin(request)
        own = own_pool_view(tenant)
        if own is not None:
            own["add_form"] = bound.get("add-own") or _member_form(
                PoolMember(pool=own["pool"]), prefix="addown", own=True
            )
            for row in own["members"]:
                m = row["member"]
                row["form"] = bound.get(f"member-{m.pk}") or _member_form(m, prefix=f"m{m.pk}", own=True)
        page.update(operator=False, mine=tenant_capacity_view(tenant), own=own)
    return TemplateResponse(request, TEMPLATE, page_context(model_admin.admin_site, request, **page), status=status)


def _tenant_admin(request: HttpRequest) -> Tenant:
    """The tenant whose admin is acting (the role decides, as on every staff page); 403 otherwise."""
    context = require_scope(request, Scope.ADMIN)
    if context.tenant is None:
        raise PermissionDenied("choose a tenant first")
    return context.tenant


def _member_form(member: PoolMember, *, prefix: str, data: Any = None, own: bool = False) -> PoolMemberForm:
    # Several member forms share the page: each one's ids and names carry its prefix.
    form = PoolMemberForm(data, instance=member, prefix=prefix)
    if own:
        # A tenant's deployment brings its own key: Entra ID would be the platform's identity (the service says
        # the same; the form does not offer it).
        form.fields["auth_kind"].choices = [(AuthKind.API_KEY.value, "API key")]
    return form


def capacity_view(model_admin: admin.ModelAdmin, request: HttpRequest) -> HttpResponse:
    return _page(model_admin, request)


def live_view(model_admin: admin.ModelAdmin, request: HttpRequest) -> JsonResponse:
    """{"members": {member key: live cells}} for the members the page shows, and when they were read."""
    context = admin_tenant_context(request)
    if context.is_superuser:
        members = {row["key"]: row["live"] for entry in operator_pools() for row in entry["members"]}
        zone = zone_named("UTC")
    else:
        tenant = _tenant_admin(request)
        own = own_pool_view(tenant)
        rows = own["members"] if own is not None else tenant_capacity_view(tenant)["deployments"]
        members = {row["key"]: row["live"] for row in rows}
        zone = zone_named(tenant.time_zone)
    now = dt.datetime.now(zone)
    response = JsonResponse({"read_at": f"{now:%H:%M:%S} {zone.key}", "members": members})
    response["Cache-Control"] = "no-store"
    return response


def _done(request: HttpRequest, message: str, anchor: str = "") -> HttpResponseRedirect:
    messages.success(request, message)
    return HttpResponseRedirect(reverse(PAGE) + (f"#{anchor}" if anchor else ""))


def _pool_or_404(pool_id: Any) -> DeploymentPool:
    pool = DeploymentPool.objects.filter(pk=int(pool_id)).first() if is_digits(str(pool_id)) else None
    if pool is None:
        raise Http404("no such pool")
    return pool


def _member_or_404(request: HttpRequest, member_id: Any) -> PoolMember:
    """Operators reach every member; a tenant's admin only the members of its own pool in use. To anyone else a
    member id is no member at all (404, as a missing one): a platform pool's, another tenant's."""
    if not is_digits(str(member_id)):
        raise Http404("no such deployment")
    members = PoolMember.objects.select_related("pool")
    context = admin_tenant_context(request)
    if not context.is_superuser:
        if not context.can(Scope.ADMIN) or context.tenant is None:
            raise Http404("no such deployment")
        pool = own_pool_in_use(context.tenant)
        members = members.filter(pool=pool) if pool is not None else members.none()
    member = members.filter(pk=int(member_id)).first()
    if member is None:
        raise Http404("no such deployment")
    return member


def _operating(request: HttpRequest) -> bool:
    return admin_tenant_context(request).is_superuser


def pool_add_view(model_admin: admin.ModelAdmin, request: HttpRequest) -> HttpResponse:
    _operator(request)
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
    own = not _operating(request)
    form = _member_form(member, prefix=prefix, data=request.POST, own=own)
    if form.is_valid():
        created = member.pk is None
        who = {"actor": Actor.for_user(request.user), "origin": RequestOrigin.of(request)}
        api_key = form.cleaned_data.get("api_key") or None
        values = {name: form.cleaned_data[name] for name in MEMBER_FIELDS}
        try:
            if not own:
                saved = pool_member_save(member=form.instance, api_key=api_key, **who)
            elif created:
                tenant = _tenant_admin(request)
                saved = tenant_pool_member_add(tenant=tenant, values=values, api_key=api_key, **who)
            else:
                tenant = _tenant_admin(request)
                saved = tenant_pool_member_update(
                    tenant=tenant, member=form.instance, values=values, api_key=api_key, **who
                )
        except (ServiceError, ValidationError) as refusal:
            add_refusal(form, refusal)
        else:
            verb = "added to" if created else "saved in"
            return _done(request, f"{saved.name} {verb} {saved.pool.name}.", f"pool-{saved.pool_id}")
    return _page(model_admin, request, bound={slot: form}, status=400)


def member_add_view(model_admin: admin.ModelAdmin, request: HttpRequest, pool_id: int) -> HttpResponse:
    _operator(request)
    pool = _pool_or_404(pool_id)
    return _save_member(model_admin, request, PoolMember(pool=pool), slot=f"add-{pool.pk}", prefix=f"add{pool.pk}")


def member_edit_view(model_admin: admin.ModelAdmin, request: HttpRequest, member_id: int) -> HttpResponse:
    member = _member_or_404(request, member_id)
    return _save_member(model_admin, request, member, slot=f"member-{member.pk}", prefix=f"m{member.pk}")


def own_member_add_view(model_admin: admin.ModelAdmin, request: HttpRequest) -> HttpResponse:
    """A tenant's admin adds a deployment to the tenant's own pool (when that is the pool it uses)."""
    pool = own_pool_in_use(_tenant_admin(request))
    if pool is None:
        raise Http404("this tenant's pool is not its own")
    return _save_member(model_admin, request, PoolMember(pool=pool), slot="add-own", prefix="addown")


def member_delete_view(model_admin: admin.ModelAdmin, request: HttpRequest, member_id: int) -> HttpResponse:
    member = _member_or_404(request, member_id)
    name, pool = member.name, member.pool
    who = {"actor": Actor.for_user(request.user), "origin": RequestOrigin.of(request)}
    if _operating(request):
        pool_member_delete(member=member, **who)
    else:
        try:
            tenant_pool_member_delete(tenant=_tenant_admin(request), member=member, **who)
        except ServiceError as refusal:
            messages.error(request, f"{name} was not deleted: {refusal.message}")
            return HttpResponseRedirect(reverse(PAGE) + f"#pool-{pool.pk}")
    return _done(request, f"{name} deleted from {pool.name}.", f"pool-{pool.pk}")


def members_bulk_view(model_admin: admin.ModelAdmin, request: HttpRequest) -> HttpResponse:
    """Enable or disable the ticked members: one service call (and audit event) each, as if edited one by one."""
    _operator(request)
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
    _operator(request)
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


@admin.register(DeploymentPool)
class DeploymentPoolAdmin(admin.ModelAdmin):
    """Pools are changed on the capacity page only (through the capacity services), never a model form."""

    def get_urls(self):
        view = self.admin_site.admin_view

        def bound(function):
            return view(require_GET(partial(function, self)))

        def write(function):
            return view(require_POST(partial(function, self)))

        return [
            path("", bound(capacity_view), name="generation_deploymentpool_changelist"),
            path("live/", bound(live_view), name="generation_capacity_live"),
            path("add/", write(pool_add_view), name="generation_deploymentpool_add"),
            path("<int:pool_id>/members/add/", write(member_add_view), name="generation_capacity_member_add"),
            path("own/members/add/", write(own_member_add_view), name="generation_capacity_own_member_add"),
            path("members/<int:member_id>/", write(member_edit_view), name="generation_capacity_member_edit"),
            path(
                "members/<int:member_id>/delete/", write(member_delete_view), name="generation_capacity_member_delete"
            ),
            path("members/bulk/", write(members_bulk_view), name="generation_capacity_members_bulk"),
            path("tenants/", write(tenant_assign_view), name="generation_capacity_tenant"),
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
