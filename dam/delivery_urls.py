"""Byte delivery (/d/...) and the API's schema and interactive docs (mounted at the root)."""

from django.urls import path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView

from dam.delivery import serve_current, serve_version

urlpatterns = [
    path("d/current/<int:asset_id>/<slug:placement_slug>", serve_current, name="delivery-current"),
    path("d/<int:version_id>/<str:spec>/<str:filename>", serve_version, name="delivery-version"),
    path("api/schema/", SpectacularAPIView.as_view(), name="api-schema"),
    # The split view serves Swagger UI's start-up script as a file (?script): no inline script under the CSP.
    path("api/docs/", SpectacularSwaggerSplitView.as_view(url_name="api-schema"), name="api-docs"),
]
