"""Routes of the tenants' API under /api/v1/: the current tenant, API keys, memberships, brand policy,
placements."""

from django.urls import include, path
from rest_framework.routers import SimpleRouter

from tenants.api.brand import BrandPolicyViewSet, PlacementViewSet
from tenants.api.tenancy import ApiKeyViewSet, CurrentTenantView, MembershipViewSet

router = SimpleRouter(trailing_slash=False)
router.register("api-keys", ApiKeyViewSet, basename="api-key")
router.register("memberships", MembershipViewSet, basename="membership")
router.register("brand-policy", BrandPolicyViewSet, basename="brand-policy")
router.register("placements", PlacementViewSet, basename="placement")

api_v1 = [path("tenant", CurrentTenantView.as_view(), name="current-tenant"), *router.urls]
urlpatterns = [path("api/v1/", include(api_v1))]
