"""The staff UI's own pages beyond the model admins (review board, costs, audit, policy editors, budgets,
webhooks), mounted on the admin site.

Their URL names are the ones `ui.navigation` lists. Here, in the UI shell, because one page draws on
several layers: the cost page's estimator needs generation's planner and the library's collection names,
and governance imports neither.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial

from django.contrib.admin import AdminSite
from django.urls import URLPattern, path
from django.views.generic import RedirectView

from dam.admin import exports as admin_exports
from dam.admin import review as admin_review
from dam.admin import webhooks as admin_webhooks
from dam.selectors.assets import collection_names
from generation.admin import estimator as admin_estimator
from governance.admin import audit as admin_audit
from governance.admin import budgets as admin_budgets
from governance.admin import costs as admin_costs
from governance.admin import policies as admin_policies


def governance_admin_urls(site: AdminSite) -> list[URLPattern]:
    def page(view: Callable) -> Callable:
        return site.admin_view(partial(view, site))

    return [
        # Review decisions moved to the asset library with the statuses they move; old bookmarks still land.
        path(
            "governance/reviewdecision/",
            site.admin_view(
                RedirectView.as_view(pattern_name="admin:dam_reviewdecision_changelist", query_string=True)
            ),
        ),
        path("governance/review/", page(admin_review.review_board_view), name="governance_review_board"),
        path("governance/review/bulk/", page(admin_review.review_bulk_view), name="governance_review_bulk"),
        path(
            "governance/review/<int:version_id>/decide/",
            page(admin_review.review_decide_view),
            name="governance_review_decide",
        ),
        path(
            "governance/costs/",
            page(partial(admin_costs.cost_dashboard_view, collection_names=collection_names)),
            name="governance_cost_dashboard",
        ),
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
        path("dam/export/", page(admin_exports.exports_view), name="dam_export_changelist"),
        # The asset browser's bulk bar posts its selection here (version_ids / asset_ids, or filters).
        path("dam/export/create/", page(admin_exports.export_create_view), name="dam_export_create"),
        path(
            "dam/export/<int:export_id>/progress/", page(admin_exports.export_progress_view), name="dam_export_progress"
        ),
        path(
            "dam/export/<int:export_id>/download/", page(admin_exports.export_download_view), name="dam_export_download"
        ),
    ]
