"""Spend counters: per tenant (and per API key) per tenant-local month, what is charged and held.

Every change is an `UPDATE ... SET x = x + delta` of existing rows, applied in one fixed order
(month, tenant-wide row before key rows) so two transactions never wait on each other in a
cycle. Lock order across governance: a job's hold row, then counters, then the daily roll-up,
then the audit chain head.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from decimal import Decimal

from django.db import connection, transaction
from django.db.models import F, Q, QuerySet
from django.utils import timezone

from governance.models import Budget, SpendCounter
from governance.periods import period_label
from tenants.audit import Actor, audit
from tenants.models import Tenant

logger = logging.getLogger(__name__)
ZERO = Decimal(0)
Scope = tuple[dt.date, int | None]  # (month, api key id or None for the tenant-wide counter)


def scope_filter(api_key_id: int | None) -> Q:
    return Q(api_key_id__isnull=True) if api_key_id is None else Q(api_key_id=api_key_id)


def counter_scopes(api_key_id: int | None) -> list[int | None]:
    """The counters a movement touches: the tenant's, and the key's own when there is a key."""
    return [None] if api_key_id is None else [None, api_key_id]


def _budget_for(tenant_id: int, api_key_id: int | None) -> Budget | None:
    return Budget.objects.for_tenant(tenant_id).filter(scope_filter_budget(api_key_id), active=True).first()


def scope_filter_budget(api_key_id: int | None) -> Q:
    return Q(api_key__isnull=True) if api_key_id is None else Q(api_key_id=api_key_id)


def limits_from(budget: Budget | None) -> dict:
    if budget is None:
        return {"limit_usd": None, "alert_usd": None, "hard_stop": False}
    alert = budget.monthly_limit_usd * budget.alert_threshold_percent / Decimal(100)
    return {"limit_usd": budget.monthly_limit_usd, "alert_usd": alert, "hard_stop": budget.hard_stop}


def counter_ensure(*, tenant_id: int, period: dt.date, api_key_id: int | None) -> None:
    """Make the month's counter if missing, with the budget's limits. Idempotent and race-free:
    `budget_set` re-applies limits after changing a budget, so a counter made concurrently with
    the old limits is corrected before that change commits."""
    if SpendCounter.objects.for_tenant(tenant_id).filter(scope_filter(api_key_id), period=period).exists():
        return
    counter = SpendCounter(
        tenant_id=tenant_id, api_key_id=api_key_id, period=period, **limits_from(_budget_for(tenant_id, api_key_id))
    )
    SpendCounter.objects.for_tenant(tenant_id).bulk_create([counter], ignore_conflicts=True)


def counters(*, tenant_id: int, period: dt.date, api_key_id: int | None) -> QuerySet[SpendCounter]:
    return SpendCounter.objects.for_tenant(tenant_id).filter(scope_filter(api_key_id), period=period)


@dataclass
class Delta:
    charged: Decimal = ZERO
    held: Decimal = ZERO


def scope_order(scope: Scope) -> tuple:
    period, api_key_id = scope
    return (period, api_key_id is not None, api_key_id or 0)


_APPLY = """
UPDATE governance_spendcounter
SET charged_usd = charged_usd + %s, held_usd = held_usd + %s
WHERE tenant_id = %s AND period = %s AND {key}
RETURNING (alerted_at IS NULL AND alert_usd IS NOT NULL AND charged_usd >= alert_usd)
       OR (exceeded_at IS NULL AND limit_usd IS NOT NULL AND charged_usd >= limit_usd)
