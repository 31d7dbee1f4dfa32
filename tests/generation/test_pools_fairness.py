"""The scheduler's order under a real worker: a tenant's interactive job goes ahead of another tenant's bulk backlog.

One platform pool of one deployment paced at 1 call a second (a 2 s window of 2 requests), served by a real Celery
worker process over HTTP to the emulator; tenant A queues a bulk backlog, then tenant B submits one interactive job.
"""

from __future__ import annotations

import time

import pytest

from generation.models import Job, PoolMember
from generation.services.capacity import pool_create, pool_member_save, tenant_capacity_set
from tenants.audit import Actor
from tests.fixtures.celery_worker import emulator_env, job_queue_consumed_only_by
from tests.fixtures.emulator import API_KEY
from tests.support.jobs import wait_for

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]
OPERATOR = Actor.system("test-operator")


def _submit(persona, prompt: str, **extra) -> int:
    body = {"prompt": prompt, "quality": "low", **extra}
    response = persona.client().post("/api/v1/jobs", body, format="json")
    assert response.status_code == 202, response.content
    return response.json()["id"]


def _call_order(emulator) -> list[str]:
    """Job ids in the order their calls reached the deployment (client request id `job-<job>-<unit>-<slot>`)."""
    calls = sorted(emulator.stats()["recent"], key=lambda call: call["at"])
    return [call["client_request_id"].split("-")[1] for call in calls if call.get("client_request_id")]


def test_an_interactive_job_is_called_before_another_tenants_bulk_backlog(
    alice, charlie, clean_emulator, celery_worker_factory
):
    # Each call takes 3 s at the provider, so no bulk job finishes (and starts its renditions on the worker's threads)
    # before the interactive one has had its turn: what is measured is the pool's queue, not a thread shortage.
    clean_emulator.configure(deployments={"shared": {"latency": 3000}})
    pool = pool_create(name="shared", owner=None, actor=OPERATOR)
    member = PoolMember(
        pool=pool, name="shared", endpoint=clean_emulator.base_url, deployment="shared", region="swedencentral", rpm=2
    )
    pool_member_save(member=member, actor=OPERATOR, api_key=API_KEY)
    for tenant in (alice.tenant, charlie.tenant):
        tenant_capacity_set(tenant=tenant, actor=OPERATOR, pool=pool)
    worker = celery_worker_factory(**emulator_env(clean_emulator), FOUNDRY_QUOTA_WINDOW_SECONDS="2")
    try:
        with job_queue_consumed_only_by({worker.name}):
            backlog = [_submit(alice, f"a bulk dune {i}") for i in range(6)]  # 2 calls every 2 s
            deadline = time.monotonic() + 30
            while clean_emulator.stats()["in_flight"] < 2:  # the backlog's first two calls are out
                assert time.monotonic() < deadline, "the backlog never started"
                time.sleep(0.05)
            urgent = _submit(charlie, "one urgent edit of a dune", priority="interactive")
            assert Job.unscoped.get(pk=urgent).priority == "interactive"
            jobs = wait_for([*backlog, urgent], timeout=120)
    finally:
        worker.stop()

    assert {job.state for job in jobs} == {"succeeded"}
    order = _call_order(clean_emulator)
    position = order.index(str(urgent))
    # The two calls already out, then at most one more bulk call (the slot it shares, or one granted while the
    # interactive job was being picked up): never behind the backlog.
    assert position <= 3, order
    assert len(order) - position - 1 >= 2, order  # bulk calls still waiting went after it
