"""Budgets: holds at submit, settlement at the end, refusals with 402, and the hold reconciler.

Life of a job's money: `budget_hold` reserves its estimated maximum (one conditional UPDATE per
counter: the tenant's, then the API key's); each provider response's charge consumes the hold
(`governance.services.ledger`); `budget_settle` (success) or `budget_release` (failure, cancel) returns
what is left. A job that dies without either is closed by `budget_holds_reconcile`.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import ROUND_CEILING, Decimal
from typing import Any

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import F, Q, QuerySet, Sum
from django.utils import timezone

from governance.models import Budget, BudgetHold, LedgerEntry, SpendCounter
from governance.periods import local_day, month_of, period_label
from governance.prices import AMOUNT_QUANTUM
from governance.services.counters import (
    ZERO,
    BudgetAlert,
    counter_ensure,
    counter_scopes,
    counters,
    counters_apply,
    deltas_for,
    limits_from,
    register_budget_alert_hook,
    scope_filter,
    unregister_budget_alert_hook,
)
from governance.services.ledger import PROVISIONAL_KINDS, SPEND_KINDS, tenant_of
from tenants.audit import Actor, RequestOrigin, audit, changes
from tenants.errors import Conflict, PaymentRequired, ServiceError
from tenants.models import ApiKey, Tenant

logger = logging.getLogger(__name__)

__all__ = [
    "BudgetAlert",
    "BudgetExceeded",
    "budget_hold",
    "budget_holds_reconcile",
    "budget_release",
    "budget_set",
    "budget_settle",
    "register_budget_alert_hook",
    "unregister_budget_alert_hook",
]


def usd(amount: Decimal | None) -> str:
    """$1,234.50 for people; estimates below a cent keep their digits ($0.21072)."""
    if amount is None:
        return "unlimited"
    cents = amount.quantize(Decimal("0.01"))
    if cents == amount:
        return f"${cents:,}"
    return f"${amount.quantize(Decimal('0.000001')).normalize():,f}"


class BudgetExceeded(PaymentRequired):
    """402: the job's estimate does not fit in what is left of a hard-stop budget this month."""

    def __init__(
        self,
        *,
        estimate_usd: Decimal,
        remaining_usd: Decimal,
        limit_usd: Decimal,
        period: dt.date,
        time_zone: str,
        api_key_id: int | None,
    ) -> None:
        scope = "the tenant's monthly budget" if api_key_id is None else "this API key's monthly budget"
        super().__init__(
            f"{scope} has {usd(remaining_usd)} of {usd(limit_usd)} left for {period_label(period)} ({time_zone}); "
            f"this job's estimate is {usd(estimate_usd)}",
            field="budget",
        )
        self.estimate_usd = estimate_usd
        self.remaining_usd = remaining_usd
        self.limit_usd = limit_usd
        self.period = period
        self.api_key_id = api_key_id

    def as_dict(self) -> dict[str, object]:
        return {
            **super().as_dict(),
            "estimate_usd": str(self.estimate_usd),
            "remaining_usd": str(self.remaining_usd),
            "limit_usd": str(self.limit_usd),
            "period": period_label(self.period),
        }


def _refusal(tenant: Tenant, period: dt.date, api_key_id: int | None, amount: Decimal) -> BudgetExceeded:
    counter = counters(tenant_id=tenant.pk, period=period, api_key_id=api_key_id).get()
    remaining = max(ZERO, counter.limit_usd - counter.charged_usd - counter.held_usd)
    return BudgetExceeded(
        estimate_usd=amount,
        remaining_usd=remaining.quantize(AMOUNT_QUANTUM),
        limit_usd=counter.limit_usd,
        period=period,
        time_zone=tenant.time_zone,
        api_key_id=api_key_id,
    )


