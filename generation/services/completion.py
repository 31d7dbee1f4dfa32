"""What happens, in the same transaction, when a job reaches the end of its life cycle.

One place for every terminal transition (success, failure, cancel, whichever entry point
caused it): the budget hold is settled or released, the audit trail records the outcome,
and the tenant's webhooks are told.
"""

from __future__ import annotations

from typing import Any

from django.db import transaction

from dam.services.webhooks import webhook_emit
from generation.lifecycle import TERMINAL_STATES, JobState
from generation.models import Job
from governance.services.budgets import budget_release, budget_settle
from tenants.audit import Actor, RequestOrigin, audit

WEBHOOK_EVENTS = {JobState.SUCCEEDED: "job.succeeded", JobState.FAILED: "job.failed"}


def job_summary(job: Job) -> dict[str, Any]:
    return {
        "job_id": job.pk,
        "state": job.state,
        "kind": job.kind,
        "attempts": job.attempts,
        "error_code": job.error_code or None,
        "error_message": job.error_message or None,
    }


def job_finished(*, job: Job, actor: Actor | None = None, origin: RequestOrigin | None = None) -> None:
    if not transaction.get_connection().in_atomic_block:
        raise RuntimeError("job_finished must run in the transaction of the terminal transition")
    if job.state not in TERMINAL_STATES:
        raise ValueError(f"job {job.pk} is {job.state}, not finished")
    # The tenant-wide rows (spend counters, then the audit chain) come last: every job of the
    # tenant waits on them, so they are held for the fewest statements before the commit.
    if event := WEBHOOK_EVENTS.get(job.state):
        webhook_emit(tenant=job.tenant_id, event=event, payload=job_summary(job))
    if job.state == JobState.SUCCEEDED:
        budget_settle(job_id=job.pk)
    else:
        budget_release(job_id=job.pk)
    audit(
        tenant=job.tenant_id,
        actor=actor or Actor.system("worker"),
        action=f"job.{job.state}",
        target=("job", job.pk),
        payload=job_summary(job),
        origin=origin,
    )
