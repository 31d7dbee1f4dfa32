"""The life cycle of an asset version, in one place.

Every status change is a conditional UPDATE whose allowed sources come from here
(`version_sources`, `review_action_sources`), so no entry point (API, admin, task) can invent
its own path. Storefronts see only `STOREFRONT_VISIBLE` versions.

A generated version starts `blocked` (moderation quarantined it: kept for audit, never served),
`needs_review` or `approved`: governance's moderation and the tenant's review rule decide a
`SafetyDecision` (`governance.safety.moderation.safety_decision`), and `initial_status` maps it here.
Review decisions (`REVIEW_ACTIONS`) move it on; each names the statuses it may start from, a
subset of the transitions below.
"""

from __future__ import annotations

from django.db import models

from governance.safety.moderation import SafetyDecision


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
# Never served by any endpoint, to anyone: no URL is ever handed out for these bytes.
NEVER_SERVED = frozenset({VersionStatus.BLOCKED})


class ReviewAction(models.TextChoices):
    APPROVE = "approve", "Approve"
    REJECT = "reject", "Reject"
    PUBLISH = "publish", "Publish"
    UNPUBLISH = "unpublish", "Unpublish"


# action -> (the statuses it may start from, the status it leads to)
REVIEW_ACTIONS: dict[str, tuple[frozenset[str], str]] = {
    ReviewAction.APPROVE: (frozenset({VersionStatus.NEEDS_REVIEW}), VersionStatus.APPROVED),
    ReviewAction.REJECT: (frozenset({VersionStatus.NEEDS_REVIEW, VersionStatus.APPROVED}), VersionStatus.REJECTED),
    ReviewAction.PUBLISH: (frozenset({VersionStatus.APPROVED}), VersionStatus.PUBLISHED),
    ReviewAction.UNPUBLISH: (frozenset({VersionStatus.PUBLISHED}), VersionStatus.APPROVED),
}


def version_sources(new: str) -> frozenset[str]:
    """The statuses a version may move to `new` from (for conditional UPDATEs)."""
    return frozenset(status for status, targets in VERSION_TRANSITIONS.items() if new in targets)


def review_action_sources(action: str) -> tuple[frozenset[str], str]:
    """(from statuses, to status) of a review action; every pair is an allowed transition."""
    sources, target = REVIEW_ACTIONS[action]
    return sources & version_sources(target), target


def is_servable(status: str, *, storefront: bool) -> bool:
    """Whether bytes of a version in `status` may be handed out (a URL) to this kind of caller."""
    if status in NEVER_SERVED:
        return False
    return status in STOREFRONT_VISIBLE if storefront else True


INITIAL_STATUS: dict[SafetyDecision, str] = {
    SafetyDecision.QUARANTINE: VersionStatus.BLOCKED,
    SafetyDecision.REVIEW: VersionStatus.NEEDS_REVIEW,
    SafetyDecision.CLEAR: VersionStatus.APPROVED,
}


def initial_status(decision: SafetyDecision) -> str:
    """The status a new version starts in, from what moderation and the review rule decided."""
    return INITIAL_STATUS[decision]
