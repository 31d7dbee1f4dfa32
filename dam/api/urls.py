"""Routes of the asset library: its API under /api/v1/ (assets, collections, library settings, review,
storefront, delivery settings, webhooks, exports, bulk operations) and the public byte delivery under /d/."""

from django.urls import include, path
from rest_framework.routers import SimpleRouter

from dam.api.assets import AssetViewSet
from dam.api.bulk import BulkOperationViewSet
from dam.api.checks import VersionChecksView
from dam.api.credentials import VerifyView, VersionCredentialsView
from dam.api.delivery import DeliverySettingsViewSet, PublishWindowViewSet
from dam.api.exports import ExportViewSet
from dam.api.library import CollectionViewSet, LibrarySettingsView
from dam.api.review import (
    BulkReviewView,
    ReviewQueueViewSet,
    VersionApproveView,
    VersionPublishView,
    VersionRejectView,
    VersionReviewHistoryView,
    VersionUnpublishView,
)
from dam.api.serving import serve_current, serve_version
from dam.api.storefront import StorefrontAssetViewSet
from dam.api.webhooks import WebhookDeliveryViewSet, WebhookEndpointViewSet

library = SimpleRouter(trailing_slash=False)
library.register("assets", AssetViewSet, basename="asset")
library.register("collections", CollectionViewSet, basename="collection")
library.register("reviews", ReviewQueueViewSet, basename="review")
library.register("storefront/assets", StorefrontAssetViewSet, basename="storefront-asset")
library.register("publish-windows", PublishWindowViewSet, basename="publish-window")
library.register("delivery-settings", DeliverySettingsViewSet, basename="delivery-settings")
library.register("webhooks", WebhookEndpointViewSet, basename="webhook")
library.register("webhook-deliveries", WebhookDeliveryViewSet, basename="webhook-delivery")
library.register("exports", ExportViewSet, basename="export")
library.register("bulk-operations", BulkOperationViewSet, basename="bulk-operation")

_version = "assets/<int:pk>/versions/<int:number>"
api_v1 = [
    path("library-settings", LibrarySettingsView.as_view(), name="library-settings"),
    path(f"{_version}/approve", VersionApproveView.as_view(), name="asset-version-approve"),
    path(f"{_version}/reject", VersionRejectView.as_view(), name="asset-version-reject"),
    path(f"{_version}/publish", VersionPublishView.as_view(), name="asset-version-publish"),
    path(f"{_version}/unpublish", VersionUnpublishView.as_view(), name="asset-version-unpublish"),
    path(f"{_version}/reviews", VersionReviewHistoryView.as_view(), name="asset-version-reviews"),
    path(f"{_version}/checks", VersionChecksView.as_view(), name="asset-version-checks"),
    path(f"{_version}/credentials", VersionCredentialsView.as_view(), name="asset-version-credentials"),
    path("verify", VerifyView.as_view(), name="verify"),
    path("reviews/bulk", BulkReviewView.as_view(), name="review-bulk"),
    *library.urls,
]

urlpatterns = [
    path("api/v1/", include(api_v1)),
    path("d/current/<int:asset_id>/<slug:placement_slug>", serve_current, name="delivery-current"),
    path("d/<int:version_id>/<str:spec>/<str:filename>", serve_version, name="delivery-version"),
]
