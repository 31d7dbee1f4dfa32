"""Routes of generation's API under /api/v1/: jobs, campaigns, the workload cost estimate, capacity."""

from django.urls import include, path
from rest_framework.routers import SimpleRouter

from generation.api.campaigns import CampaignViewSet
from generation.api.capacity import CapacityView, PoolMemberViewSet, ProviderAttemptViewSet, ReconcileView
from generation.api.estimates import CostEstimateView
from generation.api.jobs import JobViewSet

router = SimpleRouter(trailing_slash=False)
router.register("jobs", JobViewSet, basename="job")
router.register("campaigns", CampaignViewSet, basename="campaign")
router.register("capacity/pool/members", PoolMemberViewSet, basename="capacity-pool-member")
router.register("provider-attempts", ProviderAttemptViewSet, basename="provider-attempt")
api_v1 = [
    path("costs/estimate", CostEstimateView.as_view(), name="costs-estimate"),
    path("capacity", CapacityView.as_view(), name="capacity"),
    path("provider-usage/reconcile", ReconcileView.as_view(), name="provider-usage-reconcile"),
    *router.urls,
]
urlpatterns = [path("api/v1/", include(api_v1))]
