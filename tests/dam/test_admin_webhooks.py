"""Webhooks page: an admin registers an endpoint (secret shown once), pauses it, rotates its secret,
replays a delivery and deletes it, all through the services (audited); a viewer gets 403 and changes
nothing; another tenant's endpoints and deliveries are invisible and untouchable (404)."""

from __future__ import annotations

import pytest
from django.test import Client

from dam.models import WebhookDelivery, WebhookEndpoint
from dam.services.webhooks import webhook_emit, webhook_endpoint_create
from dam.webhooks.secrets import decrypt_signing_secret
from governance.models import AuditEvent

pytestmark = pytest.mark.django_db

WEBHOOKS = "/admin/dam/webhookendpoint/"
URL = "https://hooks.example.com/dam"


@pytest.fixture(autouse=True)
def _public_targets(settings):
    settings.WEBHOOK_ALLOW_PRIVATE_TARGETS = True  # no DNS in tests


def _client(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def _actions(tenant) -> list[str]:
    return list(AuditEvent.objects.for_tenant(tenant).filter(actor_label="user:alice").values_list("action", flat=True))


def test_an_admin_manages_an_endpoint_through_the_page(alice):
    client = _client(alice.user)
    created = client.post(WEBHOOKS, {"url": URL, "description": "shop", "events": ["job.failed", "asset.approved"]})
    assert created.status_code == 200
    endpoint = WebhookEndpoint.objects.for_tenant(alice.tenant).get()
    assert (endpoint.url, endpoint.events, endpoint.active) == (URL, ["job.failed", "asset.approved"], True)
    secret = created.context["revealed"].secret
    assert secret in created.content.decode() and decrypt_signing_secret(endpoint.secret_encrypted) == secret
    assert secret not in client.get(WEBHOOKS).content.decode()  # shown once
    assert "webhook.created" in _actions(alice.tenant)

    webhook_emit(tenant=alice.tenant, event="job.failed", payload={"job": 1})
    delivery = WebhookDelivery.objects.for_tenant(alice.tenant).get()
    page = client.get(WEBHOOKS)
    assert [d.pk for d in page.context["rows"][0]["deliveries"]] == [delivery.pk]
    assert "Pending" in page.content.decode()

    edit = {"op": "edit", "url": URL + "/v2", "description": "shop v2", "events": ["job.succeeded"]}
    assert client.post(f"{WEBHOOKS}{endpoint.pk}/action/", edit).status_code == 302
    endpoint.refresh_from_db()
    assert (endpoint.url, endpoint.description, endpoint.events) == (URL + "/v2", "shop v2", ["job.succeeded"])
    refused = client.post(f"{WEBHOOKS}{endpoint.pk}/action/", {**edit, "url": "ftp://x"})
    assert refused.status_code == 400 and "url" in str(refused.context["errors"])
    endpoint.refresh_from_db()
    assert endpoint.url == URL + "/v2"  # nothing half-written
    toggled = client.post(f"{WEBHOOKS}{endpoint.pk}/action/", {"op": "toggle"}, follow=True)
    assert toggled.redirect_chain[0][1] == 302
    assert [str(m) for m in toggled.context["messages"]] == [f"{URL}/v2 is paused."]
    endpoint.refresh_from_db()
    assert endpoint.active is False
    rotated = client.post(f"{WEBHOOKS}{endpoint.pk}/action/", {"op": "rotate"})
    assert rotated.status_code == 200
    endpoint.refresh_from_db()
    assert decrypt_signing_secret(endpoint.secret_encrypted) == rotated.context["revealed"].secret != secret
    assert client.post(f"/admin/dam/webhookdelivery/{delivery.pk}/replay/").status_code == 302
    replay = WebhookDelivery.objects.for_tenant(alice.tenant).get(replay_of=delivery)
    assert replay.event_id == delivery.event_id
    assert client.get(f"/admin/dam/webhookdelivery/{delivery.pk}/replay/").status_code == 405
    assert client.post(f"{WEBHOOKS}{endpoint.pk}/action/", {"op": "delete"}).status_code == 302
    assert not WebhookEndpoint.objects.for_tenant(alice.tenant).exists()
    assert {"webhook.updated", "webhook.secret_rotated", "webhook.deleted"} <= set(_actions(alice.tenant))
    # Audit events never carry the signing secret.
    payloads = str(list(AuditEvent.objects.for_tenant(alice.tenant).values_list("payload", flat=True)))
    assert secret not in payloads


def test_invalid_registration_is_shown_per_field(alice):
    client = _client(alice.user)
    no_events = client.post(WEBHOOKS, {"url": URL})
    assert no_events.status_code == 400 and "events" in no_events.context["errors"]
    bad_url = client.post(WEBHOOKS, {"url": "ftp://x", "events": ["job.failed"]})
    assert bad_url.status_code == 400 and "url" in bad_url.context["errors"]
    assert bad_url.context["form"]["events"] == ["job.failed"]
    assert not WebhookEndpoint.objects.for_tenant(alice.tenant).exists()


def test_a_viewer_gets_403_and_changes_nothing(alice, bob):
    registered = webhook_endpoint_create(tenant=alice.tenant, url=URL, events=["job.failed"])
    (delivery,) = webhook_emit(tenant=alice.tenant, event="job.failed", payload={})
    client = _client(bob.user)
    assert client.get(WEBHOOKS).status_code == 403
    assert client.post(WEBHOOKS, {"url": URL + "/2", "events": ["job.failed"]}).status_code == 403
    for op in ("toggle", "rotate", "delete"):
        assert client.post(f"{WEBHOOKS}{registered.endpoint.pk}/action/", {"op": op}).status_code == 403
    assert client.post(f"/admin/dam/webhookdelivery/{delivery.pk}/replay/").status_code == 403
    endpoint = WebhookEndpoint.objects.for_tenant(alice.tenant).get()
    assert endpoint.active and decrypt_signing_secret(endpoint.secret_encrypted) == registered.secret
    assert WebhookDelivery.objects.for_tenant(alice.tenant).count() == 1


def test_another_tenant_cannot_see_or_touch_the_endpoints(alice, charlie):
    registered = webhook_endpoint_create(tenant=alice.tenant, url=URL, events=["job.failed"])
    (delivery,) = webhook_emit(tenant=alice.tenant, event="job.failed", payload={})
    client = _client(charlie.user)
    page = client.get(WEBHOOKS)
    assert page.status_code == 200 and page.context["rows"] == []
    assert URL not in page.content.decode()
    for op in ("toggle", "rotate", "delete"):
        assert client.post(f"{WEBHOOKS}{registered.endpoint.pk}/action/", {"op": op}).status_code == 404
    assert client.post(f"/admin/dam/webhookdelivery/{delivery.pk}/replay/").status_code == 404
    endpoint = WebhookEndpoint.objects.for_tenant(alice.tenant).get()
    assert endpoint.active and decrypt_signing_secret(endpoint.secret_encrypted) == registered.secret
    assert WebhookDelivery.objects.for_tenant(alice.tenant).count() == 1
