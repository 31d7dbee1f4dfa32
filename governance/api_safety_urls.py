"""Routes of the safety configuration and review endpoints (included under /api/v1/)."""

from django.urls import path
from rest_framework.routers import SimpleRouter

from governance.api_review import (
    ReviewQueueViewSet,
    VersionApproveView,
    VersionPublishView,
    VersionRejectView,
    VersionReviewHistoryView,
    VersionUnpublishView,
)
from governance.api_safety import SafetyConfigViewSet

router = SimpleRouter(trailing_slash=False)
router.register("safety-config", SafetyConfigViewSet, basename="safety-config")
router.register("reviews", ReviewQueueViewSet, basename="review")

_version = "assets/<int:pk>/versions/<int:number>"
urlpatterns = [
    path(f"{_version}/approve", VersionApproveView.as_view(), name="asset-version-approve"),
    path(f"{_version}/reject", VersionRejectView.as_view(), name="asset-version-reject"),
    path(f"{_version}/publish", VersionPublishView.as_view(), name="asset-version-publish"),
    path(f"{_version}/unpublish", VersionUnpublishView.as_view(), name="asset-version-unpublish"),
    path(f"{_version}/reviews", VersionReviewHistoryView.as_view(), name="asset-version-reviews"),
    *router.urls,
]
