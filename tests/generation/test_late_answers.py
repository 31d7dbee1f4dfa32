"""An answer that arrives after reconciliation decided its call (in-process, real database, no worker).

The call left, its run gave up (unknown outcome, a provisional charge), reconciliation with the provider's usage
export settled it (a confirmed charge from the export) or released it (the export said unbilled), and then the
answer reaches a run after all: settled -> still one confirmed charge for the one answer; released -> the answer
proves the provider billed it, so it is charged and the contradiction is audited.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.db.models import Sum
from django.utils import timezone

from generation.foundry.config import platform_deployment_config
from generation.foundry.results import ImageOutput, ImageResult, Usage
from generation.models import AttemptState, JobGeneration, ProviderAttempt, ProviderResponse
from generation.services.attempts import attempt_record, attempt_unknown
from generation.services.execution import _record_response, job_claim
from generation.services.reconciliation import UsageRow, provider_usage_reconcile
from governance.models import AuditEvent, LedgerEntry
from governance.services.ledger import ledger_for_job
from tenants.audit import Actor
from tests.fixtures.celery_worker import job_queue_consumed_only_by

pytestmark = pytest.mark.django_db(transaction=True)  # the recording transaction must be the outermost
OPERATOR = Actor.system("test-operator")


@pytest.fixture(autouse=True)
def jobs_stay_queued():
    with job_queue_consumed_only_by(set()):
        yield


def _unknown_call(persona, call_id: str):
    """A claimed job whose one call left and whose outcome is unknown (provisional)."""
    response = persona.client().post("/api/v1/jobs", {"prompt": "a lighthouse", "quality": "low"}, format="json")
    job = job_claim(job_id=response.json()["id"], owner="test-run")
    unit = JobGeneration.objects.for_tenant(persona.tenant).get(job=job)
    attempt_record(job=job, unit=unit, call_id=call_id, deployment=platform_deployment_config().name)
    assert attempt_unknown(job=job, call_id=call_id, reason="read timeout") is not None
    return job, unit


def _row(call_id: str, request_id: str, *, status: int = 200, output_tokens: int = 272) -> UsageRow:
    return UsageRow(
        client_request_id=call_id,
        request_id=request_id,
        status=status,
        time=timezone.now(),
        operation="images/generations",
        input_tokens=40,
        output_tokens=output_tokens,
    )


def _answer(request_id: str, *, output_tokens: int = 272) -> ImageResult:
    return ImageResult(
        outputs=(ImageOutput(data=b"not looked at here", format="png", width=1024, height=1024),),
        usage=Usage(text_input_tokens=40, output_tokens=output_tokens, total_tokens=40 + output_tokens),
        provider_request_id=request_id,
        latency_seconds=2.0,
        elapsed_seconds=2.0,
        attempts=1,
    )


def _entries(tenant, job_id: int, kind: str) -> list[LedgerEntry]:
    return list(LedgerEntry.objects.for_tenant(tenant).filter(job_id=job_id, kind=kind).order_by("id"))


def _actions(tenant) -> list[str]:
    return list(AuditEvent.objects.for_tenant(tenant).order_by("id").values_list("action", flat=True))


@pytest.mark.parametrize(
    "export_request_id",
    [
        "apim-late-1",  # the export names the call by the answer's own request id (Azure's apim-request-id)
        "export-late-1",  # the export carried no request id of its own: the two ids differ
    ],
)
def test_a_late_answer_after_settlement_is_not_a_second_charge(alice, export_request_id):
    job, unit = _unknown_call(alice, "call-late-1")
    report = provider_usage_reconcile(
        rows=[_row("call-late-1", export_request_id, output_tokens=300)], tenant=alice.tenant, actor=OPERATOR
    )
    assert report.settled == ["call-late-1"]
    settled_charge = _entries(alice.tenant, job.pk, LedgerEntry.Kind.CHARGE)
    assert [c.provider_request_id for c in settled_charge] == [export_request_id]

    response = _record_response(
        job, unit, _answer("apim-late-1"), platform_deployment_config(), outputs=[], call_id="call-late-1"
    )

    # The answer is recorded (its images are what the job delivers) ...
    assert ProviderResponse.objects.for_tenant(alice.tenant).filter(pk=response.pk).exists()
    # ... and the call keeps the one confirmed charge reconciliation made from the provider's bill.
    charges = _entries(alice.tenant, job.pk, LedgerEntry.Kind.CHARGE)
    assert [(c.pk, c.provider_request_id) for c in charges] == [(settled_charge[0].pk, export_request_id)]
    ledger = ledger_for_job(tenant=alice.tenant, job_id=job.pk)
    assert ledger.charged_usd == settled_charge[0].amount_usd and ledger.provisional_open_usd == 0
    attempt = ProviderAttempt.objects.for_tenant(alice.tenant).get(client_request_id="call-late-1")
    assert attempt.state == AttemptState.SETTLED
    assert attempt.detail["answered_late"] == "apim-late-1"
    assert _actions(alice.tenant)[-1] == "provider_call.answered_after_settlement"


def test_a_late_answer_after_a_release_is_charged_and_the_contradiction_audited(alice):
    job, unit = _unknown_call(alice, "call-late-2")
    report = provider_usage_reconcile(
        rows=[_row("call-late-2", "apim-late-2", status=500)], tenant=alice.tenant, actor=OPERATOR
    )
    assert report.released == ["call-late-2"]
    assert _entries(alice.tenant, job.pk, LedgerEntry.Kind.CHARGE) == []
    released = _entries(alice.tenant, job.pk, LedgerEntry.Kind.PROVISIONAL_RELEASE)
    assert len(released) == 1

    _record_response(job, unit, _answer("apim-late-2"), platform_deployment_config(), outputs=[], call_id="call-late-2")

    charges = _entries(alice.tenant, job.pk, LedgerEntry.Kind.CHARGE)
    assert [c.provider_request_id for c in charges] == ["apim-late-2"]
    assert charges[0].amount_usd > 0
    # The provisional charge stays reversed (the release was an entry of its own); the answer's charge is the
    # call's only spend.
    entries = LedgerEntry.objects.for_tenant(alice.tenant).filter(job_id=job.pk).exclude(kind__in=["hold", "release"])
    assert entries.aggregate(total=Sum("amount_usd"))["total"] == charges[0].amount_usd
    attempt = ProviderAttempt.objects.for_tenant(alice.tenant).get(client_request_id="call-late-2")
    assert (attempt.state, attempt.provider_request_id) == (AttemptState.ANSWERED, "apim-late-2")
    event = AuditEvent.objects.for_tenant(alice.tenant).filter(action="provider_call.release_contradicted").get()
    assert event.payload["call_id"] == "call-late-2"
    assert event.payload["provider_request_id"] == "apim-late-2"
    assert Decimal(str(event.payload["charged_usd"])) == charges[0].amount_usd
    assert "unbilled" in event.payload["released_because"]


def test_a_late_answer_to_a_call_still_unknown_settles_its_provisional_charge(alice):
    """The path that worked before: the answer's charge confirms the call and reverses the provisional one."""
    job, unit = _unknown_call(alice, "call-late-3")
    _record_response(job, unit, _answer("apim-late-3"), platform_deployment_config(), outputs=[], call_id="call-late-3")
    charges = _entries(alice.tenant, job.pk, LedgerEntry.Kind.CHARGE)
    assert [c.provider_request_id for c in charges] == ["apim-late-3"]
    assert ledger_for_job(tenant=alice.tenant, job_id=job.pk).provisional_open_usd == 0
    attempt = ProviderAttempt.objects.for_tenant(alice.tenant).get(client_request_id="call-late-3")
    assert attempt.state == AttemptState.ANSWERED
    assert "ledger.provisional_settled" in _actions(alice.tenant)
    assert timezone.now() - attempt.resolved_at < dt.timedelta(minutes=1)
