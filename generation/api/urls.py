"""Routes of generation's API under /api/v1/: jobs, campaigns and the workload cost estimate."""

from django.urls import include, path
from rest_framework.routers import SimpleRouter

from generation.api.campaigns import CampaignViewSet
from generation.api.estimates import CostEstimateView
from generation.api.jobs import JobViewSet

router = SimpleRouter(trailing_slash=False)
router.register("jobs", JobViewSet, basename="job")
router.register("campaigns", CampaignViewSet, basename="campaign")
api_v1 = [path("costs/estimate", CostEstimateView.as_view(), name="costs-estimate"), *router.urls]
urlpatterns = [path("api/v1/", include(api_v1))]
