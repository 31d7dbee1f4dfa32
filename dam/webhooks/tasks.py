"""Celery tasks of the `webhooks` queue (routed by name: `dam.webhooks.*`)."""

from __future__ import annotations

from celery import shared_task
from django.conf import settings

from dam.webhooks.services import webhook_deliveries_due, webhook_delivery_attempt

# Bounded well above one attempt (connect + read timeouts), far below the job tasks' limits.
TIME_LIMIT = settings.WEBHOOK_TIMEOUT_SECONDS * 2 + 30


@shared_task(name="dam.webhooks.deliver", acks_late=True, time_limit=TIME_LIMIT, soft_time_limit=TIME_LIMIT - 10)
def deliver_webhook(delivery_id: int) -> str:
    outcome = webhook_delivery_attempt(delivery_id=delivery_id)
    if outcome.retry_in is not None:
        # The row already says when; this message only saves waiting for the sweep.
        deliver_webhook.apply_async((delivery_id,), countdown=outcome.retry_in)
    return outcome.status


@shared_task(name="dam.webhooks.sweep", time_limit=60, soft_time_limit=50)
def sweep_webhooks() -> int:
    """Re-enqueue deliveries whose message was lost or whose worker died (beat, every 30 s)."""
    due = webhook_deliveries_due()
    for delivery_id in due:
        deliver_webhook.delay(delivery_id)
    return len(due)
