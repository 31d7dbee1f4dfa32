"""The staff UI's navigation, in one place.

Entries whose URL does not exist yet are left out, so a page built later (review board, cost
dashboard, audit viewer, policy editors) appears once its admin URL carries the name listed
here; entries the role's scopes do not cover are left out too.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.urls import NoReverseMatch, reverse

from tenants.admin.base import AdminTenantContext
from tenants.models import Scope

SUPERUSER_ONLY = "superuser"


@dataclass(frozen=True)
class NavItem:
    label: str
    url_name: str
    scope: str | None  # the scope the role needs; None: anyone signed in; SUPERUSER_ONLY
    section: str = "main"  # "main" (the top bar) or "settings" (the settings menu)
    needs_tenant: bool = False  # acts in one tenant, so hidden in the superuser's all-tenants view


NAV: tuple[NavItem, ...] = (
    NavItem("Dashboard", "admin:index", None),
    NavItem("Assets", "admin:dam_asset_changelist", Scope.ASSETS_READ),
    NavItem("Generate", "admin:generation_job_generate", Scope.JOBS_WRITE, needs_tenant=True),
    NavItem("Campaigns", "admin:generation_campaign_changelist", Scope.JOBS_READ, needs_tenant=True),
    NavItem("Jobs", "admin:generation_job_changelist", Scope.JOBS_READ),
    NavItem("Exports", "admin:dam_export_changelist", Scope.ASSETS_READ, needs_tenant=True),
    # Second wave (governance): shown once these admin URLs exist.
    NavItem("Review", "admin:governance_review_board", Scope.REVIEWS_WRITE, needs_tenant=True),
    NavItem("Costs", "admin:governance_cost_dashboard", Scope.COSTS_READ),
    NavItem("Audit", "admin:governance_audit_log", Scope.ADMIN),
    # Settings menu.
    NavItem("Brand policy", "admin:governance_brand_policy_editor", Scope.ADMIN, "settings", needs_tenant=True),
    NavItem("Brand policy versions", "admin:tenants_brandpolicy_changelist", Scope.ASSETS_READ, "settings"),
    NavItem("Safety", "admin:governance_safety_editor", Scope.ADMIN, "settings", needs_tenant=True),
    NavItem("Budgets", "admin:governance_budget_changelist", Scope.ADMIN, "settings"),
    NavItem("Placements", "admin:tenants_placement_changelist", Scope.ASSETS_READ, "settings"),
    NavItem("Collections", "admin:dam_collection_changelist", Scope.ASSETS_READ, "settings"),
    NavItem("Members", "admin:tenants_membership_changelist", Scope.ADMIN, "settings"),
    NavItem("API keys", "admin:tenants_apikey_changelist", Scope.ADMIN, "settings"),
    NavItem("Webhooks", "admin:dam_webhookendpoint_changelist", Scope.ADMIN, "settings"),
    NavItem("Deployments", "admin:generation_deployment_changelist", SUPERUSER_ONLY, "settings"),
    NavItem("Capacity", "admin:generation_deploymentpool_changelist", Scope.ADMIN, "settings"),
    NavItem("Tenants", "admin:tenants_tenant_changelist", SUPERUSER_ONLY, "settings"),
    NavItem("All data", "admin:data_index", Scope.ADMIN, "settings"),
)


@dataclass(frozen=True)
class NavLink:
    label: str
    url: str
    active: bool


def _visible(item: NavItem, context: AdminTenantContext) -> bool:
    if item.needs_tenant and context.tenant is None:
        return False
    if item.scope == SUPERUSER_ONLY:
        return context.is_superuser
    return item.scope is None or context.can(item.scope)


def nav_links(*, path: str, context: AdminTenantContext) -> dict[str, list[NavLink]]:
    """{"main": [...], "settings": [...]}, with the entry the current path falls under marked active."""
    resolved: list[tuple[NavItem, str]] = []
    for item in NAV:
        if not _visible(item, context):
            continue
        try:
            resolved.append((item, reverse(item.url_name)))
        except NoReverseMatch:
            continue
    # The longest matching URL wins: /admin/generation/job/generate/ is Generate, not Jobs.
    index = reverse("admin:index")
    matches = [url for _, url in resolved if path.startswith(url) and url != index]
    active_url = max(matches, key=len) if matches else (index if path == index else "")
    links: dict[str, list[NavLink]] = {"main": [], "settings": []}
    for item, url in resolved:
        links[item.section].append(NavLink(item.label, url, url == active_url))
    return links
