"""Celery tasks of the generation queue: thin wrappers that take ids and call one service.

Services enqueue through `job_run_enqueue`, imported at module level; the tasks import their services
inside the function, so the two modules never import each other at load time.
"""

from __future__ import annotations

from celery import shared_task
from celery.signals import worker_ready
from django.conf import settings
from django.db import InterfaceError, OperationalError, transaction


@shared_task(
    name="generation.run_job",
    bind=True,
    acks_late=True,
    ignore_result=True,  # the job row is the result; nobody reads the backend's copy
    # A database that went away for a moment is retried here, with backoff, instead of stranding the job.
    # Each retry re-claims the job and so is one of its JOB_MAX_ATTEMPTS (counted on the row at every claim,
    # like a run after a provider failure or a dead worker): that limit, not max_retries, ends a job.
    autoretry_for=(OperationalError, InterfaceError),
    retry_backoff=True,
    retry_backoff_max=60,
    max_retries=8,
    time_limit=settings.CELERY_TASK_TIME_LIMIT,
    soft_time_limit=settings.CELERY_TASK_SOFT_TIME_LIMIT,
)
def run_job(self, job_id: int) -> str | None:
    from generation.services.execution import job_run

    outcome = job_run(job_id=job_id, owner=f"task-{self.request.id}" if self.request.id else None)
    if outcome.retry_in is not None:
        # Back to the queue it came from: an interactive job stays in its lane.
        queue = (self.request.delivery_info or {}).get("routing_key") or None
        run_job.apply_async(args=[job_id], countdown=outcome.retry_in, queue=queue)
    return outcome.state


@shared_task(name="generation.reconcile_jobs", time_limit=120, soft_time_limit=100)
def reconcile_jobs() -> int:
    from generation.services.execution import jobs_reconcile

    job_ids = jobs_reconcile()
    for job_id in job_ids:
        run_job.delay(job_id)
    return len(job_ids)


INTERACTIVE_QUEUE = "interactive"


@shared_task(name="generation.sweep_attempts", time_limit=300, soft_time_limit=280)
def sweep_attempts() -> int:
    from generation.services.reconciliation import attempts_sweep

    return attempts_sweep()


def job_run_enqueue(*, job_id: int, interactive: bool = False) -> None:
    """Queue a job's run once the transaction that submitted it commits. An interactive job goes to its own
    queue, served by its own threads: behind a campaign's thousand queued messages it would wait for a worker
    thread before the scheduler could ever put its call first."""
    if interactive:
        transaction.on_commit(lambda: run_job.apply_async(args=[job_id], queue=INTERACTIVE_QUEUE))
    else:
        transaction.on_commit(lambda: run_job.delay(job_id))


@worker_ready.connect
def _reconcile_on_start(sender=None, **kwargs) -> None:
    # A worker that starts after a crash picks up what the dead one left, without waiting for beat.
    reconcile_jobs.delay()
