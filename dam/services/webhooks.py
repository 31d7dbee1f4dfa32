"""Writes for webhooks: registering endpoints, emitting events, attempting and replaying deliveries."""

from __future__ import annotations

import datetime as dt
import json
import random
import time
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import httpx
from django.conf import settings
from django.core.serializers.json import DjangoJSONEncoder
from django.db import connection, transaction
from django.db.models import F, Q
from django.utils import timezone

from dam.models import WebhookAttempt, WebhookDelivery, WebhookEndpoint, WebhookEvent
from dam.tasks import webhook_deliveries_enqueue
from dam.webhooks.secrets import decrypt_signing_secret, encrypt_signing_secret, new_signing_secret
from dam.webhooks.signing import (
    DELIVERY_HEADER,
    EVENT_HEADER,
    EVENT_ID_HEADER,
    SIGNATURE_HEADER,
    signature_header,
)
from dam.webhooks.targets import UnsafeTarget, check_target, pinned_request, resolve_target
from tenants.audit import Actor, RequestOrigin, audit, changes
from tenants.errors import ServiceError
from tenants.locking import lock_for_change
from tenants.models import Tenant

MAX_ENDPOINTS_PER_TENANT = 20
EXCERPT_CHARS = 500
# A claimed delivery whose worker died is attempted again once this lease runs out.
LEASE_GRACE_SECONDS = 30


@dataclass(frozen=True)
class RegisteredEndpoint:
    endpoint: WebhookEndpoint
    secret: str  # shown to the caller once


@dataclass(frozen=True)
class AttemptOutcome:
    delivery_id: int
    attempted: bool
    status: str
    retry_in: float | None = None


def _check_events(events: Iterable[str]) -> list[str]:
    chosen = list(dict.fromkeys(events))
    unknown = sorted(set(chosen) - set(WebhookEvent.values))
    if not chosen or unknown:
        raise ServiceError(
            f"choose events among {', '.join(WebhookEvent.values)}"
            + (f"; unknown: {', '.join(unknown)}" if unknown else ""),
            field="events",
        )
    return chosen


@transaction.atomic
def webhook_endpoint_create(
    *,
    tenant: Tenant,
    url: str,
    events: Iterable[str],
    description: str = "",
    actor: Actor | None = None,
    origin: RequestOrigin | None = None,
) -> RegisteredEndpoint:
    check_target(url)
    chosen = _check_events(events)
    if WebhookEndpoint.objects.for_tenant(tenant).count() >= MAX_ENDPOINTS_PER_TENANT:
        raise ServiceError(f"at most {MAX_ENDPOINTS_PER_TENANT} endpoints per tenant", field="url")
    secret = new_signing_secret()
    endpoint = WebhookEndpoint.objects.for_tenant(tenant).create(
        tenant=tenant,
        url=url,
        events=chosen,
        description=description[:200],
        secret_encrypted=encrypt_signing_secret(secret),
    )
    _audit(endpoint, "webhook.created", actor, origin, changes(None, _endpoint_values(endpoint)))
    return RegisteredEndpoint(endpoint=endpoint, secret=secret)


@transaction.atomic
def webhook_endpoint_update(
    *,
    endpoint: WebhookEndpoint,
    url: str | None = None,
    events: Iterable[str] | None = None,
    description: str | None = None,
    active: bool | None = None,
    actor: Actor | None = None,
    origin: RequestOrigin | None = None,
) -> WebhookEndpoint:
    # Checked before any lock: resolving the target's name must not hold the row.
    updates: dict[str, Any] = {}
    if url is not None:
        check_target(url)
        updates["url"] = url
    if events is not None:
        updates["events"] = _check_events(events)
    if description is not None:
        updates["description"] = description[:200]
    if active is not None:
        updates["active"] = active
    # The row first, the audit chain head last (tenants.locking); never a full save(), which would
    # re-insert an endpoint deleted since the caller read it.
    locked = _locked(endpoint)
    before = _endpoint_values(locked)
    for name, value in updates.items():
        setattr(locked, name, value)
    locked.save(update_fields=[*updates, "updated_at"])
    _audit(locked, "webhook.updated", actor, origin, changes(before, _endpoint_values(locked)))
    return locked


