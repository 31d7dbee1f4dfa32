from django.urls import path
from rest_framework.routers import SimpleRouter

from tenants.api import ApiKeyViewSet, CurrentTenantView, MembershipViewSet
from tenants.brand_api import BrandPolicyViewSet, PlacementViewSet

router = SimpleRouter(trailing_slash=False)
router.register("api-keys", ApiKeyViewSet, basename="api-key")
router.register("memberships", MembershipViewSet, basename="membership")
router.register("brand-policy", BrandPolicyViewSet, basename="brand-policy")
router.register("placements", PlacementViewSet, basename="placement")

urlpatterns = [path("tenant", CurrentTenantView.as_view(), name="current-tenant"), *router.urls]
