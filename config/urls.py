"""The project's URLs: health, the staff UI, the API schema, and each app's routes."""

from django.conf import settings
from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView

from config.health import healthz

urlpatterns = [
    path("healthz", healthz, name="healthz"),
    path("admin/", admin.site.urls),
    path("api/schema/", SpectacularAPIView.as_view(), name="api-schema"),
    # The split view serves Swagger UI's start-up script as a file (?script): no inline script under the CSP.
    path("api/docs/", SpectacularSwaggerSplitView.as_view(url_name="api-schema"), name="api-docs"),
    # Each app's one urls.py, with its full paths (/api/v1/..., and the library's public /d/...).
    path("", include("tenants.api.urls")),
    path("", include("dam.api.urls")),
    path("", include("generation.api.urls")),
    path("", include("governance.api.urls")),
]

if settings.DEBUG:
    from django.contrib.staticfiles.urls import staticfiles_urlpatterns

    # The admin's and the UI's static files under any server in development (runserver did this itself;
    # `make run` serves with gunicorn). Production collects them (Dockerfile) and serves them in front.
    urlpatterns += staticfiles_urlpatterns()

if settings.DEBUG and settings.STORAGE_BACKEND == "local":
    from django.conf.urls.static import static

    urlpatterns += static(settings.MEDIA_URL, document_root=settings.MEDIA_ROOT)
