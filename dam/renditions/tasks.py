"""Celery tasks of the `renditions` queue (routed by the `dam.renditions.*` name): thin, by id."""

from __future__ import annotations

from celery import shared_task
from django.conf import settings
from django.db import InterfaceError, OperationalError, transaction

from dam.renditions.services import FocalPointMoving, renditions_generate_up_front

RETRY_BASE_SECONDS = 10


@shared_task(
    name="dam.renditions.generate_up_front",
    bind=True,
    acks_late=True,  # safe to run twice: each rendition is created once per (version, spec)
    max_retries=5,
    time_limit=settings.RENDITION_TASK_TIME_LIMIT,
    soft_time_limit=max(5, settings.RENDITION_TASK_TIME_LIMIT - 15),
)
def generate_up_front(self, version_id: int) -> list[str]:
    try:
        return renditions_generate_up_front(version_id=version_id)
    except (OperationalError, InterfaceError, FocalPointMoving) as error:
        # Transient: the database went away, or someone kept moving the focal point.
        raise self.retry(exc=error, countdown=RETRY_BASE_SECONDS * 2**self.request.retries) from error


def renditions_enqueue_up_front(*, version_id: int) -> None:
    """Queue the up-front renditions of a new version once its transaction commits."""
    transaction.on_commit(lambda: generate_up_front.delay(version_id))
