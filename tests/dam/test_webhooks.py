"""Webhooks: registration, the outbox in the caller's transaction, signatures, retries, replay."""

from __future__ import annotations

import itertools
import json
import re
import time
from pathlib import Path

import pytest
from django.db import transaction
from django.test import override_settings

from config.celery import app
from dam.models import WebhookAttempt, WebhookDelivery, WebhookEndpoint
from dam.services.webhooks import webhook_delivery_attempt, webhook_emit, webhook_endpoint_create
from governance.models import AuditEvent
from tests.support.errors import names_field
from tests.support.webhook_receiver import webhook_receiver

README = Path(__file__).resolve().parents[2] / "dam" / "webhooks" / "README.md"


def documented_verifier():
    """The receiver-side snippet exactly as documented, executed."""
    (snippet,) = re.findall(r"```python\n(.*?)```", README.read_text(), flags=re.S)
    namespace: dict = {}
    exec(compile(snippet, str(README), "exec"), namespace)
    return namespace["verify_dam_webhook"]


def _register(actor, url: str, events=("asset.approved",)):
    response = actor.client().post("/api/v1/webhooks", {"url": url, "events": list(events)}, format="json")
    assert response.status_code == 201, response.content
    return response.json()


@pytest.mark.django_db
def test_registration_needs_admin_and_shows_the_secret_only_once(alice, bob):
    denied = bob.client().post("/api/v1/webhooks", {"url": "https://x.example", "events": ["job.failed"]})
    assert denied.status_code == 403 and not WebhookEndpoint.objects.for_tenant(alice.tenant).exists()
    created = _register(alice, "https://hooks.example.com/dam", events=["job.failed", "asset.approved"])
    assert created["secret"].startswith("whsec_")
    again = alice.client().get(f"/api/v1/webhooks/{created['id']}").json()
    assert "secret" not in again and created["secret"] not in json.dumps(again)
    stored = WebhookEndpoint.objects.for_tenant(alice.tenant).get()
    assert created["secret"] not in stored.secret_encrypted
    rotated = alice.client().post(f"/api/v1/webhooks/{created['id']}/rotate-secret").json()
    assert rotated["secret"] != created["secret"]


@pytest.mark.django_db
def test_registration_rejects_unknown_events_and_bad_urls(alice):
    api = alice.client()
    assert (
        api.post("/api/v1/webhooks", {"url": "https://a.example", "events": ["nope"]}, format="json").status_code == 400
    )
    assert (
        api.post("/api/v1/webhooks", {"url": "ftp://a.example", "events": ["job.failed"]}, format="json").status_code
        == 400
    )
    with override_settings(WEBHOOK_ALLOW_PRIVATE_TARGETS=False):
        for url in ("http://127.0.0.1:8000/x", "https://127.0.0.1/x", "https://10.1.2.3/x", "https://[::1]/x"):
            response = api.post("/api/v1/webhooks", {"url": url, "events": ["job.failed"]}, format="json")
            assert response.status_code == 400 and names_field(response, "url"), url
    assert not WebhookEndpoint.objects.for_tenant(alice.tenant).exists()


@pytest.mark.django_db
def test_emit_writes_deliveries_in_the_callers_transaction_only_for_subscribers(alice, charlie):
    subscribed = webhook_endpoint_create(tenant=alice.tenant, url="https://a.example/1", events=["asset.approved"])
    webhook_endpoint_create(tenant=alice.tenant, url="https://a.example/2", events=["job.failed"])
    webhook_endpoint_create(tenant=charlie.tenant, url="https://b.example/1", events=["asset.approved"])
    with pytest.raises(RuntimeError), transaction.atomic():
        webhook_emit(tenant=alice.tenant, event="asset.approved", payload={"asset": 1})
        raise RuntimeError("the change fails")
    assert not WebhookDelivery.objects.for_tenant(alice.tenant).exists()
    (delivery,) = webhook_emit(tenant=alice.tenant, event="asset.approved", payload={"asset": 7, "version": 2})
    assert delivery.endpoint_id == subscribed.endpoint.pk and delivery.status == "pending"
    assert delivery.payload["type"] == "asset.approved" and delivery.payload["data"] == {"asset": 7, "version": 2}
    assert delivery.payload["tenant"] == alice.tenant.slug and delivery.payload["id"] == str(delivery.event_id)
    assert not WebhookDelivery.objects.for_tenant(charlie.tenant).exists()
    with pytest.raises(ValueError):
        webhook_emit(tenant=alice.tenant, event="asset.deleted", payload={})


def test_delivery_runs_on_its_own_queue():
    assert app.amqp.router.route({}, "dam.webhooks.deliver")["queue"].name == "webhooks"
    assert "webhooks" in {queue.name for queue in app.conf.task_queues}