"""


def counters_apply(*, tenant_id: int, deltas: dict[Scope, Delta]) -> bool:
    """Move the counters; True when one of them has just crossed a threshold not yet alerted.

    One statement per counter (these rows are every job's meeting point: each statement more is
    time the row stays locked); a month's counter is made on the first miss only.
    """
    crossed = False
    for scope in sorted(deltas, key=scope_order):
        delta = deltas[scope]
        if not delta.charged and not delta.held:
            continue
        period, api_key_id = scope
        key_sql, key_params = ("api_key_id IS NULL", []) if api_key_id is None else ("api_key_id = %s", [api_key_id])
        params = [delta.charged, delta.held, tenant_id, period, *key_params]
        with connection.cursor() as cursor:
            cursor.execute(_APPLY.format(key=key_sql), params)
            row = cursor.fetchone()
            if row is None:
                counter_ensure(tenant_id=tenant_id, period=period, api_key_id=api_key_id)
                cursor.execute(_APPLY.format(key=key_sql), params)
                row = cursor.fetchone()
        crossed = crossed or bool(row[0])
    return crossed


def deltas_for(
    movements: Iterable[tuple[dt.date, int | None, Decimal, Decimal]],
) -> dict[Scope, Delta]:
    """(month, api key, charged, held) movements -> per-counter deltas (tenant-wide plus the key's)."""
    deltas: dict[Scope, Delta] = defaultdict(Delta)
    for period, api_key_id, charged, held in movements:
        for scope_key in counter_scopes(api_key_id):
            deltas[(period, scope_key)].charged += charged
            deltas[(period, scope_key)].held += held
    return deltas


# --- alerts ----------------------------------------------------------------------------


@dataclass(frozen=True)
class BudgetAlert:
    """A budget crossed its alert threshold (`threshold_reached`) or its limit (`exceeded`) this month."""

    kind: str
    tenant_id: int
    api_key_id: int | None
    period: dt.date
    limit_usd: Decimal
    threshold_usd: Decimal
    charged_usd: Decimal


BudgetAlertHook = Callable[[BudgetAlert], None]
_alert_hooks: list[BudgetAlertHook] = []


def register_budget_alert_hook(hook: BudgetAlertHook) -> None:
    """Called after commit for every alert (the webhook point). Idempotent per hook."""
    if hook not in _alert_hooks:
        _alert_hooks.append(hook)


def unregister_budget_alert_hook(hook: BudgetAlertHook) -> None:
    if hook in _alert_hooks:
        _alert_hooks.remove(hook)


def _fire(alert: BudgetAlert) -> None:
    for hook in list(_alert_hooks):
        # robust: a failing webhook hook is logged, never undoes or breaks the committed spend.
        transaction.on_commit(lambda hook=hook: hook(alert), robust=True)


def counters_alert(*, tenant: Tenant, period: dt.date, api_key_id: int | None) -> list[BudgetAlert]:
    """Fire each threshold once per month: a conditional UPDATE claims it, the winner writes the event."""
    fired = []
    now = timezone.now()
    checks = (
        ("threshold_reached", "alerted_at", "alert_usd"),
        ("exceeded", "exceeded_at", "limit_usd"),
    )
    for scope_key in counter_scopes(api_key_id):
        rows = counters(tenant_id=tenant.pk, period=period, api_key_id=scope_key)
        for kind, stamp, bound in checks:
            claimed = rows.filter(
                **{f"{stamp}__isnull": True, f"{bound}__isnull": False}, charged_usd__gte=F(bound)
            ).update(**{stamp: now})
            if not claimed:
                continue
            counter = rows.get()
            alert = BudgetAlert(
                kind=kind,
                tenant_id=tenant.pk,
                api_key_id=scope_key,
                period=period,
                limit_usd=counter.limit_usd,
                threshold_usd=counter.alert_usd,
                charged_usd=counter.charged_usd,
            )
            audit(
                tenant=tenant,
                actor=Actor.system("ledger"),
                action=f"budget.{kind}",
                target=("budget", _budget_id(tenant.pk, scope_key)),
                payload={
                    "period": period_label(period),
                    "api_key_id": scope_key,
                    "limit_usd": counter.limit_usd,
                    "threshold_usd": counter.alert_usd,
                    "charged_usd": counter.charged_usd,
                    "held_usd": counter.held_usd,
                },
            )
            _fire(alert)
            fired.append(alert)
    return fired


def _budget_id(tenant_id: int, api_key_id: int | None) -> int | None:
    budget = _budget_for(tenant_id, api_key_id)
    return budget.pk if budget else None
