"""Changes to webhook endpoints, publish windows and delivery settings are on the audit trail."""

import pytest

from governance.models import AuditEvent
from tests.factories import make_asset

pytestmark = pytest.mark.django_db


def _actions(tenant) -> list[str]:
    return list(AuditEvent.objects.for_tenant(tenant).order_by("seq").values_list("action", flat=True))


def test_webhook_endpoint_changes_are_audited_without_the_secret(alice):
    api = alice.client()
    created = api.post(
        "/api/v1/webhooks", {"url": "https://hooks.example/dam", "events": ["job.succeeded"]}, format="json"
    )
    assert created.status_code == 201, created.content
    endpoint_id, secret = created.json()["id"], created.json()["secret"]
    assert api.patch(f"/api/v1/webhooks/{endpoint_id}", {"active": False}, format="json").status_code == 200
    assert api.post(f"/api/v1/webhooks/{endpoint_id}/rotate-secret").status_code == 200
    assert api.delete(f"/api/v1/webhooks/{endpoint_id}").status_code == 204
    actions = _actions(alice.tenant)
    assert [a for a in actions if a.startswith("webhook.")] == [
        "webhook.created",
        "webhook.updated",
        "webhook.secret_rotated",
        "webhook.deleted",
    ]
    events = AuditEvent.objects.for_tenant(alice.tenant).filter(action__startswith="webhook.")
    assert all(secret not in str(event.payload) for event in events)
    assert {event.actor_label for event in events} == {f"api-key:{alice.api_key.prefix}"}


def test_publish_window_and_delivery_settings_changes_are_audited(alice):
    version = make_asset(alice.tenant).current_version
    api = alice.client()
    window = {"available_from": "2026-12-01T00:00:00Z", "available_until": "2027-01-01T00:00:00Z"}
    assert api.put(f"/api/v1/publish-windows/{version.pk}", window, format="json").status_code == 200
    assert (
        api.put("/api/v1/delivery-settings/current", {"signed_urls_required": True}, format="json").status_code == 200
    )
    actions = _actions(alice.tenant)
    assert "publish_window.set" in actions and "delivery_settings.updated" in actions
