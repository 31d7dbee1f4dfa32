"""Routes of governance's API under /api/v1/: safety configuration, audit trail, budgets, costs."""

from django.urls import include, path
from rest_framework.routers import SimpleRouter

from governance.api.audit import AuditEventViewSet
from governance.api.costs import BudgetViewSet, LedgerEntryViewSet, PriceBookView, SpendReportView
from governance.api.safety import SafetyConfigViewSet

router = SimpleRouter(trailing_slash=False)
router.register("safety-config", SafetyConfigViewSet, basename="safety-config")
router.register("audit", AuditEventViewSet, basename="audit-event")
router.register("budgets", BudgetViewSet, basename="budget")
router.register("costs/ledger", LedgerEntryViewSet, basename="ledger-entry")

api_v1 = [
    path("costs/spend", SpendReportView.as_view(), name="costs-spend"),
    path("costs/prices", PriceBookView.as_view(), name="costs-prices"),
    *router.urls,
]
urlpatterns = [path("api/v1/", include(api_v1))]
