"""Provider attempts: every call recorded before it leaves, so none can be paid for unseen.

Life of an attempt: `sent` (committed before the request goes out) -> `answered` (in the transaction that records
the provider's response and charges it), `refused` / `failed` (the service said no before generating, or answered
an error: nothing billed), or `unknown` (no answer: a timeout after sending, or found still `sent` by the next run
after a crash). An unknown attempt is a provisional charge at its planned cost until reconciliation settles it
(found in the provider's usage) or releases it (not billed): `generation.services.reconciliation`.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from django.db import transaction
from django.db.models import Count, F
from django.utils import timezone

from generation.models import AttemptState, Job, JobGeneration, ProviderAttempt
from generation.sizing import MAX_EDIT_INPUT_IMAGE_TOKENS, output_tokens
from governance.prices import ledger_charge_cost
from governance.services.provisional import ledger_provisional_charge, ledger_provisional_settle
from tenants.audit import Actor, audit


def attempt_planned_cost(*, job: Job, unit: JobGeneration, at: dt.datetime | None = None) -> Decimal:
    """What the call would cost if the service generated it: its output tokens, every prompt byte as a text token,
    and an edit's input image at its ceiling (the job's hold counts the same). An upper bound, as a provisional
    charge should be."""
    usage = {
        "text_input_tokens": len(unit.compiled_prompt.encode()),
        "image_input_tokens": MAX_EDIT_INPUT_IMAGE_TOKENS if job.kind == Job.Kind.EDIT else 0,
        "output_tokens": output_tokens(unit.width, unit.height, job.quality) * job.n,
    }
    return ledger_charge_cost(usage, at or timezone.now()).total_usd


def charge_attribution(*, job: Job, unit: JobGeneration) -> dict:
    """Who and what a unit's charge is for (reports group by these), for a charge or a provisional one alike."""
    return {
        "api_key_id": job.requested_by_key_id,
        "user_id": job.requested_by_id,
        "collection_id": job.collection_id,
        "size": f"{unit.width}x{unit.height}",
        "quality": job.quality,
        "operation": job.kind,
        "images": job.n,
    }


@transaction.atomic
def attempt_record(
    *, job: Job, unit: JobGeneration, call_id: str, deployment: str, region: str = ""
) -> ProviderAttempt:
    """The call is about to leave: record it (and count it on its unit) and commit, before anything is sent."""
    JobGeneration.objects.for_tenant(job.tenant_id).filter(pk=unit.pk).update(provider_calls=F("provider_calls") + 1)
    return ProviderAttempt.objects.for_tenant(job.tenant_id).create(
        tenant_id=job.tenant_id,
        job=job,
        generation=unit,
        client_request_id=call_id,
        deployment=deployment,
        region=region,
        planned_cost_usd=attempt_planned_cost(job=job, unit=unit),
    )


def attempt_resolve(*, tenant_id: int, call_id: str, state: str, detail: dict | None = None) -> bool:
    """A `sent` attempt that ended without a bill: refused before generating, or an error answer."""
    if state not in (AttemptState.REFUSED, AttemptState.FAILED):
        raise ValueError(f"attempt_resolve takes refused or failed, not {state}")
    return bool(
        ProviderAttempt.objects.for_tenant(tenant_id)
        .filter(client_request_id=call_id, state=AttemptState.SENT)
        .update(state=state, detail=detail or {}, resolved_at=timezone.now())
    )


def attempt_answered(*, job: Job, call_id: str, provider_request_id: str) -> None:
    """In the transaction that records the response and its charge. An attempt already declared unknown (its
    answer arrived after another run gave up on it) has its provisional charge settled by that very charge."""
    attempts = ProviderAttempt.objects.for_tenant(job.tenant_id).select_for_update().filter(client_request_id=call_id)
    attempt = attempts.first()
    if attempt is None:
        return
    was = attempt.state
    attempts.update(state=AttemptState.ANSWERED, provider_request_id=provider_request_id, resolved_at=timezone.now())
    if was == AttemptState.UNKNOWN:
        ledger_provisional_settle(
            tenant=job.tenant,
            call_id=call_id,
            provider_request_id=provider_request_id,
            usage={},  # the response's charge exists already (same transaction): it is returned, not made again
            occurred_at=timezone.now(),
            actor=Actor.system("worker"),
            source="answer received",
        )


@transaction.atomic
def attempt_unknown(*, job: Job, call_id: str, reason: str) -> ProviderAttempt | None:
    """No answer for a sent call: mark it unknown and charge it provisionally at its planned cost, audited. Only
    a `sent` attempt moves (an answer recorded meanwhile wins); returns it, or None when it had moved already."""
    attempt = (
        ProviderAttempt.objects.for_tenant(job.tenant_id)
        .select_for_update()
        .filter(client_request_id=call_id, state=AttemptState.SENT)
        .select_related("generation")
        .first()
    )
    if attempt is None:
        return None
    attempt.state = AttemptState.UNKNOWN
    attempt.resolved_at = timezone.now()
    attempt.detail = {**attempt.detail, "reason": reason[:500]}
    attempt.save(update_fields=["state", "resolved_at", "detail"])
    unit = attempt.generation
    entry = ledger_provisional_charge(
        tenant=job.tenant,
        call_id=call_id,
        amount_usd=attempt.planned_cost_usd,
        job_id=job.pk,
        occurred_at=attempt.sent_at,
        note=f"outcome unknown on {attempt.deployment}: {reason}",
        **charge_attribution(job=job, unit=unit),
    )
    audit(
        tenant=job.tenant,
        actor=Actor.system("worker"),
        action="provider_call.outcome_unknown",
        target=("job", job.pk),
        payload={
            "call_id": call_id,
            "deployment": attempt.deployment,
            "provisional_usd": entry.amount_usd,
            "reason": reason[:500],
        },
    )
    return attempt


def attempts_orphaned(*, job: Job, unit: JobGeneration) -> int:
    """A new run of a unit finds its earlier calls still `sent`: the run that made them is gone (killed, or its
    lease ran out) with no answer recorded. Each becomes unknown (provisional). Returns the unit's unknown count."""
    for call_id in (
        ProviderAttempt.objects.for_tenant(job.tenant_id)
        .filter(generation=unit, state=AttemptState.SENT)
        .values_list("client_request_id", flat=True)
    ):
        attempt_unknown(job=job, call_id=call_id, reason="the run that sent it ended without an answer")
    return unknown_attempts(job=job, unit=unit)


def unknown_attempts(*, job: Job, unit: JobGeneration) -> int:
    """Calls of the unit whose outcome was (or still is) unknown: the job-level retry decision counts them."""
    return (
        ProviderAttempt.objects.for_tenant(job.tenant_id)
        .filter(generation=unit, state__in=[AttemptState.UNKNOWN, AttemptState.SETTLED, AttemptState.RELEASED])
        .count()
    )


def most_unknown_attempts(*, job: Job) -> int:
    """The largest count of unknown-outcome calls of any one unit of the job."""
    counts = (
        ProviderAttempt.objects.for_tenant(job.tenant_id)
        .filter(job=job, state__in=[AttemptState.UNKNOWN, AttemptState.SETTLED, AttemptState.RELEASED])
        .values("generation_id")
        .annotate(calls=Count("id"))
        .values_list("calls", flat=True)
    )
    return max(counts, default=0)