@transaction.atomic
def webhook_endpoint_rotate_secret(
    *, endpoint: WebhookEndpoint, actor: Actor | None = None, origin: RequestOrigin | None = None
) -> RegisteredEndpoint:
    locked = _locked(endpoint)
    secret = new_signing_secret()
    locked.secret_encrypted = encrypt_signing_secret(secret)
    locked.save(update_fields=["secret_encrypted", "updated_at"])
    _audit(locked, "webhook.secret_rotated", actor, origin, {})  # never the secret itself
    return RegisteredEndpoint(endpoint=locked, secret=secret)


@transaction.atomic
def webhook_endpoint_delete(
    *, endpoint: WebhookEndpoint, actor: Actor | None = None, origin: RequestOrigin | None = None
) -> None:
    # The row, then its deliveries (deleted with it), then the audit chain head. Auditing first took
    # the head before the row: the opposite order of every update, a deadlock.
    locked = _locked(endpoint, delete=True)
    payload = changes(_endpoint_values(locked), None)
    endpoint_id = locked.pk
    locked.delete()
    locked.pk = endpoint_id  # the audit event names the endpoint that was
    _audit(locked, "webhook.deleted", actor, origin, payload)


def _locked(endpoint: WebhookEndpoint, *, delete: bool = False) -> WebhookEndpoint:
    rows = WebhookEndpoint.objects.for_tenant(endpoint.tenant_id)
    return lock_for_change(rows, endpoint.pk, label="webhook endpoint", delete=delete)


def _endpoint_values(endpoint: WebhookEndpoint) -> dict[str, Any]:
    return {
        "url": endpoint.url,
        "events": list(endpoint.events),
        "description": endpoint.description,
        "active": endpoint.active,
    }


def _audit(
    endpoint: WebhookEndpoint, action: str, actor: Actor | None, origin: RequestOrigin | None, payload: dict
) -> None:
    audit(
        tenant=endpoint.tenant_id,
        actor=actor or Actor.system("unattributed"),
        action=action,
        target=("webhook_endpoint", endpoint.pk),
        payload=payload,
        origin=origin,
    )


def webhook_emit(*, tenant: Tenant | int, event: str, payload: dict[str, Any]) -> list[WebhookDelivery]:
    """Queue `event` for every active endpoint of the tenant that subscribed to it.

    Runs in the caller's transaction (the event and the change commit or roll back together);
    nothing is sent before commit, and sending happens on the `webhooks` queue.
    """
    if event not in WebhookEvent.values:
        raise ValueError(f"unknown webhook event {event!r}")
    tenant_id = tenant if isinstance(tenant, int) else tenant.pk
    # Every job asks, twice, and most tenants have none: the plainest query (ids, no ordering).
    endpoints = list(
        WebhookEndpoint.objects.for_tenant(tenant_id)
        .filter(active=True, events__contains=[event])
        .order_by()
        .values_list("pk", flat=True)
    )
    if not endpoints:
        return []
    now = timezone.now()
    event_id = uuid.uuid4()
    slug = (
        tenant.slug if isinstance(tenant, Tenant) else Tenant.objects.values_list("slug", flat=True).get(pk=tenant_id)
    )
    envelope = json.loads(
        json.dumps(
            {"id": str(event_id), "type": event, "created_at": now.isoformat(), "tenant": slug, "data": payload},
            cls=DjangoJSONEncoder,
        )
    )
    deliveries = WebhookDelivery.objects.for_tenant(tenant_id).bulk_create(
        [
            WebhookDelivery(
                tenant_id=tenant_id,
                endpoint_id=endpoint,
                event=event,
                event_id=event_id,
                payload=envelope,
                next_attempt_at=now,
            )
            for endpoint in endpoints
        ]
    )
    webhook_deliveries_enqueue(delivery_ids=[delivery.pk for delivery in deliveries])
    return deliveries


