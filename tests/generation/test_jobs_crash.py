"""Workers killed with SIGKILL: a new worker finishes the job exactly once.

Killed during the provider call: one version, one recorded provider response, one charge.
Killed after the provider answered (usage recorded) but before the job finished: the new
worker continues from the recorded response without calling again; still one charge, and
the budget hold is settled with the ledger consistent. And a worker that kills itself at each step
from the answer to the job's final state (generation/crashpoints.py): one call per unit, except while
the answer is not yet recorded anywhere, one charge per recorded response, no doubled version.
"""

from __future__ import annotations

import signal
import time
from collections import Counter
from decimal import Decimal

import pytest

from dam.models import AssetVersion
from generation.crashpoints import CRASH_STEPS
from generation.models import Job, JobGeneration, ProviderResponse
from governance.models import LedgerEntry
from governance.services.audit import audit_verify
from governance.services.budgets import budget_set, spend_counters_check
from governance.services.ledger import ledger_for_job
from tenants.audit import Actor
from tests.fixtures.celery_worker import emulator_env, job_queue_consumed_only_by
from tests.support.jobs import wait_for

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]


def _crash_and_recover(*, alice, emulator, celery_worker_factory, killed_when) -> int:
    env = {**emulator_env(emulator), "JOB_LEASE_SECONDS": "6", "JOB_RECONCILE_INTERVAL_SECONDS": "2"}
    budget_set(tenant=alice.tenant, actor=Actor.system("test"), monthly_limit_usd=Decimal("5.00"), hard_stop=True)
    doomed = celery_worker_factory(**env)
    with job_queue_consumed_only_by({doomed.name}):
        response = alice.client().post("/api/v1/jobs", {"prompt": "survive a crash", "quality": "low"}, format="json")
        assert response.status_code == 202, response.content
        job_id = response.json()["id"]
        deadline = time.monotonic() + 60
        while not killed_when(job_id):
            assert time.monotonic() < deadline, "the moment to kill the worker never came"
            time.sleep(0.02)
        doomed.kill()
    emulator.configure(latency_ms=[0, 0], content_safety={"latency_ms": 0})
    survivor = celery_worker_factory(beat=True, **env)
    try:
        (job,) = wait_for([job_id], timeout=90)
    finally:
        survivor.stop()  # its short lease must not leak into later tests
    assert job.state == "succeeded", (job.error_code, job.error_message)
    assert job.attempts == 2
    assert AssetVersion.objects.for_tenant(alice.tenant).filter(job_id=job_id).count() == 1
    return job_id


def _assert_charged_once_and_settled(alice, job_id: int) -> None:
    responses = ProviderResponse.objects.for_tenant(alice.tenant).filter(job_id=job_id)
    charges = LedgerEntry.objects.for_tenant(alice.tenant).filter(job_id=job_id, kind="charge")
    assert responses.count() == 1
    assert charges.count() == 1
    assert charges.get().provider_request_id == responses.get().provider_request_id
    ledger = ledger_for_job(tenant=alice.tenant, job_id=job_id)
    assert ledger.open_hold_usd is None and ledger.consistent
    assert spend_counters_check(tenant=alice.tenant) == []


@pytest.mark.slow
def test_kill_9_during_a_provider_call_then_a_new_worker_completes_the_job_once(
    alice, clean_emulator, celery_worker_factory
):
    clean_emulator.configure(latency_ms=[4000, 4000])
    job_id = _crash_and_recover(
        alice=alice,
        emulator=clean_emulator,
        celery_worker_factory=celery_worker_factory,
        killed_when=lambda job_id: clean_emulator.stats()["in_flight"] >= 1,
    )
    _assert_charged_once_and_settled(alice, job_id)


@pytest.mark.slow
def test_kill_9_after_the_provider_answered_charges_once_and_settles_the_hold(
    alice, clean_emulator, celery_worker_factory
):
    # Output moderation is slow, so the worker dies between the recorded response and the versions.
    clean_emulator.configure(content_safety={"latency_ms": 4000})
    job_id = _crash_and_recover(
        alice=alice,
        emulator=clean_emulator,
        celery_worker_factory=celery_worker_factory,
        killed_when=lambda job_id: ProviderResponse.unscoped.filter(job_id=job_id).exclude(outputs=[]).exists(),
    )
    _assert_charged_once_and_settled(alice, job_id)
    assert clean_emulator.stats()["calls"]["generations"] == 1  # continued from the record, no second call


# Before these, the answer exists only in the dead process (in memory, or as unrecorded files): the unit
# must be called again. From `response_recorded` on, the recorded response is reused, never called again.
ANSWER_LOST_WITH_THE_PROCESS = ("answer_received", "outputs_stored")


