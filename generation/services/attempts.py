"""Provider attempts: every call recorded before it leaves, so none can be paid for unseen.

Life of an attempt: `sent` (committed before the request goes out) -> `answered` (in the transaction that records
the provider's response and charges it), `refused` / `failed` (the service said no before generating, or answered
an error: nothing billed), or `unknown` (no answer: a timeout after sending, or found still `sent` by the next run
after a crash). An unknown attempt is a provisional charge at its planned cost until reconciliation settles it
(found in the provider's usage) or releases it (not billed): `generation.services.reconciliation`.
An answer that still arrives later is charged once whatever was decided meanwhile (`attempt_answered`): a settled
call keeps reconciliation's charge, a released one is charged and the contradicted release audited.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from decimal import Decimal

from django.db import transaction
from django.db.models import Count, F, JSONField, QuerySet, Value
from django.db.models.expressions import CombinedExpression
from django.utils import timezone

from generation.models import AttemptState, Job, JobGeneration, ProviderAttempt, ProviderResponse
from generation.sizing import MAX_EDIT_INPUT_IMAGE_TOKENS, output_tokens
from governance.models import LedgerEntry
from governance.prices import ledger_charge_cost
from governance.services.ledger import ledger_charge_response
from governance.services.provisional import (
    ProvisionalCharge,
    ledger_charge_of,
    ledger_provisional_charge,
    ledger_provisional_charges,
    ledger_provisional_settle,
    ledger_release_contradicted,
)
from tenants.audit import Actor, audit, audit_deferred


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
    *,
    job: Job,
    unit: JobGeneration,
    call_id: str,
    deployment: str,
    region: str = "",
    queue_wait_ms: int | None = None,
) -> ProviderAttempt:
    """The call is about to leave: record it (and count it on its unit) and commit, before anything is sent.
    `queue_wait_ms`: how long it waited in the pool's scheduler for its slot (the fairness figures read it)."""
    JobGeneration.objects.for_tenant(job.tenant_id).filter(pk=unit.pk).update(provider_calls=F("provider_calls") + 1)
    return ProviderAttempt.objects.for_tenant(job.tenant_id).create(
        tenant_id=job.tenant_id,
        job=job,
        generation=unit,
        client_request_id=call_id,
        deployment=deployment,
        region=region,
        planned_cost_usd=attempt_planned_cost(job=job, unit=unit),
        detail={} if queue_wait_ms is None else {"queue_wait_ms": queue_wait_ms},
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


def attempt_answered(*, job: Job, unit: JobGeneration, response: ProviderResponse, call_id: str | None) -> LedgerEntry:
    """The answer's charge, decided with its attempt, in the transaction that records the response.

    - sent (the usual case) or no attempt: the response is charged from its usage.
    - unknown (the answer came after another run gave up on it): charged, and its provisional charge settled by
      that very charge.
    - settled (reconciliation found the call in the provider's usage export and charged it from there): not
      charged again. The export's charge stays: it is the provider's own bill, it was made first, and reports,
      counters and budget alerts have counted it already; with Azure both name the call by its apim-request-id,
      so a second charge would also fail the one-charge-per-response index and lose the answer. The answer's
      request id is kept on the attempt and the late answer audited (with what its usage would have cost, so a
      difference from the export shows).
    - released (the export said unbilled): the answer proves the provider billed it. It is charged, and the
      contradiction is audited (`provider_call.release_contradicted`): the export an operator trusted was wrong.
    """
    attempt = (
        ProviderAttempt.objects.for_tenant(job.tenant_id).select_for_update().filter(client_request_id=call_id).first()
        if call_id
        else None
    )
    was = attempt.state if attempt is not None else None
    if was == AttemptState.SETTLED:
        return _answered_after_settlement(job=job, attempt=attempt, response=response)
    charge = ledger_charge_response(
        tenant=job.tenant,
        job_id=job.pk,
        provider_request_id=response.provider_request_id,
        usage=response.usage_dict(),
        occurred_at=response.created_at,
        **charge_attribution(job=job, unit=unit),
        usage_estimated=not response.usage_reported,
        response_is_new=True,
    )
    if attempt is None:
        return charge
    ProviderAttempt.objects.for_tenant(job.tenant_id).filter(pk=attempt.pk).update(
        state=AttemptState.ANSWERED, provider_request_id=response.provider_request_id, resolved_at=timezone.now()
    )
    if was == AttemptState.UNKNOWN:
        ledger_provisional_settle(
            tenant=job.tenant,
            call_id=call_id,
            provider_request_id=response.provider_request_id,
            usage={},  # the response's charge exists already (just above): it is returned, not made again
            occurred_at=timezone.now(),
            actor=Actor.system("worker"),
            source="answer received",
        )
    elif was == AttemptState.RELEASED:
        ledger_release_contradicted(
            tenant=job.tenant,
            call_id=call_id,
            charge=charge,
            actor=Actor.system("worker"),
            detail={"deployment": attempt.deployment, "job_id": job.pk},
        )
    return charge


def _answered_after_settlement(*, job: Job, attempt: ProviderAttempt, response: ProviderResponse) -> LedgerEntry:
    settled = ledger_charge_of(tenant=job.tenant, provider_request_id=attempt.provider_request_id)
    attempt.detail = {**attempt.detail, "answered_late": response.provider_request_id}
    attempt.save(update_fields=["detail"])
    audit(
        tenant=job.tenant,
        actor=Actor.system("worker"),
        action="provider_call.answered_after_settlement",
        target=("job", job.pk),
        payload={
            "call_id": attempt.client_request_id,
            "provider_request_id": response.provider_request_id,
            "settled_as": attempt.provider_request_id,
            "charged_usd": settled.amount_usd,
            "answer_usd": ledger_charge_cost(response.usage_dict(), response.created_at).total_usd,
        },
    )
    return settled


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


SWEEP_BATCH = 500


def attempts_declare_unknown(*, stale: QuerySet[ProviderAttempt], reason: str, limit: int = 10_000) -> int:
    """`attempt_unknown` for every `sent` attempt of `stale` (up to `limit`), in batches whose queries do not grow
    with the number of attempts: each batch claims its rows (skipping any another sweep holds), marks them
    unknown, charges them provisionally per tenant and audits each, in one transaction. Returns how many."""
    declared = 0
    while declared < limit:
        batch = _declare_unknown_batch(stale, reason=reason, size=min(SWEEP_BATCH, limit - declared))
        declared += batch
        if batch < SWEEP_BATCH:
            break
    return declared


@transaction.atomic
def _declare_unknown_batch(stale: QuerySet[ProviderAttempt], *, reason: str, size: int) -> int:
    claimed = list(
        stale.filter(state=AttemptState.SENT)
        .select_related("job__tenant", "generation")
        .select_for_update(of=("self",), skip_locked=True)
        .order_by("id")[:size]
    )
    if not claimed:
        return 0
    reason = reason[:500]
    with_reason = CombinedExpression(
        F("detail"), "||", Value({"reason": reason}, output_field=JSONField()), output_field=JSONField()
    )
    ProviderAttempt.unscoped.filter(pk__in=[attempt.pk for attempt in claimed]).update(
        state=AttemptState.UNKNOWN, resolved_at=timezone.now(), detail=with_reason
    )
    by_tenant: dict[int, list[ProviderAttempt]] = defaultdict(list)
    for attempt in claimed:
        by_tenant[attempt.tenant_id].append(attempt)
    with audit_deferred():  # each tenant's chain moved once, last
        for attempts in by_tenant.values():
            tenant = attempts[0].job.tenant
            entries = ledger_provisional_charges(
                tenant=tenant,
                charges=[
                    ProvisionalCharge(
                        call_id=attempt.client_request_id,
                        amount_usd=attempt.planned_cost_usd,
                        job_id=attempt.job_id,
                        occurred_at=attempt.sent_at,
                        note=f"outcome unknown on {attempt.deployment}: {reason}",
                        **charge_attribution(job=attempt.job, unit=attempt.generation),
                    )
                    for attempt in attempts
                ],
            )
            for attempt, entry in zip(attempts, entries, strict=True):
                audit(
                    tenant=tenant,
                    actor=Actor.system("worker"),
                    action="provider_call.outcome_unknown",
                    target=("job", attempt.job_id),
                    payload={
                        "call_id": attempt.client_request_id,
                        "deployment": attempt.deployment,
                        "provisional_usd": entry.amount_usd,
                        "reason": reason,
                    },
                )
    return len(claimed)


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
