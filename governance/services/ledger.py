"""Writes to the cost ledger: charges from provider usage, adjustments, and the daily roll-ups.

A charge is made exactly once per provider response: the ledger is unique on the provider
request id among charges, and `ledger_charge_response` returns the existing charge when it is
called again (a task that runs twice, a worker killed after the provider answered). Call it in
the transaction that records the provider response, and the charge exists iff the response does.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal

from django.db import IntegrityError, connection, transaction
from django.db.models import Q, Sum
from django.utils import timezone

from governance.models import DEFAULT_MODEL, DEFAULT_TIER, BudgetHold, DailySpend, LedgerEntry
from governance.periods import local_day
from governance.prices import AMOUNT_QUANTUM, ledger_charge_cost
from governance.services.counters import ZERO, counters_alert, counters_apply, deltas_for
from tenants.audit import Actor, RequestOrigin, audit
from tenants.errors import Conflict, ServiceError
from tenants.models import Tenant

logger = logging.getLogger(__name__)
SPEND_KINDS = (LedgerEntry.Kind.CHARGE, LedgerEntry.Kind.ADJUSTMENT)
PROVISIONAL_KINDS = (LedgerEntry.Kind.PROVISIONAL, LedgerEntry.Kind.PROVISIONAL_RELEASE)


def tenant_of(tenant: Tenant | int) -> Tenant:
    return tenant if isinstance(tenant, Tenant) else Tenant.objects.get(pk=tenant)


def _existing_charge(tenant: Tenant, provider_request_id: str) -> LedgerEntry | None:
    entry = LedgerEntry.unscoped.filter(kind=LedgerEntry.Kind.CHARGE, provider_request_id=provider_request_id).first()
    if entry is not None and entry.tenant_id != tenant.pk:
        # Provider request ids are global: the same id under another tenant is a bug, never a replay.
        raise Conflict(
            f"provider response {provider_request_id} is already charged to another tenant",
            field="provider_request_id",
        )
    return entry


def ledger_charge_response(
    *,
    tenant: Tenant | int,
    job_id: int | None,
    provider_request_id: str,
    usage: Mapping[str, int],
    occurred_at: dt.datetime,
    model: str = DEFAULT_MODEL,
    deployment_tier: str = DEFAULT_TIER,
    api_key_id: int | None = None,
    user_id: int | None = None,
    collection_id: int | None = None,
    size: str = "",
    quality: str = "",
    operation: str = "",
    images: int = 1,
    usage_estimated: bool = False,
    response_is_new: bool = False,
) -> LedgerEntry:
    """Charge one provider response from its usage (`ProviderResponse.usage_dict()` keys), once.

    The charge first consumes the job's open hold; counters, roll-ups and budget alerts move in
    the same transaction. Calling again with the same provider request id returns the first charge.
    `response_is_new`: the caller inserted the provider response in this very transaction, so no
    charge for it can exist yet; the look-up and the savepoints are skipped (a duplicate would
    still fail on the unique index, and with it the caller's transaction).
    """
    if not provider_request_id:
        raise ServiceError("a charge needs the provider request id", field="provider_request_id")
    tenant = tenant_of(tenant)
    with transaction.atomic(savepoint=not response_is_new):
        existing = None if response_is_new else _existing_charge(tenant, provider_request_id)
        if existing is not None:
            return existing
        cost = ledger_charge_cost(usage, occurred_at, model=model, deployment_tier=deployment_tier)
        day = local_day(occurred_at, tenant.time_zone)
        entry = LedgerEntry(
            tenant=tenant,
            kind=LedgerEntry.Kind.CHARGE,
            amount_usd=cost.total_usd,
            job_id=job_id,
            api_key_id=api_key_id,
            user_id=user_id,
            collection_id=collection_id,
            provider_request_id=provider_request_id,
            model=model,
            deployment_tier=deployment_tier,
            size=size,
            quality=quality,
            operation=operation,
            images=images,
            text_input_tokens=int(usage.get("text_input_tokens") or 0),
            cached_text_input_tokens=int(usage.get("cached_text_input_tokens") or 0),
            image_input_tokens=int(usage.get("image_input_tokens") or 0),
            cached_image_input_tokens=int(usage.get("cached_image_input_tokens") or 0),
            output_tokens=int(usage.get("output_tokens") or 0),
            usage_estimated=usage_estimated,
            breakdown=cost.to_dict(),
            occurred_at=occurred_at,
            day=day,
            period=day.replace(day=1),
        )
        try:
            with transaction.atomic(savepoint=not response_is_new):
                entry.save(force_insert=True)
        except IntegrityError:
            if response_is_new:
                raise
            # A concurrent call charged the same response first (the unique index made us wait for it).
            existing = _existing_charge(tenant, provider_request_id)
            if existing is None:
                raise
            return existing
        spend_applied(tenant, entry)
        return entry


@transaction.atomic
def ledger_adjust(
    *,
    tenant: Tenant,
    amount_usd: Decimal,
    note: str,
    actor: Actor,
    occurred_at: dt.datetime | None = None,
    job_id: int | None = None,
    api_key_id: int | None = None,
    user_id: int | None = None,
    collection_id: int | None = None,
    origin: RequestOrigin | None = None,
) -> LedgerEntry:
    """A debit (positive) or credit (negative) by an administrator, with the reason; audited."""
    amount = Decimal(str(amount_usd))
    if amount == 0 or amount != amount.quantize(AMOUNT_QUANTUM):
        raise ServiceError("must be a non-zero amount with at most 10 decimal places", field="amount_usd")
    if not note.strip():
        raise ServiceError("say why", field="note")
    occurred_at = occurred_at or timezone.now()
    day = local_day(occurred_at, tenant.time_zone)
    entry = LedgerEntry.objects.for_tenant(tenant).create(
        tenant=tenant,
        kind=LedgerEntry.Kind.ADJUSTMENT,
        amount_usd=amount,
        job_id=job_id,
        api_key_id=api_key_id,
        user_id=user_id,
        collection_id=collection_id,
        note=note.strip()[:500],
        occurred_at=occurred_at,
        day=day,
        period=day.replace(day=1),
    )
    spend_applied(tenant, entry)
    audit(
        tenant=tenant,
        actor=actor,
        action="ledger.adjusted",
        target=("ledger_entry", entry.pk),
        payload={"amount_usd": amount, "note": entry.note, "job_id": job_id, "occurred_at": occurred_at},
        origin=origin,
    )
    return entry


def spend_applied(tenant: Tenant, entry: LedgerEntry) -> None:
    """Move the job's hold, the month's counters and the day's roll-up for a new charge, adjustment or
    provisional entry (a reversal, being negative, consumes no hold)."""
    movements = [(entry.period, entry.api_key_id, entry.amount_usd, ZERO)]
    if entry.job_id is not None and entry.amount_usd > 0:
        with connection.cursor() as cursor:
            cursor.execute(_HOLD_CONSUME, [tenant.pk, entry.job_id, entry.amount_usd, entry.amount_usd])
            consumed = cursor.fetchone()
        if consumed is not None:
            period, api_key_id, amount = consumed
            movements.append((period, api_key_id, ZERO, -amount))
    crossed = counters_apply(tenant_id=tenant.pk, deltas=deltas_for(movements))
    if entry.kind in SPEND_KINDS:  # the roll-ups are confirmed spend; provisional charges are read apart
        _daily_spend_add(entry)
    if crossed:
        counters_alert(tenant=tenant, period=entry.period, api_key_id=entry.api_key_id)


# The charge consumes what it can of the job's open hold: lock, read and update in one statement.
_HOLD_CONSUME = """
WITH old AS (
    SELECT id, remaining_usd FROM governance_budgethold
    WHERE tenant_id = %s AND job_id = %s AND status = 'open' AND remaining_usd > 0
    FOR NO KEY UPDATE
)
UPDATE governance_budgethold AS hold
SET remaining_usd = old.remaining_usd - LEAST(old.remaining_usd, %s)
FROM old WHERE hold.id = old.id
RETURNING hold.period, hold.api_key_id, LEAST(old.remaining_usd, %s)
"""

_DAILY_UPSERT = """
INSERT INTO governance_dailyspend
    (tenant_id, day, dimension, key, amount_usd, entries, images, input_tokens, output_tokens)
VALUES {rows}
ON CONFLICT ON CONSTRAINT daily_spend_unique_cell DO UPDATE SET
    amount_usd = governance_dailyspend.amount_usd + EXCLUDED.amount_usd,
    entries = governance_dailyspend.entries + 1,
    images = governance_dailyspend.images + EXCLUDED.images,
    input_tokens = governance_dailyspend.input_tokens + EXCLUDED.input_tokens,
    output_tokens = governance_dailyspend.output_tokens + EXCLUDED.output_tokens
"""


def _key(value: object) -> str:
    return "" if value is None else str(value)


def _daily_spend_add(entry: LedgerEntry) -> None:
    """One statement for the five roll-up rows of the entry's day (always in the same order: no deadlocks)."""
    cells = [
        (DailySpend.Dimension.TOTAL, ""),
        (DailySpend.Dimension.API_KEY, _key(entry.api_key_id)),
        (DailySpend.Dimension.USER, _key(entry.user_id)),
        (DailySpend.Dimension.COLLECTION, _key(entry.collection_id)),
        (DailySpend.Dimension.MODEL, entry.model),
    ]
    measures = [
        entry.amount_usd,
        1,
        entry.images,
        entry.text_input_tokens + entry.image_input_tokens,
        entry.output_tokens,
    ]
    params: list[object] = []
    for dimension, key in cells:
        params += [entry.tenant_id, entry.day, str(dimension), key, *measures]
    rows = ", ".join(["(%s, %s, %s, %s, %s, %s, %s, %s, %s)"] * len(cells))
    with connection.cursor() as cursor:
        cursor.execute(_DAILY_UPSERT.format(rows=rows), params)


_DAILY_REBUILD = """
INSERT INTO governance_dailyspend
    (tenant_id, day, dimension, key, amount_usd, entries, images, input_tokens, output_tokens)
SELECT e.tenant_id, e.day, d.dimension, d.key, SUM(e.amount_usd), COUNT(*), SUM(e.images),
       SUM(e.text_input_tokens + e.image_input_tokens), SUM(e.output_tokens)
FROM governance_ledgerentry AS e
CROSS JOIN LATERAL (VALUES
    ('total', ''),
    ('api_key', COALESCE(e.api_key_id::text, '')),
    ('user', COALESCE(e.user_id::text, '')),
    ('collection', COALESCE(e.collection_id::text, '')),
    ('model', e.model)
) AS d(dimension, key)
WHERE e.tenant_id = %s AND e.kind IN ('charge', 'adjustment')
GROUP BY e.tenant_id, e.day, d.dimension, d.key
"""


@transaction.atomic
def daily_spend_rebuild(*, tenant: Tenant) -> int:
    """Recompute a tenant's roll-ups from the ledger (repair, and bulk loads that bypass the services)."""
    # Concurrent charges upsert the rows being replaced: hold their writes (all tenants, briefly) until commit.
    with connection.cursor() as cursor:
        cursor.execute("LOCK TABLE governance_dailyspend IN SHARE ROW EXCLUSIVE MODE")
    DailySpend.objects.for_tenant(tenant).delete()
    with connection.cursor() as cursor:
        cursor.execute(_DAILY_REBUILD, [tenant.pk])
        return cursor.rowcount


# --- reads -----------------------------------------------------------------------------


@dataclass(frozen=True)
class JobLedger:
    """A job's money: held at submit, charged per response, released at the end."""

    job_id: int
    held_usd: Decimal
    charged_usd: Decimal
    released_usd: Decimal
    charges: int
    open_hold_usd: Decimal | None  # None when the job has no open hold
    # Calls of unknown outcome: charged at their planned cost (consuming the hold like charges), and what of that
    # is still outstanding (less the reversals of those reconciled).
    provisional_usd: Decimal = ZERO
    provisional_open_usd: Decimal = ZERO

    @property
    def consistent(self) -> bool:
        """A closed hold was consumed by charges and provisional charges and released, nothing more or less."""
        if self.open_hold_usd is not None or not self.held_usd:
            return True
        return self.released_usd == max(ZERO, self.held_usd - self.charged_usd - self.provisional_usd)


def ledger_for_job(*, tenant: Tenant | int, job_id: int) -> JobLedger:
    entries = LedgerEntry.objects.for_tenant(tenant).filter(job_id=job_id)
    sums = {
        kind: entries.filter(kind=kind).aggregate(total=Sum("amount_usd"))["total"] or ZERO
        for kind in LedgerEntry.Kind.values
    }
    hold = BudgetHold.objects.for_tenant(tenant).filter(job_id=job_id, status=BudgetHold.Status.OPEN).first()
    return JobLedger(
        job_id=job_id,
        held_usd=sums["hold"],
        charged_usd=sums["charge"] + sums["adjustment"],
        released_usd=sums["release"],
        charges=entries.filter(kind=LedgerEntry.Kind.CHARGE).count(),
        open_hold_usd=hold.remaining_usd if hold else None,
        provisional_usd=sums["provisional"],
        provisional_open_usd=sums["provisional"] + sums["provisional_release"],
    )


def ledger_entries_for_tenant(
    *,
    tenant: Tenant,
    kind: str | None = None,
    job_id: int | None = None,
    since: dt.datetime | None = None,
    until: dt.datetime | None = None,
):
    entries = LedgerEntry.objects.for_tenant(tenant)
    filters = Q()
    if kind:
        filters &= Q(kind=kind)
    if job_id is not None:
        filters &= Q(job_id=job_id)
    if since:
        filters &= Q(occurred_at__gte=since)
    if until:
        filters &= Q(occurred_at__lt=until)
    return entries.filter(filters)
