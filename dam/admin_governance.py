"""The governance pages of the staff UI (review board, costs, audit, policy editors, budgets, webhooks),
mounted on the admin site.

Their URL names are the ones `dam.admin_nav` lists. Here, in the project package, because the cost
page's estimator needs generation's planner and governance may not import generation.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial

from django.contrib.admin import AdminSite
from django.urls import URLPattern, path

from dam import admin_webhooks
from generation import admin_estimator
from governance import admin_audit, admin_budgets, admin_costs, admin_policies, admin_review


def governance_admin_urls(site: AdminSite) -> list[URLPattern]:
    def page(view: Callable) -> Callable:
        return site.admin_view(partial(view, site))

    return [
        path("governance/review/", page(admin_review.review_board_view), name="governance_review_board"),
        path(
            "governance/review/<int:version_id>/decide/",
            page(admin_review.review_decide_view),
            name="governance_review_decide",
        ),
        path("governance/costs/", page(admin_costs.cost_dashboard_view), name="governance_cost_dashboard"),
        path("governance/costs/estimate/", page(admin_estimator.estimator_view), name="governance_cost_estimate"),
        path("governance/audit/", page(admin_audit.audit_log_view), name="governance_audit_log"),
        path(
            "governance/policies/brand/",
            page(admin_policies.brand_policy_editor_view),
            name="governance_brand_policy_editor",
        ),
        path("governance/policies/safety/", page(admin_policies.safety_editor_view), name="governance_safety_editor"),
        path("governance/budgets/", page(admin_budgets.budgets_view), name="governance_budget_changelist"),
        path("dam/webhookendpoint/", page(admin_webhooks.webhooks_view), name="dam_webhookendpoint_changelist"),
        path(
            "dam/webhookendpoint/<int:endpoint_id>/action/",
            page(admin_webhooks.webhook_endpoint_action_view),
            name="dam_webhookendpoint_action",
        ),
        path(
            "dam/webhookdelivery/<int:delivery_id>/replay/",
            page(admin_webhooks.webhook_delivery_replay_view),
            name="dam_webhookdelivery_replay",
        ),
    ]
