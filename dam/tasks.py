"""Celery tasks of the asset library: thin wrappers that take ids and call one service.

Routed by name (`CELERY_TASK_ROUTES`): `dam.renditions.*` to the `renditions` queue (CPU bound),
`dam.webhooks.*` to the `webhooks` queue (outgoing HTTP), `dam.exports.*` to `default` (storage I/O),
`dam.bulk.*` to `default` (short database transactions).
Services enqueue through the `*_enqueue` helpers below, imported at module level; the tasks import their
services inside the function, so the two modules never import each other at load time.
"""

from __future__ import annotations

import socket

from celery import shared_task
from django.conf import settings
from django.db import InterfaceError, OperationalError, connection, transaction

RENDITION_RETRY_BASE_SECONDS = 10
# Bounded well above one attempt (connect + read timeouts), far below the job tasks' limits.
WEBHOOK_TIME_LIMIT = settings.WEBHOOK_TIMEOUT_SECONDS * 2 + 30


@shared_task(name="dam.ping", time_limit=30, soft_time_limit=25)
def ping(token: str) -> dict[str, str]:
    """Round trip through broker, worker and database: proves a worker is really serving."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT current_database()")
        (database,) = cursor.fetchone()
    return {"token": token, "worker": socket.gethostname(), "database": database}


@shared_task(
    name="dam.renditions.generate_up_front",
    bind=True,
    acks_late=True,  # safe to run twice: each rendition is created once per (version, spec)
    max_retries=5,
    time_limit=settings.RENDITION_TASK_TIME_LIMIT,
    soft_time_limit=max(5, settings.RENDITION_TASK_TIME_LIMIT - 15),
)
def generate_up_front(self, version_id: int) -> list[str]:
    from dam.services.renditions import FocalPointMoving, renditions_generate_up_front

    try:
        return renditions_generate_up_front(version_id=version_id)
    except (OperationalError, InterfaceError, FocalPointMoving) as error:
        # Transient: the database went away, or someone kept moving the focal point.
        raise self.retry(exc=error, countdown=RENDITION_RETRY_BASE_SECONDS * 2**self.request.retries) from error


def renditions_up_front_enqueue(*, version_id: int) -> None:
    """Queue the up-front renditions of a new version once its transaction commits."""
    transaction.on_commit(lambda: generate_up_front.delay(version_id))


@shared_task(
    name="dam.webhooks.deliver",
    acks_late=True,
    time_limit=WEBHOOK_TIME_LIMIT,
    soft_time_limit=WEBHOOK_TIME_LIMIT - 10,
)
def deliver_webhook(delivery_id: int) -> str:
    from dam.services.webhooks import webhook_delivery_attempt

    outcome = webhook_delivery_attempt(delivery_id=delivery_id)
    if outcome.retry_in is not None:
        # The row already says when; this message only saves waiting for the sweep.
        deliver_webhook.apply_async((delivery_id,), countdown=outcome.retry_in)
    return outcome.status


@shared_task(name="dam.webhooks.sweep", time_limit=60, soft_time_limit=50)
def sweep_webhooks() -> int:
    """Re-enqueue deliveries whose message was lost or whose worker died (beat, every 30 s)."""
    from dam.services.webhooks import webhook_deliveries_due

    due = webhook_deliveries_due()
    for delivery_id in due:
        deliver_webhook.delay(delivery_id)
    return len(due)


def webhook_deliveries_enqueue(*, delivery_ids: list[int]) -> None:
    """Queue each delivery's first attempt once the transaction that created it commits."""

    def send() -> None:
        for delivery_id in delivery_ids:
            deliver_webhook.delay(delivery_id)

    if delivery_ids:
        transaction.on_commit(send)


# One export packs up to EXPORT_MAX_VERSIONS versions; bounded like any task, and checked inside the build
# too (`export_build` stops at its own deadline), because the thread pools that run the default queue
# enforce no Celery time limit.
EXPORT_TIME_LIMIT = settings.CELERY_TASK_TIME_LIMIT
EXPORT_RETRY_BASE_SECONDS = 10