@pytest.mark.django_db
def test_the_signature_verifies_with_the_documented_snippet_and_tampering_fails(alice):
    verify = documented_verifier()
    with webhook_receiver() as receiver:
        registered = webhook_endpoint_create(tenant=alice.tenant, url=receiver.url, events=["job.succeeded"])
        (delivery,) = webhook_emit(tenant=alice.tenant, event="job.succeeded", payload={"job": 5, "title": "夏"})
        outcome = webhook_delivery_attempt(delivery_id=delivery.pk)
    assert outcome.status == "succeeded"
    (request,) = receiver.requests
    header = request.headers["X-DAM-Signature"]
    assert verify(registered.secret, header, request.body)
    assert json.loads(request.body)["data"] == {"job": 5, "title": "夏"}
    assert request.headers["X-DAM-Event"] == "job.succeeded"
    assert request.headers["X-DAM-Event-Id"] == str(delivery.event_id)
    assert not verify(registered.secret, header, request.body.replace(b"5", b"6"))
    assert not verify("whsec_wrong", header, request.body)
    stale = re.sub(r"t=\d+", f"t={int(time.time()) - 3600}", header)
    assert not verify(registered.secret, stale, request.body)


@pytest.mark.django_db
@override_settings(WEBHOOK_TIMEOUT_SECONDS=1, WEBHOOK_RETRY_BASE_SECONDS=60)
def test_a_hanging_receiver_costs_the_emitter_nothing_and_an_attempt_at_most_the_timeout(alice):
    with webhook_receiver(delay_seconds=5) as receiver:
        webhook_endpoint_create(tenant=alice.tenant, url=receiver.url, events=["job.failed"])
        started = time.monotonic()
        (delivery,) = webhook_emit(tenant=alice.tenant, event="job.failed", payload={"job": 1})
        assert time.monotonic() - started < 0.5  # emitting never talks to the receiver
        started = time.monotonic()
        outcome = webhook_delivery_attempt(delivery_id=delivery.pk)
        assert time.monotonic() - started < 3
    delivery.refresh_from_db()
    assert outcome.status == "pending" and 40 < outcome.retry_in < 80
    assert delivery.last_error.startswith("timed out") and delivery.attempts == 1
    # Not due yet: a second worker picking the message up does nothing.
    assert webhook_delivery_attempt(delivery_id=delivery.pk).attempted is False


@pytest.mark.django_db
@override_settings(WEBHOOK_MAX_ATTEMPTS=2, WEBHOOK_RETRY_BASE_SECONDS=0)
def test_exhausted_deliveries_fail_and_a_replay_sends_the_same_event_again(alice):
    with webhook_receiver(script=[500, 503], then=204) as receiver:
        webhook_endpoint_create(tenant=alice.tenant, url=receiver.url, events=["asset.published"])
        (delivery,) = webhook_emit(tenant=alice.tenant, event="asset.published", payload={"asset": 3})
        assert webhook_delivery_attempt(delivery_id=delivery.pk).status == "pending"
        assert webhook_delivery_attempt(delivery_id=delivery.pk).status == "failed"
        assert webhook_delivery_attempt(delivery_id=delivery.pk).attempted is False
        response = alice.client().post(f"/api/v1/webhook-deliveries/{delivery.pk}/replay")
        assert response.status_code == 200
        replay = WebhookDelivery.objects.for_tenant(alice.tenant).get(pk=response.json()["id"])
        assert replay.replay_of_id == delivery.pk and replay.event_id == delivery.event_id
        event = AuditEvent.objects.for_tenant(alice.tenant).get(action="webhook_delivery.replayed")
        assert (event.target_id, event.actor_label) == (str(delivery.pk), f"api-key:{alice.api_key.prefix}")
        assert event.payload["replay_id"] == replay.pk
        assert webhook_delivery_attempt(delivery_id=replay.pk).status == "succeeded"
    assert [r.body for r in receiver.requests] == [receiver.requests[0].body] * 3
    detail = alice.client().get(f"/api/v1/webhook-deliveries/{delivery.pk}").json()
    assert detail["status"] == "failed" and [a["status_code"] for a in detail["attempt_log"]] == [500, 503]
    log = alice.client().get("/api/v1/webhook-deliveries?status=succeeded").json()["results"]
    assert [item["id"] for item in log] == [replay.pk]


@pytest.mark.integration
@pytest.mark.django_db(transaction=True)
def test_a_receiver_failing_three_times_gets_the_event_on_the_fourth_try(alice, celery_worker):
    verify = documented_verifier()
    with webhook_receiver(script=[500, 500, 500], then=200) as receiver:
        secret = _register(alice, receiver.url)["secret"]
        with transaction.atomic():
            (delivery,) = webhook_emit(tenant=alice.tenant, event="asset.approved", payload={"asset": 9})
            time.sleep(0.5)
            assert receiver.requests == []  # nothing leaves before the caller commits
        received = receiver.wait_for(4, timeout=40)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            delivery.refresh_from_db()
            if delivery.status == "succeeded":
                break
            time.sleep(0.1)
    assert len(received) == 4 and delivery.status == "succeeded" and delivery.attempts == 4
    assert {r.headers["X-DAM-Event-Id"] for r in received} == {str(delivery.event_id)}
    assert all(verify(secret, r.headers["X-DAM-Signature"], r.body) for r in received)
    attempts = list(WebhookAttempt.objects.for_tenant(alice.tenant).filter(delivery=delivery).order_by("number"))
    assert [a.status_code for a in attempts] == [500, 500, 500, 200]
    gaps = [later.at - earlier.at for earlier, later in itertools.pairwise(received)]
    # Backoff: about 1 s, 2 s, 4 s (±20% jitter).
    assert gaps[0] > 0.7 and gaps[1] > 1.5 and gaps[2] > 3.0, gaps
