"""Review decisions through the API, and the state a refused decision must leave untouched."""

from __future__ import annotations

from rest_framework.test import APIClient

from dam.models import AssetVersion, ReviewDecision
from governance.models import AuditEvent
from tests.support.errors import error_codes


def approve(client: APIClient, version: AssetVersion):
    return client.post(f"/api/v1/assets/{version.asset_id}/versions/{version.number}/approve", {}, format="json")


def review_state(version: AssetVersion) -> tuple[str, int, int]:
    """The version's status and the tenant's decision and audit event counts."""
    version.refresh_from_db()
    tenant = version.tenant_id
    return (
        version.status,
        ReviewDecision.objects.for_tenant(tenant).count(),
        AuditEvent.objects.for_tenant(tenant).count(),
    )


def refused_by_four_eyes(response) -> bool:
    return response.status_code == 403 and "four_eyes" in error_codes(response)