def budget_hold(
    *,
    tenant: Tenant | int,
    job_id: int,
    amount: Decimal,
    api_key_id: int | None = None,
    at: dt.datetime | None = None,
) -> BudgetHold:
    """Reserve a job's estimated maximum cost, or raise `BudgetExceeded` (402) changing nothing.

    For each counter (the tenant's, then the key's) the check and the reservation are ONE
    conditional UPDATE: `held += amount WHERE charged + held + amount <= limit` (or no hard limit).
    Postgres re-evaluates the condition on the latest row version after waiting for its lock, so
    concurrent holds can never overrun the limit. Idempotent per job.
    """
    tenant = tenant_of(tenant)
    amount = Decimal(str(amount)).quantize(AMOUNT_QUANTUM, rounding=ROUND_CEILING)
    if amount < 0:
        raise ServiceError("a hold cannot be negative", field="amount")
    at = at or timezone.now()
    period = month_of(at, tenant.time_zone)
    with transaction.atomic():
        existing = BudgetHold.objects.for_tenant(tenant).filter(job_id=job_id).first()
        if existing is not None:
            return existing
        try:
            with transaction.atomic():
                hold = BudgetHold.objects.for_tenant(tenant).create(
                    tenant=tenant,
                    job_id=job_id,
                    api_key_id=api_key_id,
                    period=period,
                    amount_usd=amount,
                    remaining_usd=amount,
                )
        except IntegrityError:
            return BudgetHold.objects.for_tenant(tenant).get(job_id=job_id)
        for scope_key in counter_scopes(api_key_id):
            counter_ensure(tenant_id=tenant.pk, period=period, api_key_id=scope_key)
            fits = (
                Q(hard_stop=False)
                | Q(limit_usd__isnull=True)
                | Q(limit_usd__gte=F("charged_usd") + F("held_usd") + amount)
            )
            accepted = (
                counters(tenant_id=tenant.pk, period=period, api_key_id=scope_key)
                .filter(fits)
                .update(held_usd=F("held_usd") + amount)
            )
            if not accepted:
                raise _refusal(tenant, period, scope_key, amount)
        day = local_day(at, tenant.time_zone)
        LedgerEntry.objects.for_tenant(tenant).create(
            tenant=tenant,
            kind=LedgerEntry.Kind.HOLD,
            amount_usd=amount,
            job_id=job_id,
            api_key_id=api_key_id,
            occurred_at=at,
            day=day,
            period=period,
        )
        return hold


# Lock, close and read the hold in one statement; `released_usd` is what it still held.
_HOLD_CLOSE = """
WITH old AS (
    SELECT id, remaining_usd FROM governance_budgethold WHERE job_id = %s AND status = 'open' FOR NO KEY UPDATE
)
UPDATE governance_budgethold AS hold
SET status = %s, remaining_usd = 0, closed_at = %s
FROM old, tenants_tenant AS tenant
WHERE hold.id = old.id AND tenant.id = hold.tenant_id
RETURNING hold.*, old.remaining_usd AS released_usd, tenant.time_zone AS tenant_time_zone
"""


def _hold_close(job_id: int, status: str) -> BudgetHold | None:
    now = timezone.now()
    with transaction.atomic(savepoint=False):  # a failure fails the job's terminal transaction as a whole
        # Job ids are global: the hold names its tenant.
        closed = list(BudgetHold.unscoped.raw(_HOLD_CLOSE, [job_id, status, now]))
        if not closed:
            return BudgetHold.unscoped.filter(job_id=job_id).first()  # none, or closed already
        hold = closed[0]
        released = hold.released_usd
        # The release entry closes the hold in the append-only ledger even when nothing is left (0).
        LedgerEntry.objects.for_tenant(hold.tenant_id).create(
            tenant_id=hold.tenant_id,
            kind=LedgerEntry.Kind.RELEASE,
            amount_usd=released,
            job_id=job_id,
            api_key_id=hold.api_key_id,
            note=status,
            occurred_at=now,
            day=local_day(now, hold.tenant_time_zone),
            period=hold.period,
        )
        # The tenant's counters last: every job meets on those rows, so they stay locked the least.
        counters_apply(tenant_id=hold.tenant_id, deltas=deltas_for([(hold.period, hold.api_key_id, ZERO, -released)]))
        return hold


def budget_settle(*, job_id: int) -> BudgetHold | None:
    """The job finished: its charges already consumed the hold; return the rest. Idempotent."""
    return _hold_close(job_id, BudgetHold.Status.SETTLED)


def budget_release(*, job_id: int) -> BudgetHold | None:
    """The job failed or was cancelled: return what its charges did not consume. Idempotent."""
    return _hold_close(job_id, BudgetHold.Status.RELEASED)


# --- reconciler ------------------------------------------------------------------------

SETTLE, RELEASE, ACTIVE = "settle", "release", "active"
# job ids -> {job id: "settle" | "release" | "active"}; a job missing from the answer no longer exists.
JobOutcomeResolver = Callable[[Sequence[int]], Mapping[int, str]]
_resolver: JobOutcomeResolver | None = None


def install_job_outcome_resolver(resolver: JobOutcomeResolver) -> None:
    """Installed by the app that owns jobs (generation), which governance may not import."""
    global _resolver  # noqa: PLW0603 (one process-wide port, set once at start-up)
    _resolver = resolver


@dataclass
class ReconcileReport:
    settled: list[int] = field(default_factory=list)
    released: list[int] = field(default_factory=list)
    active: int = 0


