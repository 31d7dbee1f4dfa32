from django.urls import path
from rest_framework.routers import SimpleRouter

from dam.api import AssetViewSet
from dam.library_api import CollectionViewSet, LibrarySettingsView

router = SimpleRouter(trailing_slash=False)
router.register("assets", AssetViewSet, basename="asset")
router.register("collections", CollectionViewSet, basename="collection")
urlpatterns = [*router.urls, path("library-settings", LibrarySettingsView.as_view(), name="library-settings")]
