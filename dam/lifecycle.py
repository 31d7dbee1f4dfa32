"""The life cycle of an asset version, in one place.

Every status change goes through `version_transition_allowed`, so no entry point (API,
admin, task) can invent its own path. Storefronts see only `STOREFRONT_VISIBLE` versions.
"""

from __future__ import annotations

from django.db import models


class VersionStatus(models.TextChoices):
    NEEDS_REVIEW = "needs_review", "Needs review"
    APPROVED = "approved", "Approved"
    REJECTED = "rejected", "Rejected"
    PUBLISHED = "published", "Published"
    BLOCKED = "blocked", "Blocked"  # quarantined by moderation: kept for audit, never served


VERSION_TRANSITIONS: dict[str, frozenset[str]] = {
    VersionStatus.NEEDS_REVIEW: frozenset({VersionStatus.APPROVED, VersionStatus.REJECTED, VersionStatus.BLOCKED}),
    VersionStatus.APPROVED: frozenset({VersionStatus.PUBLISHED, VersionStatus.REJECTED, VersionStatus.BLOCKED}),
    VersionStatus.PUBLISHED: frozenset({VersionStatus.APPROVED, VersionStatus.BLOCKED}),
    VersionStatus.REJECTED: frozenset({VersionStatus.NEEDS_REVIEW}),
    VersionStatus.BLOCKED: frozenset(),
}
STOREFRONT_VISIBLE = frozenset({VersionStatus.APPROVED, VersionStatus.PUBLISHED})


def version_transition_allowed(current: str, new: str) -> bool:
    return new in VERSION_TRANSITIONS.get(current, frozenset())


def version_sources(new: str) -> frozenset[str]:
    """The statuses a version may move to `new` from (for conditional UPDATEs)."""
    return frozenset(status for status, targets in VERSION_TRANSITIONS.items() if new in targets)