@shared_task(
    name="dam.exports.build",
    bind=True,
    acks_late=True,  # safe to run twice: a run starts the zip over under its own attempt number
    max_retries=3,
    time_limit=EXPORT_TIME_LIMIT,
    soft_time_limit=max(5, EXPORT_TIME_LIMIT - 30),
)
def build_export(self, export_id: int) -> str:
    from dam.services.exports import export_build

    try:
        return export_build(export_id=export_id)
    except (OperationalError, InterfaceError) as error:
        raise self.retry(exc=error, countdown=EXPORT_RETRY_BASE_SECONDS * 2**self.request.retries) from error


def export_build_enqueue(*, export_id: int) -> None:
    """Queue the build of a new export once the transaction that created it commits."""
    transaction.on_commit(lambda: build_export.delay(export_id))


CHECKS_RETRY_BASE_SECONDS = 10
# OCR of a 2048x2048 output takes a second or two; the limit leaves room for a loaded machine.
CHECKS_TIME_LIMIT = 300


@shared_task(
    name="dam.renditions.check_version",
    bind=True,
    acks_late=True,  # safe to run twice: the findings are recorded only while the version is still pending
    max_retries=5,
    time_limit=CHECKS_TIME_LIMIT,
    soft_time_limit=CHECKS_TIME_LIMIT - 30,
)
def check_version(self, version_id: int) -> str:
    from dam.services.checks import version_checks_run

    try:
        return version_checks_run(version_id=version_id)
    except (OperationalError, InterfaceError) as error:
        raise self.retry(exc=error, countdown=CHECKS_RETRY_BASE_SECONDS * 2**self.request.retries) from error


@shared_task(name="dam.renditions.sweep_checks", time_limit=120, soft_time_limit=100)
def sweep_checks() -> int:
    """Re-enqueue versions whose checks have been pending too long (a lost message, retries used up; beat)."""
    from dam.services.checks import version_checks_stale

    stale = version_checks_stale()
    for version_id in stale:
        check_version.delay(version_id)
    return len(stale)


@shared_task(
    name="dam.renditions.recheck_crops",
    bind=True,
    acks_late=True,  # safe to run twice: the second finds the same windows and records the same rows again
    max_retries=5,
    time_limit=CHECKS_TIME_LIMIT,
    soft_time_limit=CHECKS_TIME_LIMIT - 30,
)
def recheck_crops(self, version_id: int) -> str:
    from dam.services.checks import version_crops_recheck

    try:
        return version_crops_recheck(version_id=version_id)
    except (OperationalError, InterfaceError) as error:
        raise self.retry(exc=error, countdown=CHECKS_RETRY_BASE_SECONDS * 2**self.request.retries) from error


def crops_recheck_enqueue(*, version_id: int) -> None:
    """Queue a check of the version's crops around its focal point once the transaction that moved it commits."""
    transaction.on_commit(lambda: recheck_crops.delay(version_id))


def version_checks_enqueue(*, version_id: int) -> None:
    """Queue the checks of a new version once its transaction commits."""
    transaction.on_commit(lambda: check_version.delay(version_id))


# A bulk operation takes up to BULK_OPERATION_MAX_ASSETS assets at ~10-30 ms each; bounded like an export, and
# checked inside the run too (`bulk_operation_run` stops at its own deadline), for the same thread-pool reason.
BULK_OPERATION_TIME_LIMIT = settings.CELERY_TASK_TIME_LIMIT
BULK_OPERATION_RETRY_BASE_SECONDS = 5


@shared_task(
    name="dam.bulk.run",
    bind=True,
    acks_late=True,  # safe to run twice: a run resumes after the last asset whose change committed
    max_retries=3,
    time_limit=BULK_OPERATION_TIME_LIMIT,
    soft_time_limit=max(5, BULK_OPERATION_TIME_LIMIT - 30),
)
def run_bulk_operation(self, operation_id: int) -> str:
    from dam.services.bulk import bulk_operation_run

    try:
        return bulk_operation_run(operation_id=operation_id)
    except (OperationalError, InterfaceError) as error:
        raise self.retry(exc=error, countdown=BULK_OPERATION_RETRY_BASE_SECONDS * 2**self.request.retries) from error


def bulk_operation_enqueue(*, operation_id: int) -> None:
    """Queue the run of a new bulk operation once the transaction that created it commits."""
    transaction.on_commit(lambda: run_bulk_operation.delay(operation_id))