@transaction.atomic
def webhook_delivery_replay(
    *, delivery: WebhookDelivery, actor: Actor | None = None, origin: RequestOrigin | None = None
) -> WebhookDelivery:
    """Send the same event (same id and body) again, as a new delivery with its own log; audited."""
    replay = WebhookDelivery.objects.for_tenant(delivery.tenant_id).create(
        tenant_id=delivery.tenant_id,
        endpoint_id=delivery.endpoint_id,
        event=delivery.event,
        event_id=delivery.event_id,
        payload=delivery.payload,
        next_attempt_at=timezone.now(),
        replay_of=delivery,
    )
    audit(
        tenant=delivery.tenant_id,
        actor=actor or Actor.system("unattributed"),
        action="webhook_delivery.replayed",
        target=("webhook_delivery", delivery.pk),
        payload={
            "replay_id": replay.pk,
            "endpoint_id": delivery.endpoint_id,
            "event": delivery.event,
            "event_id": str(delivery.event_id),
        },
        origin=origin,
    )
    webhook_deliveries_enqueue(delivery_ids=[replay.pk])
    return replay


def retry_delay(attempt: int) -> float:
    """Exponential backoff with ±20% jitter, so many failing receivers do not retry in lockstep."""
    base = settings.WEBHOOK_RETRY_BASE_SECONDS * 2 ** (attempt - 1)
    return min(settings.WEBHOOK_RETRY_MAX_SECONDS, base * random.uniform(0.8, 1.2))


def _claim(delivery_id: int, now: dt.datetime) -> WebhookDelivery | None:
    """Take the delivery for one attempt; a conditional UPDATE so two workers never both send it."""
    lease = now + dt.timedelta(seconds=settings.WEBHOOK_TIMEOUT_SECONDS + LEASE_GRACE_SECONDS)
    due = Q(status=WebhookDelivery.Status.PENDING, next_attempt_at__lte=now) | Q(
        status=WebhookDelivery.Status.SENDING, lease_until__lt=now
    )
    claimed = WebhookDelivery.unscoped.filter(due, pk=delivery_id).update(
        status=WebhookDelivery.Status.SENDING, lease_until=lease, attempts=F("attempts") + 1
    )
    if not claimed:
        return None
    return WebhookDelivery.unscoped.select_related("endpoint", "tenant").get(pk=delivery_id)


def _post(delivery: WebhookDelivery) -> tuple[int | None, str, str]:
    """(status code, error, response excerpt) of one POST, bounded by WEBHOOK_TIMEOUT_SECONDS."""
    endpoint = delivery.endpoint
    try:
        # Checked again at every attempt (DNS changes after registration), and the POST below goes to
        # the addresses this one resolution returned: no second lookup a rebinding resolver could answer.
        target = resolve_target(endpoint.url)
    except UnsafeTarget as refused:
        return None, f"refused target: {refused.message}", ""
    body = json.dumps(delivery.payload, separators=(",", ":"), sort_keys=True).encode()
    secret = decrypt_signing_secret(endpoint.secret_encrypted)
    headers = {
        "Content-Type": "application/json",
        "User-Agent": "dam-webhooks/1",
        EVENT_HEADER: delivery.event,
        EVENT_ID_HEADER: str(delivery.event_id),
        DELIVERY_HEADER: str(delivery.pk),
        SIGNATURE_HEADER: signature_header(secret=secret, timestamp=int(time.time()), body=body),
    }
    timeout = httpx.Timeout(settings.WEBHOOK_TIMEOUT_SECONDS)
    try:
        with httpx.Client(timeout=timeout, follow_redirects=False) as client:
            for index, address in enumerate(target.addresses):
                url, host, extensions = pinned_request(target, address)
                try:
                    response = client.post(url, content=body, headers=headers | host, extensions=extensions)
                    break
                except httpx.ConnectError:
                    if index == len(target.addresses) - 1:
                        raise  # every checked address refused; the next attempt resolves afresh
    except httpx.TimeoutException:
        return None, f"timed out after {settings.WEBHOOK_TIMEOUT_SECONDS}s", ""
    except httpx.HTTPError as error:
        return None, f"{type(error).__name__}: {error}"[:EXCERPT_CHARS], ""
    return response.status_code, "", response.text[:EXCERPT_CHARS]


