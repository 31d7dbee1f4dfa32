"""The life cycle of an asset version, in one place.

Issue-by-issue the review states slot in here; every status change goes through
`version_transition_allowed`, so no entry point can invent its own path.
"""

from __future__ import annotations

from django.db import models


class VersionStatus(models.TextChoices):
    DRAFT = "draft", "Draft"  # generated or uploaded, not yet released to storefronts


VERSION_TRANSITIONS: dict[str, frozenset[str]] = {
    VersionStatus.DRAFT: frozenset(),
}


def version_transition_allowed(current: str, new: str) -> bool:
    return new in VERSION_TRANSITIONS.get(current, frozenset())