def budget_holds_reconcile(
    *,
    older_than: dt.timedelta = dt.timedelta(minutes=2),
    resolver: JobOutcomeResolver | None = None,
    batch: int = 1000,
) -> ReconcileReport:
    """Close the open holds of jobs that ended without settling (a worker died between the job's
    last step and its settlement) or that no longer exist. Never leaves a hold behind a finished job."""
    resolver = resolver or _resolver
    if resolver is None:
        raise RuntimeError("no job outcome resolver is installed (generation installs it at start-up)")
    report = ReconcileReport()
    cutoff = timezone.now() - older_than
    last_id = 0
    while True:
        holds = list(
            BudgetHold.unscoped.filter(status=BudgetHold.Status.OPEN, created_at__lt=cutoff, id__gt=last_id)
            .order_by("id")
            .values_list("id", "job_id")[:batch]
        )
        if not holds:
            return report
        last_id = holds[-1][0]
        outcomes = resolver([job_id for _, job_id in holds])
        for _, job_id in holds:
            outcome = outcomes.get(job_id, RELEASE)
            if outcome == SETTLE:
                budget_settle(job_id=job_id)
                report.settled.append(job_id)
            elif outcome == RELEASE:
                budget_release(job_id=job_id)
                report.released.append(job_id)
            else:
                report.active += 1


# --- budgets ---------------------------------------------------------------------------

BUDGET_FIELDS = ("monthly_limit_usd", "alert_threshold_percent", "hard_stop", "active")


def _budget_values(budget: Budget) -> dict[str, Any]:
    return {name: getattr(budget, name) for name in BUDGET_FIELDS} | {"api_key_id": budget.api_key_id}


def _validate(values: dict[str, Any]) -> None:
    limit = values["monthly_limit_usd"]
    if not isinstance(limit, Decimal) or limit < 0 or limit != limit.quantize(Decimal("0.01")):
        raise ValidationError({"monthly_limit_usd": "must be a non-negative amount in dollars and cents"})
    threshold = values["alert_threshold_percent"]
    if not isinstance(threshold, int) or isinstance(threshold, bool) or not 1 <= threshold <= 100:
        raise ValidationError({"alert_threshold_percent": "must be an integer from 1 to 100"})


@transaction.atomic
def budget_set(
    *,
    tenant: Tenant,
    actor: Actor,
    api_key: ApiKey | None = None,
    origin: RequestOrigin | None = None,
    create_only: bool = False,
    **values: Any,
) -> Budget:
    """Create or change the tenant's (or one API key's) monthly budget; the current month's counter
    takes the new limit at once. Audited (`budget.created` / `budget.updated`). `create_only` (the API's
    POST): a scope that has a budget by now is a Conflict, also when a concurrent POST made it."""
    unknown = set(values) - set(BUDGET_FIELDS)
    if unknown:
        raise ValidationError(dict.fromkeys(sorted(unknown), "not a budget field"))
    if api_key is not None and api_key.tenant_id != tenant.pk:
        raise ValidationError({"api_key": "no such API key in this tenant"})
    if "monthly_limit_usd" in values and values["monthly_limit_usd"] is not None:
        values["monthly_limit_usd"] = Decimal(str(values["monthly_limit_usd"]))
    scope = Q(api_key__isnull=True) if api_key is None else Q(api_key=api_key)
    budget = Budget.objects.for_tenant(tenant).select_for_update(no_key=True).filter(scope).first()
    created = budget is None
    if create_only and not created:
        raise Conflict(f"this scope already has budget {budget.pk}: PATCH it", field="api_key")
    if created:
        if "monthly_limit_usd" not in values:
            raise ValidationError({"monthly_limit_usd": "required for a new budget"})
        budget = Budget(tenant=tenant, api_key=api_key)
    before = {} if created else _budget_values(budget)
    for name, value in values.items():
        setattr(budget, name, value)
    _validate(_budget_values(budget))
    try:
        with transaction.atomic():
            # An existing budget is locked above: an UPDATE of the fields given, never a full save().
            budget.save(update_fields=None if created else [*values, "updated_at"])
    except IntegrityError:  # a concurrent first budget of the same scope won
        raise Conflict("this scope already has a budget: PATCH it", field="api_key") from None
    _limits_to_counters(tenant, budget)
    audit(
        tenant=tenant,
        actor=actor,
        action="budget.created" if created else "budget.updated",
        target=("budget", budget.pk),
        payload=changes(before, _budget_values(budget)),
        origin=origin,
    )
    return budget


