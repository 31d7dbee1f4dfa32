"""A worker killed with SIGKILL in the middle of a provider call: a new worker finishes the job
exactly once (one version, one recorded provider response)."""

from __future__ import annotations

import time

import pytest

from dam.models import AssetVersion
from generation.job_models import ProviderResponse
from tests.fixtures.celery_worker import emulator_env
from tests.generation.test_jobs_pipeline import wait_for

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]


def test_kill_9_during_a_provider_call_then_a_new_worker_completes_the_job_once(
    alice, clean_emulator, celery_worker_factory
):
    emulator = clean_emulator
    env = {**emulator_env(emulator), "JOB_LEASE_SECONDS": "6", "JOB_RECONCILE_INTERVAL_SECONDS": "2"}
    doomed = celery_worker_factory(**env)
    emulator.configure(latency_ms=[4000, 4000])
    response = alice.client().post("/api/v1/jobs", {"prompt": "survive a crash", "quality": "low"}, format="json")
    job_id = response.json()["id"]

    deadline = time.monotonic() + 30
    while emulator.stats()["in_flight"] < 1:
        assert time.monotonic() < deadline, "the provider call never started"
        time.sleep(0.05)
    doomed.kill()
    emulator.configure(latency_ms=[0, 0])

    survivor = celery_worker_factory(beat=True, **env)
    try:
        (job,) = wait_for([job_id], timeout=90)
    finally:
        survivor.stop()  # its short lease must not leak into later tests
    assert job.state == "succeeded", (job.error_code, job.error_message)
    assert job.attempts == 2
    assert AssetVersion.objects.for_tenant(alice.tenant).filter(job_id=job_id).count() == 1
    assert ProviderResponse.objects.for_tenant(alice.tenant).filter(job_id=job_id).count() == 1
