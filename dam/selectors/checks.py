"""Reads of a version's deterministic checks (dam.services.checks writes them)."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet

from dam.models import AssetVersion, ChecksState, VersionCheck


def version_checks(*, version: AssetVersion) -> QuerySet[VersionCheck]:
    return VersionCheck.objects.for_tenant(version.tenant_id).filter(version=version).order_by("kind", "placement")


def checks_overview(version: AssetVersion) -> dict[str, Any]:
    """What every list says of a version's checks, from the version row alone (no query): the state, the copy
    verdict and the brand score (checks passed / checks run)."""
    summary = version.checks_summary or {}
    return {
        "state": version.checks_state or "none",
        "copy": summary.get("copy"),
        "brand_score": summary.get("brand_score") if version.checks_state == ChecksState.DONE else None,
        "checks": summary.get("checks", []),
    }
