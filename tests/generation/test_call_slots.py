"""JOB_CALLS_IN_FLIGHT: a worker process with more threads than call slots never has more calls out."""

from __future__ import annotations

import time

import pytest

from generation.models import Job
from tests.fixtures.celery_worker import emulator_env, job_queue_consumed_only_by

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]


def test_a_worker_keeps_at_most_its_call_slots_in_flight(alice, clean_emulator, celery_worker_factory):
    clean_emulator.configure(latency_ms=600)
    worker = celery_worker_factory(**emulator_env(clean_emulator), JOB_CALLS_IN_FLIGHT="2")  # 8 threads
    try:
        with job_queue_consumed_only_by({worker.name}):
            job_ids = []
            for index in range(6):
                response = alice.client().post(
                    "/api/v1/jobs", {"prompt": f"slot {index}", "quality": "low"}, format="json"
                )
                assert response.status_code == 202, response.content
                job_ids.append(response.json()["id"])
            most_running = 0
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline:
                states = list(Job.unscoped.filter(pk__in=job_ids).values_list("state", flat=True))
                most_running = max(most_running, states.count("running"))
                if all(state in ("succeeded", "failed") for state in states):
                    break
                time.sleep(0.05)
    finally:
        worker.stop()
    assert set(Job.unscoped.filter(pk__in=job_ids).values_list("state", flat=True)) == {"succeeded"}
    stats = clean_emulator.stats()
    assert stats["calls"]["generations"] == 6
    assert stats["max_in_flight"] == 2  # two at a time, though more jobs than that were running
    assert most_running > 2
