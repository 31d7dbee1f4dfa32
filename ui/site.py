"""The staff UI's admin site: a per-tenant dashboard as the home page (`ui.dashboard`), the tenant
switcher, the nav (`ui.navigation`) and the UI's own pages (`ui.pages`)."""

from __future__ import annotations

from typing import Any

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_POST

from tenants.models import Scope
from ui.dashboard import all_tenants_overview, month_spend, tenant_dashboard

# Django builds this site lazily, at the first `@admin.register` anywhere, in the middle of importing some
# app's admin package: what this module imports at load time must not import an admin package (each one
# registers its model admins when imported). The site's methods import them when they run.


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
            context.update(tenant_dashboard(tenant, can_read=tenant_context.can(Scope.ASSETS_READ)))
            if tenant_context.can(Scope.COSTS_READ):
                context["spend"] = month_spend(tenant)
        elif tenant_context.all_tenants:
            context["tenant_rows"] = all_tenants_overview()
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
