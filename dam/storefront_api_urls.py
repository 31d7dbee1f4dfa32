"""API routes of the storefront, delivery settings and webhooks (mounted under /api/v1/)."""

from rest_framework.routers import SimpleRouter

from dam.delivery_api import DeliverySettingsViewSet, PublishWindowViewSet
from dam.storefront_api import StorefrontAssetViewSet
from dam.webhooks.api import WebhookDeliveryViewSet, WebhookEndpointViewSet

router = SimpleRouter(trailing_slash=False)
router.register("storefront/assets", StorefrontAssetViewSet, basename="storefront-asset")
router.register("publish-windows", PublishWindowViewSet, basename="publish-window")
router.register("delivery-settings", DeliverySettingsViewSet, basename="delivery-settings")
router.register("webhooks", WebhookEndpointViewSet, basename="webhook")
router.register("webhook-deliveries", WebhookDeliveryViewSet, basename="webhook-delivery")
urlpatterns = router.urls
