"""The staff UI's admin site: a per-tenant dashboard as the home page, the tenant switcher, the nav.

Part of the project package (like config/urls.py), so it may read from every app.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db.models import Count, Q, Sum
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_POST

from dam.lifecycle import VersionStatus
from dam.models import Asset
from dam.selectors.assets import assets_for_tenant
from generation.lifecycle import JobState
from generation.models import Job, ProviderResponse
from generation.selectors.jobs import jobs_for_tenant
from governance.periods import month_of
from governance.selectors.reports import spend_total
from governance.services.budgets import budget_status, budgets_for_tenant
from tenants.models import Scope, Tenant

# Django builds this site lazily, at the first `@admin.register` anywhere, in the middle of importing some
# app's admin package: what this module imports at load time must not import an admin package (each one
# registers its model admins when imported). The site's methods import them when they run.
RECENT_JOBS = 8
RECENT_ASSETS = 12


class DamAdminSite(admin.AdminSite):
    site_header = "Brand imagery"
    site_title = "DAM"
    index_title = "Dashboard"
    index_template = "admin/ui/dashboard.html"
    enable_nav_sidebar = False  # the top bar (ui.navigation) replaces the model-list sidebar

    def each_context(self, request: HttpRequest) -> dict[str, Any]:
        from tenants.admin.base import admin_tenant_context
        from ui.navigation import nav_links

        context = super().each_context(request)
        tenant_context = admin_tenant_context(request)
        context["tenant_context"] = tenant_context
        context["nav"] = nav_links(path=request.path, context=tenant_context)
        return context

    def get_urls(self):
        from ui.pages import governance_admin_urls

        urls = [
            path("switch-tenant/", self.admin_view(require_POST(self.switch_tenant)), name="switch_tenant"),
            path("data/", self.admin_view(self.data_index), name="data_index"),
            *governance_admin_urls(self),
        ]
        return urls + super().get_urls()

    def index(self, request: HttpRequest, extra_context: dict[str, Any] | None = None) -> TemplateResponse:
        from tenants.admin.base import admin_tenant_context

        tenant_context = admin_tenant_context(request)
        context = {**self.each_context(request), "title": self.index_title, **(extra_context or {})}
        if tenant_context.tenant is not None:
            tenant = tenant_context.tenant
            context.update(_tenant_dashboard(tenant, can_read=tenant_context.can(Scope.ASSETS_READ)))
            if tenant_context.can(Scope.COSTS_READ):
                context["spend"] = _month_spend(tenant)
        elif tenant_context.all_tenants:
            context["tenant_rows"] = _all_tenants_overview()
        request.current_app = self.name
        return TemplateResponse(request, self.index_template, context)

    def data_index(self, request: HttpRequest) -> TemplateResponse:
        """The stock list of every model the user may open (for admins; the nav hides it from others)."""
        from tenants.admin.base import admin_tenant_context

        if not admin_tenant_context(request).can(Scope.ADMIN):
            raise PermissionDenied
        context = {**self.each_context(request), "title": "All data", "app_list": self.get_app_list(request)}
        request.current_app = self.name
        return TemplateResponse(request, "admin/index.html", context)

    def switch_tenant(self, request: HttpRequest) -> HttpResponse:
        from tenants.admin.base import tenant_switch

        try:
            switched = tenant_switch(request, slug=request.POST.get("tenant", "").strip())
        except PermissionDenied as exc:
            messages.error(request, str(exc))
            return HttpResponseRedirect(reverse("admin:index"))
        label = switched.tenant.name if switched.tenant else "all tenants"
        messages.success(request, f"Now working in {label}.")
        return HttpResponseRedirect(_section_of(request.POST.get("next", ""), request))


def _section_of(next_url: str, request: HttpRequest) -> str:
    """Where to land after switching: the same list page, never an object of the previous tenant."""
    index = reverse("admin:index")
    if not next_url or not url_has_allowed_host_and_scheme(next_url, {request.get_host()}):
        return index
    parts = [p for p in next_url.split("?", maxsplit=1)[0][len(index) :].split("/") if p]
    if next_url.startswith(index) and len(parts) >= 2 and parts[0] != "data":
        return f"{index}{parts[0]}/{parts[1]}/"
    return index


def _month_start(tenant: Tenant) -> datetime:
    local = timezone.now().astimezone(ZoneInfo(tenant.time_zone))
    return local.replace(day=1, hour=0, minute=0, second=0, microsecond=0)


def _tenant_dashboard(tenant: Tenant, *, can_read: bool) -> dict[str, Any]:
    if not can_read:
        return {}
    assets = assets_for_tenant(tenant=tenant)
    jobs = jobs_for_tenant(tenant=tenant)
    job_counts = Job.objects.for_tenant(tenant).aggregate(
        active=Count("id", filter=Q(state__in=[JobState.QUEUED, JobState.RUNNING])),
        failed=Count("id", filter=Q(state=JobState.FAILED)),
        total=Count("id"),
    )
    month_tokens = (
        ProviderResponse.objects.for_tenant(tenant)
        .filter(created_at__gte=_month_start(tenant))
        .aggregate(output=Sum("output_tokens"), total=Sum("total_tokens"), calls=Count("id"))
    )
    return {
        "kpis": {
            "assets": assets.count(),
            "needs_review": assets.filter(current_version__status=VersionStatus.NEEDS_REVIEW).count(),
            "approved": assets.filter(
                current_version__status__in=[VersionStatus.APPROVED, VersionStatus.PUBLISHED]
            ).count(),
            "jobs_active": job_counts["active"],
            "jobs_failed": job_counts["failed"],
            "jobs_total": job_counts["total"],
            "month_output_tokens": month_tokens["output"] or 0,
            "month_total_tokens": month_tokens["total"] or 0,
            "month_calls": month_tokens["calls"],
        },
        "recent_jobs": list(jobs[:RECENT_JOBS]),
        "recent_assets": list(assets[:RECENT_ASSETS]),
    }


def _month_spend(tenant: Tenant) -> dict[str, Any]:
    """Month-to-date spend (tenant time zone) and the tenant-wide budget, if one is set."""
    now = timezone.now()
    period = month_of(now, tenant.time_zone)
    today = timezone.localtime(now, ZoneInfo(tenant.time_zone)).date()
    spent = spend_total(tenant=tenant, start=period, end=today)
    budget = budgets_for_tenant(tenant=tenant).filter(api_key__isnull=True, active=True).first()
    status = budget_status(budget=budget, at=now) if budget else None
    percent = None
    if status and status.limit_usd:
        percent = min(100, round(100 * (status.charged_usd + status.held_usd) / status.limit_usd))
    return {"spent_usd": spent, "budget": status, "percent": percent}


def _all_tenants_overview() -> list[dict[str, Any]]:
    # A superuser's cross-tenant view: the only reads here that name no tenant, on purpose.
    assets = dict(Asset.unscoped.values_list("tenant_id").annotate(n=Count("id")))
    jobs = dict(Job.unscoped.values_list("tenant_id").annotate(n=Count("id")))
    active = dict(
        Job.unscoped.filter(state__in=[JobState.QUEUED, JobState.RUNNING])
        .values_list("tenant_id")
        .annotate(n=Count("id"))
    )
    return [
        {"tenant": t, "assets": assets.get(t.pk, 0), "jobs": jobs.get(t.pk, 0), "active": active.get(t.pk, 0)}
        for t in Tenant.objects.order_by("name")
    ]