def _calls_per_unit(emulator, job_id: int) -> Counter:
    """The emulator's calls of the job, by unit (the client request id is `job-<job>-<unit>-<slot>`)."""
    prefix = f"job-{job_id}-"
    return Counter(
        int(call["client_request_id"].split("-")[2])
        for call in emulator.stats()["recent"]
        if (call["client_request_id"] or "").startswith(prefix)
    )


@pytest.mark.slow
@pytest.mark.parametrize("step", CRASH_STEPS)
def test_a_worker_killed_at_each_step_after_the_answer_pays_each_call_once(
    step, alice, clean_emulator, celery_worker_factory
):
    """A job of two calls (two locales); the worker SIGKILLs itself at `step` of its first call (or after
    the first call is stored), and a fresh worker finishes the job from what was recorded."""
    env = {**emulator_env(clean_emulator), "JOB_LEASE_SECONDS": "6", "JOB_RECONCILE_INTERVAL_SECONDS": "2"}
    budget_set(tenant=alice.tenant, actor=Actor.system("test"), monthly_limit_usd=Decimal("5.00"), hard_stop=True)
    doomed = celery_worker_factory(JOB_TEST_CRASH_AT=step, **env)
    with job_queue_consumed_only_by({doomed.name}):
        body = {"prompt": "a lantern on a jetty", "quality": "low", "locales": {"de": "Neu", "fr": "Nouveau"}}
        response = alice.client().post("/api/v1/jobs", body, format="json")
        assert response.status_code == 202, response.content
        job_id = response.json()["id"]
        assert doomed.process.wait(timeout=60) == -signal.SIGKILL, "the worker never reached the crash point"
    assert Job.unscoped.get(pk=job_id).state == "running"
    survivor = celery_worker_factory(beat=True, **env)
    try:
        (job,) = wait_for([job_id], timeout=90)
    finally:
        survivor.stop()
    assert job.state == "succeeded", (job.error_code, job.error_message)
    assert job.attempts == 2

    first, second = JobGeneration.objects.for_tenant(alice.tenant).filter(job_id=job_id).order_by("id")
    calls = _calls_per_unit(clean_emulator, job_id)
    assert calls == {first.pk: 2 if step in ANSWER_LOST_WITH_THE_PROCESS else 1, second.pk: 1}
    responses = ProviderResponse.objects.for_tenant(alice.tenant).filter(job_id=job_id)
    assert sorted(r.generation_id for r in responses) == [first.pk, second.pk]  # one recorded answer per unit
    charges = LedgerEntry.objects.for_tenant(alice.tenant).filter(job_id=job_id, kind="charge")
    assert sorted(c.provider_request_id for c in charges) == sorted(r.provider_request_id for r in responses)
    versions = AssetVersion.objects.for_tenant(alice.tenant).filter(job_id=job_id)
    assert sorted(v.provider_request_id for v in versions) == sorted(r.provider_request_id for r in responses)
    ledger = ledger_for_job(tenant=alice.tenant, job_id=job_id)
    assert ledger.open_hold_usd is None and ledger.consistent
    assert spend_counters_check(tenant=alice.tenant) == []
    assert audit_verify(tenant=alice.tenant).ok


def test_a_job_that_finds_no_quota_slot_waits_in_line_without_spending_attempts(
    alice, clean_emulator, celery_worker_factory
):
    """One request per 4 s window, a 1 s quota wait, JOB_MAX_ATTEMPTS=2: five jobs need five windows,
    so most go back to the queue (more than twice) and must still all succeed, each with one attempt."""
    env = {
        **emulator_env(clean_emulator),
        "FOUNDRY_RPM": "1",
        "FOUNDRY_QUOTA_WINDOW_SECONDS": "4",
        "FOUNDRY_QUOTA_WAIT_SECONDS": "1",
        "JOB_MAX_ATTEMPTS": "2",
    }
    worker = celery_worker_factory(**env)
    seen_waiting: set[int] = set()
    try:
        with job_queue_consumed_only_by({worker.name}):
            job_ids = []
            for index in range(5):
                response = alice.client().post(
                    "/api/v1/jobs", {"prompt": f"patient {index}", "quality": "low"}, format="json"
                )
                assert response.status_code == 202, response.content
                job_ids.append(response.json()["id"])
            deadline = time.monotonic() + 90
            while time.monotonic() < deadline:
                jobs = list(Job.unscoped.filter(pk__in=job_ids))
                seen_waiting |= {j.pk for j in jobs if j.state == "queued" and j.error_code == "waiting_for_quota"}
                if all(j.state in ("succeeded", "failed") for j in jobs):
                    break
                time.sleep(0.1)
    finally:
        worker.stop()
    jobs = list(Job.unscoped.filter(pk__in=job_ids))
    assert {j.state for j in jobs} == {"succeeded"}, [(j.pk, j.state, j.error_code) for j in jobs]
    assert {j.attempts for j in jobs} == {1}
    assert len(seen_waiting) >= 3
    assert clean_emulator.stats()["calls"]["generations"] == 5
