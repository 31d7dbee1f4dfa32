"""Provisional charges: calls that may have been paid for, held against the budget until reconciled.

A provider call whose answer never arrived (a read timeout after it was sent, a worker killed while it was out)
may still have been generated and billed. It is charged here at its planned cost, marked `provisional`, so the
budget counts it at once; reconciliation with the provider's usage export then settles it (a real `charge` from
the exported usage, and the provisional one reversed) or releases it (reversed: the provider has no such call).
Every entry is append-only and unique per call (the client request id), so a step repeated after a crash
neither doubles nor loses anything; settling and releasing are audited decisions.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal

from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from governance.models import DEFAULT_MODEL, DEFAULT_TIER, LedgerEntry
from governance.periods import local_day
from governance.prices import AMOUNT_QUANTUM
from governance.services.counters import ZERO, counters_alert, counters_apply, deltas_for
from governance.services.ledger import ledger_charge_response, spend_applied, tenant_of
from tenants.audit import Actor, RequestOrigin, audit
from tenants.errors import Conflict, ServiceError
from tenants.models import Tenant


def _provisional(tenant: Tenant, call_id: str, kind: str) -> LedgerEntry | None:
    return LedgerEntry.objects.for_tenant(tenant).filter(kind=kind, provider_request_id=call_id).first()


@dataclass(frozen=True)
class ProvisionalCharge:
    """One unknown-outcome call to charge provisionally (`ledger_provisional_charge`'s arguments)."""

    call_id: str
    amount_usd: Decimal
    job_id: int | None
    occurred_at: dt.datetime
    note: str
    api_key_id: int | None = None
    user_id: int | None = None
    collection_id: int | None = None
    size: str = ""
    quality: str = ""
    operation: str = ""
    images: int = 0


def _provisional_entry(tenant: Tenant, charge: ProvisionalCharge) -> LedgerEntry:
    """The (unsaved) provisional entry of one call, at its planned cost in the tenant's day and month."""
    amount = Decimal(str(charge.amount_usd)).quantize(AMOUNT_QUANTUM)
    if amount < 0:
        raise ServiceError("a provisional charge cannot be negative", field="amount_usd")
    day = local_day(charge.occurred_at, tenant.time_zone)
    return LedgerEntry(
        tenant=tenant,
        kind=LedgerEntry.Kind.PROVISIONAL,
        amount_usd=amount,
        job_id=charge.job_id,
        api_key_id=charge.api_key_id,
        user_id=charge.user_id,
        collection_id=charge.collection_id,
        provider_request_id=charge.call_id,
        model=DEFAULT_MODEL,
        deployment_tier=DEFAULT_TIER,
        size=charge.size,
        quality=charge.quality,
        operation=charge.operation,
        images=charge.images,
        note=charge.note[:500],
        occurred_at=charge.occurred_at,
        day=day,
        period=day.replace(day=1),
    )


@transaction.atomic
def ledger_provisional_charge(
    *,
    tenant: Tenant | int,
    call_id: str,
    amount_usd: Decimal,
    job_id: int | None,
    occurred_at: dt.datetime,
    note: str,
    api_key_id: int | None = None,
    user_id: int | None = None,
    collection_id: int | None = None,
    size: str = "",
    quality: str = "",
    operation: str = "",
    images: int = 0,
) -> LedgerEntry:
    """Charge an unknown-outcome call at its planned cost, once per `call_id` (its client request id).

    It consumes the job's hold like a charge (the budget already reserved it), moves the month's counters (the
    budget counts it), and stays out of the daily roll-ups of confirmed spend."""
    if not call_id:
        raise ServiceError("a provisional charge names its call", field="call_id")
    tenant = tenant_of(tenant)
    existing = _provisional(tenant, call_id, LedgerEntry.Kind.PROVISIONAL)
    if existing is not None:
        return existing
    entry = _provisional_entry(
        tenant,
        ProvisionalCharge(
            call_id=call_id,
            amount_usd=amount_usd,
            job_id=job_id,
            occurred_at=occurred_at,
            note=note,
            api_key_id=api_key_id,
            user_id=user_id,
            collection_id=collection_id,
            size=size,
            quality=quality,
            operation=operation,
            images=images,
        ),
    )
    try:
        with transaction.atomic():
            entry.save(force_insert=True)
    except IntegrityError:
        existing = _provisional(tenant, call_id, LedgerEntry.Kind.PROVISIONAL)
        if existing is None:
            raise
        return existing
    spend_applied(tenant, entry)
    return entry


@transaction.atomic
def ledger_provisional_charges(*, tenant: Tenant, charges: Sequence[ProvisionalCharge]) -> list[LedgerEntry]:
    """`ledger_provisional_charge` for many calls of one tenant, in a number of statements that does not grow with
    them (the attempts sweep after a crash finds them by the hundred). The same entries, holds consumed and
    counters moved as one by one; a call charged provisionally already keeps its entry. In `charges`' order."""
    if any(not charge.call_id for charge in charges):
        raise ServiceError("a provisional charge names its call", field="call_id")
    existing = {
        entry.provider_request_id: entry
        for entry in LedgerEntry.objects.for_tenant(tenant).filter(
            kind=LedgerEntry.Kind.PROVISIONAL, provider_request_id__in=[charge.call_id for charge in charges]
        )
    }
    new: dict[str, LedgerEntry] = {}
    for charge in charges:
        if charge.call_id in existing or charge.call_id in new:
            continue
        new[charge.call_id] = _provisional_entry(tenant, charge)
    if new:
        # The callers claim each call's attempt first (sent -> unknown, under its row lock): no one else charges
        # these calls meanwhile, and a duplicate would still fail on the ledger's unique index.
        LedgerEntry.objects.for_tenant(tenant).bulk_create(list(new.values()))
        _provisional_spend_applied(tenant, list(new.values()))
    return [existing.get(charge.call_id) or new[charge.call_id] for charge in charges]


# What `spend_applied`'s hold statement does for one job, for many at once: each job's open hold gives what it
# can of the sum charged to it (one by one, the charges would take the same in total). Holds locked in id order.
_HOLDS_CONSUME = """
WITH wanted(job_id, amount) AS (VALUES {rows}),
old AS (
    SELECT hold.id, hold.remaining_usd, wanted.amount
    FROM governance_budgethold AS hold JOIN wanted ON hold.job_id = wanted.job_id
    WHERE hold.tenant_id = %s AND hold.status = 'open' AND hold.remaining_usd > 0
    ORDER BY hold.id
    FOR NO KEY UPDATE OF hold
)
UPDATE governance_budgethold AS hold
SET remaining_usd = old.remaining_usd - LEAST(old.remaining_usd, old.amount)
FROM old WHERE hold.id = old.id
RETURNING hold.period, hold.api_key_id, LEAST(old.remaining_usd, old.amount)
"""


def _provisional_spend_applied(tenant: Tenant, entries: Sequence[LedgerEntry]) -> None:
    """`spend_applied` for new provisional charges of one tenant: their jobs' holds consumed, the months' counters
    moved (the budget counts them), alerts when a threshold is crossed; provisional charges have no roll-ups."""
    movements = [(entry.period, entry.api_key_id, entry.amount_usd, ZERO) for entry in entries]
    per_job: dict[int, Decimal] = defaultdict(Decimal)
    for entry in entries:
        if entry.job_id is not None and entry.amount_usd > 0:
            per_job[entry.job_id] += entry.amount_usd
    if per_job:
        rows = ", ".join(["(%s::bigint, %s::numeric)"] * len(per_job))
        params = [value for job_id in sorted(per_job) for value in (job_id, per_job[job_id])]
        with connection.cursor() as cursor:
            cursor.execute(_HOLDS_CONSUME.format(rows=rows), [*params, tenant.pk])
            movements += [(period, api_key_id, ZERO, -amount) for period, api_key_id, amount in cursor.fetchall()]
    if counters_apply(tenant_id=tenant.pk, deltas=deltas_for(movements)):
        for period, api_key_id in sorted({(e.period, e.api_key_id) for e in entries}, key=lambda s: (s[0], s[1] or 0)):
            counters_alert(tenant=tenant, period=period, api_key_id=api_key_id)


def _reverse(tenant: Tenant, provisional: LedgerEntry, *, note: str) -> LedgerEntry:
    """The provisional charge's negative twin, in the same month (the budget counted it there)."""
    now = timezone.now()
    entry = LedgerEntry(
        tenant=tenant,
        kind=LedgerEntry.Kind.PROVISIONAL_RELEASE,
        amount_usd=-provisional.amount_usd,
        job_id=provisional.job_id,
        api_key_id=provisional.api_key_id,
        user_id=provisional.user_id,
        collection_id=provisional.collection_id,
        provider_request_id=provisional.provider_request_id,
        model=provisional.model,
        deployment_tier=provisional.deployment_tier,
        note=note[:500],
        occurred_at=now,
        day=provisional.day,
        period=provisional.period,
    )
    entry.save(force_insert=True)
    spend_applied(tenant, entry)
    return entry


def _open_provisional(tenant: Tenant, call_id: str) -> LedgerEntry:
    provisional = _provisional(tenant, call_id, LedgerEntry.Kind.PROVISIONAL)
    if provisional is None:
        raise ServiceError(f"no provisional charge for call {call_id}", field="call_id")
    # Lock the charge's row so two reconciliations of one call queue here; the second finds it resolved.
    LedgerEntry.objects.for_tenant(tenant).select_for_update().filter(pk=provisional.pk).get()
    if _provisional(tenant, call_id, LedgerEntry.Kind.PROVISIONAL_RELEASE) is not None:
        raise Conflict(f"the provisional charge of call {call_id} is already resolved", field="call_id")
    return provisional


@transaction.atomic
def ledger_provisional_settle(
    *,
    tenant: Tenant | int,
    call_id: str,
    provider_request_id: str,
    usage: Mapping[str, int],
    occurred_at: dt.datetime,
    actor: Actor,
    source: str,
    origin: RequestOrigin | None = None,
) -> LedgerEntry:
    """The provider did answer (and bill) the call: charge its real usage, reverse the provisional charge, audit."""
    tenant = tenant_of(tenant)
    provisional = _open_provisional(tenant, call_id)
    charge = ledger_charge_response(
        tenant=tenant,
        job_id=provisional.job_id,
        provider_request_id=provider_request_id,
        usage=usage,
        occurred_at=occurred_at,
        api_key_id=provisional.api_key_id,
        user_id=provisional.user_id,
        collection_id=provisional.collection_id,
        size=provisional.size,
        quality=provisional.quality,
        operation=provisional.operation,
        images=provisional.images,
    )
    _reverse(tenant, provisional, note=f"settled by {source}: charged as {provider_request_id}")
    audit(
        tenant=tenant,
        actor=actor,
        action="ledger.provisional_settled",
        target=("ledger_entry", provisional.pk),
        payload={
            "call_id": call_id,
            "provider_request_id": provider_request_id,
            "provisional_usd": provisional.amount_usd,
            "charged_usd": charge.amount_usd,
            "source": source,
        },
        origin=origin,
    )
    return charge


@transaction.atomic
def ledger_provisional_release(
    *,
    tenant: Tenant | int,
    call_id: str,
    reason: str,
    actor: Actor,
    origin: RequestOrigin | None = None,
) -> LedgerEntry:
    """The provider did not bill the call: reverse its provisional charge. Only by a decision, audited with why."""
    if not reason.strip():
        raise ServiceError("say why the charge is released", field="reason")
    tenant = tenant_of(tenant)
    provisional = _open_provisional(tenant, call_id)
    reversal = _reverse(tenant, provisional, note=f"released: {reason.strip()}")
    audit(
        tenant=tenant,
        actor=actor,
        action="ledger.provisional_released",
        target=("ledger_entry", provisional.pk),
        payload={"call_id": call_id, "provisional_usd": provisional.amount_usd, "reason": reason.strip()[:500]},
        origin=origin,
    )
    return reversal


def ledger_charge_of(*, tenant: Tenant | int, provider_request_id: str) -> LedgerEntry:
    """The confirmed charge of a provider response (one per response: the ledger's unique index)."""
    return LedgerEntry.objects.for_tenant(tenant).get(
        kind=LedgerEntry.Kind.CHARGE, provider_request_id=provider_request_id
    )


def ledger_release_contradicted(
    *, tenant: Tenant | int, call_id: str, charge: LedgerEntry, actor: Actor, detail: Mapping[str, object]
) -> None:
    """A call whose provisional charge was released (the usage export said unbilled) was answered after all: the
    answer is proof the provider billed it, and `charge` (made from it) is its spend. The release stays in the
    ledger as it was decided; this audits the contradiction, so an operator sees that the export was wrong (and
    may hold other calls the same export released). Call it in the transaction of the charge."""
    tenant = tenant_of(tenant)
    release = _provisional(tenant, call_id, LedgerEntry.Kind.PROVISIONAL_RELEASE)
    audit(
        tenant=tenant,
        actor=actor,
        action="provider_call.release_contradicted",
        target=("ledger_entry", charge.pk),
        payload={
            **detail,
            "call_id": call_id,
            "provider_request_id": charge.provider_request_id,
            "charged_usd": charge.amount_usd,
            "released_usd": -release.amount_usd if release is not None else None,
            "released_because": release.note if release is not None else "",
            "released_at": release.occurred_at if release is not None else None,
        },
    )
