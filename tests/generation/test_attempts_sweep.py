"""The `generation.sweep_attempts` beat task: calls still `sent` whose run is over become unknown (provisional
charges), in a number of queries that does not grow with the number of calls (real database, no worker)."""

from __future__ import annotations

import datetime as dt

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from generation.foundry.config import platform_deployment_config
from generation.models import AttemptState, JobGeneration, ProviderAttempt
from generation.services.attempts import attempt_record
from generation.services.execution import job_claim
from generation.services.submission import job_submit
from generation.tasks import sweep_attempts
from governance.models import AuditEvent, BudgetHold, LedgerEntry
from governance.services.budgets import spend_counters_check
from governance.services.ledger import ledger_for_job
from tests.fixtures.celery_worker import job_queue_consumed_only_by

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def jobs_stay_queued():
    with job_queue_consumed_only_by(set()):
        yield


def _stale_calls(persona, count: int, *, tag: str) -> list[str]:
    """`count` jobs, each with one call that left an hour ago and was never answered (its run died)."""
    calls = []
    for n in range(count):
        submitted = job_submit(
            tenant=persona.tenant,
            body={"prompt": f"a harbour {tag} {n}", "quality": "low"},
            requested_by_key=persona.api_key,
        )
        job = job_claim(job_id=submitted.job.pk, owner=f"dead-run-{tag}-{n}")
        unit = JobGeneration.objects.for_tenant(persona.tenant).get(job=job)
        call_id = f"call-{tag}-{n}"
        attempt_record(job=job, unit=unit, call_id=call_id, deployment=platform_deployment_config().name)
        calls.append(call_id)
    ProviderAttempt.objects.for_tenant(persona.tenant).filter(client_request_id__in=calls).update(
        sent_at=timezone.now() - dt.timedelta(hours=1)
    )
    return calls


def _swept(calls: list[str]) -> int:
    with CaptureQueriesContext(connection) as queries:
        assert sweep_attempts() == len(calls)
    return len(queries)


def test_the_sweep_makes_as_many_queries_for_twenty_calls_as_for_one(alice):
    one = _swept(_stale_calls(alice, 1, tag="one"))
    twenty = _swept(_stale_calls(alice, 20, tag="twenty"))
    # The first sweep also makes the month's counters and the audit chain's head: never more for twenty.
    assert twenty <= one, (one, twenty)
    assert twenty <= 16


def test_the_swept_calls_are_provisional_charges_held_against_their_jobs(alice, charlie):
    calls = _stale_calls(alice, 5, tag="a") + _stale_calls(charlie, 3, tag="b")
    holds_before = dict(BudgetHold.unscoped.values_list("job_id", "remaining_usd"))

    assert sweep_attempts() == 8

    attempts = ProviderAttempt.unscoped.filter(client_request_id__in=calls)
    assert set(attempts.values_list("state", flat=True)) == {AttemptState.UNKNOWN}
    assert all(a.detail["reason"] == "no answer was recorded and its run is over" for a in attempts)
    for attempt in attempts:
        entry = LedgerEntry.unscoped.get(
            kind=LedgerEntry.Kind.PROVISIONAL, provider_request_id=attempt.client_request_id
        )
        assert (entry.tenant_id, entry.job_id, entry.amount_usd) == (
            attempt.tenant_id,
            attempt.job_id,
            attempt.planned_cost_usd,
        )
        persona = alice if attempt.tenant_id == alice.tenant.pk else charlie
        assert entry.api_key_id == persona.api_key.pk and entry.occurred_at == attempt.sent_at
        hold = BudgetHold.unscoped.get(job_id=attempt.job_id)
        assert hold.remaining_usd == max(holds_before[attempt.job_id] - entry.amount_usd, 0)
        assert ledger_for_job(tenant=attempt.tenant_id, job_id=attempt.job_id).provisional_open_usd == entry.amount_usd
    for persona, count in ((alice, 5), (charlie, 3)):
        events = AuditEvent.objects.for_tenant(persona.tenant).filter(action="provider_call.outcome_unknown")
        assert events.count() == count
        assert spend_counters_check(tenant=persona.tenant) == []
    # Swept again: nothing moves twice.
    assert sweep_attempts() == 0
    assert LedgerEntry.unscoped.filter(kind=LedgerEntry.Kind.PROVISIONAL).count() == 8
