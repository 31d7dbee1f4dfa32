from django.conf import settings
from django.contrib import admin
from django.urls import include, path

from dam.health import healthz

urlpatterns = [
    path("healthz", healthz, name="healthz"),
    path("admin/", admin.site.urls),
    path("api/v1/", include("tenants.urls")),
    path("api/v1/", include("dam.api_urls")),
    path("api/v1/", include("generation.api_urls")),
    path("api/v1/", include("governance.api_safety_urls")),
    path("api/v1/", include("governance.api_urls")),
    path("api/v1/", include("generation.api_costs")),
    path("api/v1/", include("dam.storefront_api_urls")),
    path("", include("dam.delivery_urls")),
]

if settings.DEBUG:
    from django.contrib.staticfiles.urls import staticfiles_urlpatterns

    # The admin's and the UI's static files under any server in development (runserver did this itself;
    # `make run` serves with gunicorn). Production collects them (Dockerfile) and serves them in front.
    urlpatterns += staticfiles_urlpatterns()

if settings.DEBUG and settings.STORAGE_BACKEND == "local":
    from django.conf.urls.static import static

    urlpatterns += static(settings.MEDIA_URL, document_root=settings.MEDIA_ROOT)
