from django.urls import path
from rest_framework.routers import SimpleRouter

from tenants.api import ApiKeyViewSet, CurrentTenantView, MembershipViewSet

router = SimpleRouter(trailing_slash=False)
router.register("api-keys", ApiKeyViewSet, basename="api-key")
router.register("memberships", MembershipViewSet, basename="membership")

urlpatterns = [path("tenant", CurrentTenantView.as_view(), name="current-tenant"), *router.urls]
