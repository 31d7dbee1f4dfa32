from django.urls import path
from rest_framework.routers import SimpleRouter

from governance.api_audit import AuditEventViewSet
from governance.api_costs import BudgetViewSet, LedgerEntryViewSet, PriceBookView, SpendReportView

router = SimpleRouter(trailing_slash=False)
router.register("audit", AuditEventViewSet, basename="audit-event")
router.register("budgets", BudgetViewSet, basename="budget")
router.register("costs/ledger", LedgerEntryViewSet, basename="ledger-entry")

urlpatterns = [
    path("costs/spend", SpendReportView.as_view(), name="costs-spend"),
    path("costs/prices", PriceBookView.as_view(), name="costs-prices"),
    *router.urls,
]
