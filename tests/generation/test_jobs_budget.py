"""Budgets at submission: the hold is one atomic statement, so concurrent submissions can never
overrun the month's limit, and a refusal is a 402 that says what is left and what the job needs."""

from __future__ import annotations

import threading
from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal

import pytest
from django.db import connection
from rest_framework.test import APIClient

from generation.models import Job
from governance.models import BudgetHold, LedgerEntry
from governance.services.budgets import budget_set
from tenants.audit import Actor
from tests.fixtures.celery_worker import job_queue_consumed_only_by

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def jobs_stay_queued():
    """Submission is what these tests measure: no worker may start (and so settle) the jobs."""
    with job_queue_consumed_only_by(set()):
        yield


CENT = Decimal("0.01")
REQUEST = {"prompt": "a canoe on a calm lake", "quality": "medium", "size": "1024x1024"}


def _ceiling_of_one_job(alice) -> Decimal:
    """Submit and cancel one job to learn what such a job holds (its cost ceiling)."""
    response = alice.client().post("/api/v1/jobs", REQUEST, format="json")
    job_id = response.json()["id"]
    hold = BudgetHold.objects.for_tenant(alice.tenant).get(job_id=job_id).amount_usd
    assert alice.client().post(f"/api/v1/jobs/{job_id}/cancel").json()["state"] == "cancelled"
    assert BudgetHold.objects.for_tenant(alice.tenant).get(job_id=job_id).status == "released"
    return hold


def test_a_hundred_concurrent_submissions_against_a_budget_for_ten_accept_exactly_ten(alice):
    ceiling = _ceiling_of_one_job(alice)
    assert ceiling > 0
    # Budgets are whole cents: round ten jobs' worth up; an eleventh still does not fit.
    limit = (ceiling * 10).quantize(CENT, rounding=ROUND_CEILING)
    assert limit < ceiling * 11
    budget_set(tenant=alice.tenant, actor=Actor.system("test"), monthly_limit_usd=limit, hard_stop=True)
    statuses: list[int] = []
    barrier = threading.Barrier(20)

    def submit(count: int) -> None:
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {alice.token}")
        barrier.wait()
        try:
            for _ in range(count):
                statuses.append(client.post("/api/v1/jobs", REQUEST, format="json").status_code)
        finally:
            connection.close()

    threads = [threading.Thread(target=submit, args=(5,)) for _ in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(statuses) == 100
    assert statuses.count(202) == 10 and statuses.count(402) == 90
    open_holds = BudgetHold.objects.for_tenant(alice.tenant).filter(status="open")
    assert open_holds.count() == 10
    assert sum(h.amount_usd for h in open_holds) <= limit
    # Refused submissions left nothing behind: one job per accepted hold (plus the cancelled probe).
    assert Job.objects.for_tenant(alice.tenant).count() == 11


def test_an_over_budget_job_gets_402_naming_the_remaining_budget_and_its_estimate(alice):
    ceiling = _ceiling_of_one_job(alice)
    half = (ceiling / 2).quantize(CENT, rounding=ROUND_FLOOR)
    budget_set(tenant=alice.tenant, actor=Actor.system("test"), monthly_limit_usd=half, hard_stop=True)
    response = alice.client().post("/api/v1/jobs", REQUEST, format="json")
    assert response.status_code == 402
    message = str(response.json())
    assert "left" in message and f"{ceiling}".rstrip("0")[:6] in message
    assert Job.objects.for_tenant(alice.tenant).count() == 1  # only the probe
    holds = LedgerEntry.objects.for_tenant(alice.tenant).filter(kind="hold").count()
    assert holds == 1