def _limits_to_counters(tenant: Tenant, budget: Budget) -> None:
    """This month's and any later counters follow the budget; past months keep the limits they had."""
    period = month_of(timezone.now(), tenant.time_zone)
    counter_ensure(tenant_id=tenant.pk, period=period, api_key_id=budget.api_key_id)
    limits = limits_from(budget if budget.active else None)
    SpendCounter.objects.for_tenant(tenant).filter(scope_filter(budget.api_key_id), period__gte=period).update(**limits)


def budget_refusal_record(
    *,
    tenant: Tenant,
    actor: Actor,
    refusal: BudgetExceeded,
    job_request: Mapping[str, Any] | None = None,
    origin: RequestOrigin | None = None,
) -> None:
    """Audit a refused submission (`budget.refused`). Call it after the refused transaction rolled
    back (the refusal changed nothing, so it has no transaction of its own to join)."""
    with transaction.atomic():
        audit(
            tenant=tenant,
            actor=actor,
            action="budget.refused",
            target=("budget", ""),
            payload={
                "period": period_label(refusal.period),
                "api_key_id": refusal.api_key_id,
                "estimate_usd": refusal.estimate_usd,
                "remaining_usd": refusal.remaining_usd,
                "limit_usd": refusal.limit_usd,
                "prompt": (job_request or {}).get("prompt", "")[:200],
            },
            origin=origin,
        )


# --- reads -----------------------------------------------------------------------------


def budgets_for_tenant(*, tenant: Tenant) -> QuerySet[Budget]:
    return Budget.objects.for_tenant(tenant).select_related("api_key").order_by("id")


@dataclass(frozen=True)
class BudgetStatus:
    period: dt.date
    time_zone: str
    limit_usd: Decimal
    charged_usd: Decimal
    held_usd: Decimal
    alert_threshold_usd: Decimal
    alerted_at: dt.datetime | None
    exceeded_at: dt.datetime | None

    @property
    def remaining_usd(self) -> Decimal:
        return max(ZERO, self.limit_usd - self.charged_usd - self.held_usd)

    def to_dict(self) -> dict[str, Any]:
        return {
            "period": period_label(self.period),
            "time_zone": self.time_zone,
            "limit_usd": str(self.limit_usd),
            "charged_usd": str(self.charged_usd),
            "held_usd": str(self.held_usd),
            "remaining_usd": str(self.remaining_usd),
            "alert_threshold_usd": str(self.alert_threshold_usd),
            "alerted_at": self.alerted_at,
            "exceeded_at": self.exceeded_at,
        }


def budget_status(*, budget: Budget, at: dt.datetime | None = None) -> BudgetStatus:
    tenant = budget.tenant
    period = month_of(at or timezone.now(), tenant.time_zone)
    counter = counters(tenant_id=tenant.pk, period=period, api_key_id=budget.api_key_id).first()
    return BudgetStatus(
        period=period,
        time_zone=tenant.time_zone,
        limit_usd=budget.monthly_limit_usd,
        charged_usd=counter.charged_usd if counter else ZERO,
        held_usd=counter.held_usd if counter else ZERO,
        alert_threshold_usd=budget.monthly_limit_usd * budget.alert_threshold_percent / Decimal(100),
        alerted_at=counter.alerted_at if counter else None,
        exceeded_at=counter.exceeded_at if counter else None,
    )


def spend_counters_check(*, tenant: Tenant) -> list[str]:
    """Counters against the ledger they summarise: charged = charges + adjustments + provisional charges (and
    their reversals) of the month;
    held = what open holds of the month still reserve. Empty when everything agrees."""
    problems = []
    entries = LedgerEntry.objects.for_tenant(tenant)
    holds = BudgetHold.objects.for_tenant(tenant).filter(status=BudgetHold.Status.OPEN)
    for counter in SpendCounter.objects.for_tenant(tenant).order_by("period", "api_key_id"):
        scope = Q() if counter.api_key_id is None else Q(api_key_id=counter.api_key_id)
        spent = entries.filter(scope, kind__in=[*SPEND_KINDS, *PROVISIONAL_KINDS], period=counter.period)
        charged = spent.aggregate(total=Sum("amount_usd"))["total"] or ZERO
        held = holds.filter(scope, period=counter.period).aggregate(total=Sum("remaining_usd"))["total"] or ZERO
        label = f"{period_label(counter.period)} {'tenant' if counter.api_key_id is None else counter.api_key_id}"
        if charged != counter.charged_usd:
            problems.append(f"{label}: counter charged {counter.charged_usd}, ledger {charged}")
        if held != counter.held_usd:
            problems.append(f"{label}: counter held {counter.held_usd}, open holds {held}")
    return problems
