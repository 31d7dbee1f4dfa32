from rest_framework.routers import SimpleRouter

from dam.api import AssetViewSet

router = SimpleRouter(trailing_slash=False)
router.register("assets", AssetViewSet, basename="asset")
urlpatterns = router.urls
