"""Recording a provider answer: once, with its charge, however often a run tries (in-process, no worker)."""

from __future__ import annotations

import pytest

from generation.execution import _record_response, job_claim
from generation.foundry.config import platform_deployment_config
from generation.foundry.results import ImageOutput, ImageResult, Usage
from generation.job_models import JobGeneration, ProviderResponse
from governance.models import BudgetHold, LedgerEntry
from tests.fixtures.celery_worker import job_queue_consumed_only_by

pytestmark = pytest.mark.django_db(transaction=True)  # the recording transaction must be the outermost


@pytest.fixture(autouse=True)
def jobs_stay_queued():
    with job_queue_consumed_only_by(set()):
        yield


def _answer(request_id: str) -> ImageResult:
    return ImageResult(
        outputs=(ImageOutput(data=b"not looked at here", format="png", width=1024, height=1024),),
        usage=Usage(text_input_tokens=40, output_tokens=272, total_tokens=312),
        provider_request_id=request_id,
        latency_seconds=2.0,
        elapsed_seconds=2.0,
        attempts=1,
    )


def test_the_same_answer_recorded_twice_is_one_response_and_one_charge(alice):
    job_id = alice.client().post("/api/v1/jobs", {"prompt": "a canoe", "quality": "low"}, format="json").json()["id"]
    job = job_claim(job_id=job_id, owner="test-run")
    unit = JobGeneration.objects.for_tenant(alice.tenant).get(job=job)
    config = platform_deployment_config()
    hold_before = BudgetHold.objects.for_tenant(alice.tenant).get(job_id=job_id).remaining_usd

    first = _record_response(job, unit, _answer("req-dup-1"), config, outputs=[])
    again = _record_response(job, unit, _answer("req-dup-1"), config, outputs=[])  # the insert fails and rolls back

    assert again.pk == first.pk and again.output_tokens == 272
    assert ProviderResponse.objects.for_tenant(alice.tenant).filter(job_id=job_id).count() == 1
    charges = LedgerEntry.objects.for_tenant(alice.tenant).filter(job_id=job_id, kind=LedgerEntry.Kind.CHARGE)
    assert [c.provider_request_id for c in charges] == ["req-dup-1"]
    charge = charges.get().amount_usd
    hold_after = BudgetHold.objects.for_tenant(alice.tenant).get(job_id=job_id).remaining_usd
    assert charge > 0 and hold_after == max(hold_before - charge, 0)  # consumed once, not twice