def webhook_delivery_attempt(*, delivery_id: int) -> AttemptOutcome:
    """One HTTP attempt of a due delivery, logged; schedules the next one on failure.

    The POST happens outside any transaction: a slow receiver holds no locks.
    """
    started = timezone.now()
    delivery = _claim(delivery_id, started)
    if delivery is None:
        return AttemptOutcome(delivery_id, attempted=False, status="not_due")
    clock = time.monotonic()
    if not delivery.endpoint.active or not delivery.tenant.is_active:
        status_code, error, excerpt = None, "endpoint disabled", ""
    else:
        status_code, error, excerpt = _post(delivery)
    duration_ms = int((time.monotonic() - clock) * 1000)
    succeeded = status_code is not None and 200 <= status_code < 300
    final = succeeded or delivery.attempts >= settings.WEBHOOK_MAX_ATTEMPTS or error.startswith(("refused", "endpoint"))
    retry_in = None if final else retry_delay(delivery.attempts)
    now = timezone.now()
    if succeeded:
        status = WebhookDelivery.Status.SUCCEEDED
    elif final:
        status = WebhookDelivery.Status.FAILED
    else:
        status = WebhookDelivery.Status.PENDING
    with transaction.atomic():
        WebhookAttempt.objects.for_tenant(delivery.tenant_id).create(
            tenant_id=delivery.tenant_id,
            delivery=delivery,
            number=delivery.attempts,
            started_at=started,
            duration_ms=duration_ms,
            status_code=status_code,
            error=error,
            response_excerpt=excerpt,
        )
        WebhookDelivery.unscoped.filter(pk=delivery.pk, status=WebhookDelivery.Status.SENDING).update(
            status=status,
            lease_until=None,
            last_status_code=status_code,
            last_error=error or (f"HTTP {status_code}" if not succeeded else ""),
            delivered_at=now if succeeded else None,
            next_attempt_at=now + dt.timedelta(seconds=retry_in or 0),
        )
    return AttemptOutcome(delivery.pk, attempted=True, status=status, retry_in=retry_in)


# Housekeeping over every tenant. Each half in its index's order (a Merge Append of two index-only scans); only the
# ids come back.
_DUE_SQL = """
SELECT id FROM (
    (SELECT id, next_attempt_at FROM dam_webhookdelivery
     WHERE status = 'pending' AND next_attempt_at <= %s ORDER BY next_attempt_at LIMIT %s)
    UNION ALL
    (SELECT id, next_attempt_at FROM dam_webhookdelivery
     WHERE status = 'sending' AND lease_until < %s ORDER BY next_attempt_at LIMIT %s)
) AS due
ORDER BY next_attempt_at LIMIT %s
"""


def webhook_deliveries_due(*, late_by_seconds: int = 30, limit: int = 500) -> list[int]:
    """Deliveries whose message was lost (overdue) or whose worker died mid-attempt (lease over), the longest
    waiting first.

    One statement of two halves, each walked in `next_attempt_at` order on its own partial index and stopped at
    `limit` (webhook_delivery_overdue, webhook_delivery_lapsed, both covering: no table row is read): the cost of a
    batch, however long the backlog. As one OR the matches of both were gathered and sorted whole (3 ms for 4,000
    due deliveries at a million, bench/data_scale.py)."""
    now = timezone.now()
    with connection.cursor() as cursor:
        cursor.execute(_DUE_SQL, [now - dt.timedelta(seconds=late_by_seconds), limit, now, limit, limit])
        return [row[0] for row in cursor.fetchall()]
