"""Budgets: atomic holds, 402 refusals, settlement, tenant-local months, alerts, the hold reconciler."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from django.utils import timezone

from governance.models import AuditEvent, BudgetHold, LedgerEntry, SpendCounter
from governance.selectors.reports import spend_report
from governance.services.budgets import (
    BudgetExceeded,
    budget_hold,
    budget_holds_reconcile,
    budget_release,
    budget_set,
    budget_settle,
    budget_status,
    register_budget_alert_hook,
    spend_counters_check,
    unregister_budget_alert_hook,
)
from governance.services.ledger import ledger_charge_response, ledger_for_job
from tenants.audit import Actor
from tests.factories import make_api_key, make_tenant
from tests.support.concurrency import run_concurrently

pytestmark = pytest.mark.django_db
ADMIN = Actor.system("test-admin")


def charge(tenant, job_id, request_id, output_tokens, *, at=None, api_key_id=None):
    return ledger_charge_response(
        tenant=tenant,
        job_id=job_id,
        provider_request_id=request_id,
        usage={"output_tokens": output_tokens},
        occurred_at=at or timezone.now(),
        api_key_id=api_key_id,
    )


def counter(tenant, period=None, api_key_id=None) -> SpendCounter:
    rows = SpendCounter.objects.for_tenant(tenant).filter(api_key_id=api_key_id)
    return rows.get(period=period) if period else rows.get()


def test_a_hold_is_settled_to_the_actual_charges_and_the_rest_released(tenant_a):
    budget_set(tenant=tenant_a, actor=ADMIN, monthly_limit_usd=Decimal("10.00"))
    hold = budget_hold(tenant=tenant_a, job_id=501, amount=Decimal("1.00"))
    assert counter(tenant_a).held_usd == Decimal(1)
    charge(tenant_a, 501, "r-501-a", 7024)  # $0.21072
    assert (counter(tenant_a).held_usd, counter(tenant_a).charged_usd) == (Decimal("0.78928"), Decimal("0.21072"))

    settled = budget_settle(job_id=501)
    assert settled.status == "settled" and settled.remaining_usd == 0
    assert (counter(tenant_a).held_usd, counter(tenant_a).charged_usd) == (0, Decimal("0.21072"))
    job = ledger_for_job(tenant=tenant_a, job_id=501)
    assert (job.held_usd, job.charged_usd, job.released_usd, job.consistent) == (
        Decimal(1),
        Decimal("0.21072"),
        Decimal("0.78928"),
        True,
    )
    assert budget_settle(job_id=501).pk == hold.pk  # again: nothing moves
    assert LedgerEntry.objects.for_tenant(tenant_a).filter(job_id=501, kind="release").count() == 1
    assert spend_counters_check(tenant=tenant_a) == []


def test_a_failed_job_releases_what_its_charges_did_not_consume(tenant_a):
    budget_hold(tenant=tenant_a, job_id=502, amount=Decimal("0.50"))
    budget_hold(tenant=tenant_a, job_id=502, amount=Decimal("0.50"))  # a replayed submit holds once
    charge(tenant_a, 502, "r-502", 7024)
    budget_release(job_id=502)
    assert BudgetHold.objects.for_tenant(tenant_a).get(job_id=502).status == "released"
    assert counter(tenant_a).held_usd == 0 and counter(tenant_a).charged_usd == Decimal("0.21072")
    assert ledger_for_job(tenant=tenant_a, job_id=502).released_usd == Decimal("0.28928")
    assert spend_counters_check(tenant=tenant_a) == []


def test_charges_beyond_the_hold_are_spend_and_release_nothing(tenant_a):
    budget_hold(tenant=tenant_a, job_id=503, amount=Decimal("0.10"))
    charge(tenant_a, 503, "r-503-a", 7024)
    charge(tenant_a, 503, "r-503-b", 7024)  # a second provider call (retry after a lost response)
    budget_settle(job_id=503)
    job = ledger_for_job(tenant=tenant_a, job_id=503)
    assert (job.charged_usd, job.released_usd, job.consistent) == (Decimal("0.42144"), 0, True)
    assert counter(tenant_a).held_usd == 0


def test_a_job_over_budget_is_refused_with_402_naming_what_is_left_and_nothing_changes(tenant_a):
    budget_set(tenant=tenant_a, actor=ADMIN, monthly_limit_usd=Decimal("1.00"))
    budget_hold(tenant=tenant_a, job_id=510, amount=Decimal("0.60"))
    before = (counter(tenant_a).held_usd, LedgerEntry.objects.for_tenant(tenant_a).count())
    with pytest.raises(BudgetExceeded) as refused:
        budget_hold(tenant=tenant_a, job_id=511, amount=Decimal("0.42144"))
    error = refused.value
    assert error.status_code == 402
    assert "$0.40 of $1.00 left" in error.message and "estimate is $0.42144" in error.message
    assert error.as_dict()["remaining_usd"] == "0.4000000000"
    assert (counter(tenant_a).held_usd, LedgerEntry.objects.for_tenant(tenant_a).count()) == before
    assert not BudgetHold.objects.for_tenant(tenant_a).filter(job_id=511).exists()
    # Exactly what is left still fits.
    budget_hold(tenant=tenant_a, job_id=512, amount=Decimal("0.40"))


def test_an_api_key_budget_limits_that_key_within_the_tenant_budget(tenant_a):
    shop, batch = make_api_key(tenant_a, name="shop").api_key, make_api_key(tenant_a, name="batch").api_key
    budget_set(tenant=tenant_a, actor=ADMIN, monthly_limit_usd=Decimal("100.00"))
    budget_set(tenant=tenant_a, actor=ADMIN, api_key=shop, monthly_limit_usd=Decimal("1.00"))
    budget_hold(tenant=tenant_a, job_id=520, amount=Decimal("0.90"), api_key_id=shop.pk)
    with pytest.raises(BudgetExceeded, match=r"this API key's monthly budget has \$0.10 of \$1.00 left"):
        budget_hold(tenant=tenant_a, job_id=521, amount=Decimal("0.20"), api_key_id=shop.pk)
    budget_hold(tenant=tenant_a, job_id=522, amount=Decimal("50.00"), api_key_id=batch.pk)
    # The refused hold left the tenant-wide counter as it was (its UPDATE rolled back with the key's refusal).
    assert counter(tenant_a).held_usd == Decimal("50.90")
    assert counter(tenant_a, api_key_id=shop.pk).held_usd == Decimal("0.90")


def test_lowering_the_limit_applies_to_this_month_at_once_and_is_audited(tenant_a):
    budget = budget_set(tenant=tenant_a, actor=ADMIN, monthly_limit_usd=Decimal("5.00"))
    budget_hold(tenant=tenant_a, job_id=530, amount=Decimal("1.00"))
    budget_set(tenant=tenant_a, actor=ADMIN, monthly_limit_usd=Decimal("1.50"))
    with pytest.raises(BudgetExceeded):
        budget_hold(tenant=tenant_a, job_id=531, amount=Decimal("0.60"))
    budget_set(tenant=tenant_a, actor=ADMIN, hard_stop=False)
    budget_hold(tenant=tenant_a, job_id=531, amount=Decimal("0.60"))  # soft budget: alerts only
    events = AuditEvent.objects.for_tenant(tenant_a).filter(target_type="budget", target_id=str(budget.pk))
    assert [e.action for e in events.order_by("seq")] == ["budget.created", "budget.updated", "budget.updated"]
    assert events.order_by("seq")[1].payload == {
        "before": {"monthly_limit_usd": "5.00"},
        "after": {"monthly_limit_usd": "1.50"},
    }


@pytest.mark.django_db(transaction=True)
def test_a_hundred_concurrent_holds_against_a_budget_for_exactly_ten():
    tenant = make_tenant("crowded-tenant")
    estimate = Decimal("0.42")
    budget_set(tenant=tenant, actor=ADMIN, monthly_limit_usd=10 * estimate)  # exactly ten jobs' worth

    def submit(index: int) -> str:
        try:
            budget_hold(tenant=tenant, job_id=10_000 + index, amount=estimate)
        except BudgetExceeded:
            return "refused"
        return "held"

    results = run_concurrently(100, submit)
    assert results.count("held") == 10 and results.count("refused") == 90, results
    spend = counter(tenant)
    assert spend.held_usd == 10 * estimate == spend.limit_usd
    assert BudgetHold.objects.for_tenant(tenant).count() == 10
    assert LedgerEntry.objects.for_tenant(tenant).filter(kind="hold").count() == 10


@pytest.mark.parametrize("zone", ["Europe/Berlin", "Asia/Tokyo", "America/Los_Angeles"])
def test_spend_in_the_last_second_of_a_month_counts_in_that_month_in_the_tenant_zone(zone):
    tenant = make_tenant(f"zone-{zone.split('/')[1].lower().replace('_', '-')}", time_zone=zone)
    local = ZoneInfo(zone)
    last_second = dt.datetime(2026, 10, 31, 23, 59, 59, tzinfo=local)
    first_second = dt.datetime(2026, 11, 1, 0, 0, 0, tzinfo=local)
    # In UTC both moments may fall on either side of midnight: only the tenant's zone decides.
    october, november = dt.date(2026, 10, 1), dt.date(2026, 11, 1)
    budget_hold(tenant=tenant, job_id=540, amount=Decimal("1.00"), at=last_second)
    charge(tenant, 540, "r-540", 7024, at=last_second)
    charge(tenant, None, "r-541", 7024, at=first_second)

    assert counter(tenant, october).charged_usd == Decimal("0.21072")
    assert counter(tenant, october).held_usd == Decimal("1.00") - Decimal("0.21072")
    assert counter(tenant, november).charged_usd == Decimal("0.21072")
    months = spend_report(tenant=tenant, group_by="month", start=october, end=dt.date(2026, 11, 30))
    assert [(row["month"], row["amount_usd"]) for row in months] == [
        ("2026-10", Decimal("0.21072")),
        ("2026-11", Decimal("0.21072")),
    ]
    days = spend_report(tenant=tenant, group_by="day", start=october, end=dt.date(2026, 11, 30))
    assert [row["day"] for row in days] == ["2026-10-31", "2026-11-01"]
    assert budget_status(
        budget=budget_set(tenant=tenant, actor=ADMIN, monthly_limit_usd=Decimal(5)), at=last_second
    ).charged_usd == Decimal("0.21072")


def test_alerts_fire_once_per_month_with_an_audit_event_and_a_hook_after_commit(
    tenant_a, django_capture_on_commit_callbacks
):
    budget_set(tenant=tenant_a, actor=ADMIN, monthly_limit_usd=Decimal("1.00"), alert_threshold_percent=40)
    received = []
    register_budget_alert_hook(received.append)
    try:
        with django_capture_on_commit_callbacks(execute=True):
            charge(tenant_a, None, "r-550", 7024)  # 0.21: below 40%
            assert received == []
            charge(tenant_a, None, "r-551", 7024)  # 0.42: threshold reached
            charge(tenant_a, None, "r-552", 7024)  # 0.63: already alerted
        assert [a.kind for a in received] == ["threshold_reached"]
        assert received[0].charged_usd == Decimal("0.42144") and received[0].threshold_usd == Decimal("0.4")
        with django_capture_on_commit_callbacks(execute=True):
            for index in range(2):
                charge(tenant_a, None, f"r-56{index}", 7024)  # 1.05: over the limit
        assert [a.kind for a in received] == ["threshold_reached", "exceeded"]
    finally:
        unregister_budget_alert_hook(received.append)
    actions = (
        AuditEvent.objects.for_tenant(tenant_a).filter(action__startswith="budget.").values_list("action", flat=True)
    )
    assert list(actions.order_by("seq")) == ["budget.created", "budget.threshold_reached", "budget.exceeded"]


def test_the_reconciler_closes_holds_of_jobs_that_ended_without_settling(tenant_a):
    for job_id in (570, 571, 572, 573):
        budget_hold(tenant=tenant_a, job_id=job_id, amount=Decimal("1.00"))
    charge(tenant_a, 570, "r-570", 7024)
    BudgetHold.objects.for_tenant(tenant_a).update(created_at=timezone.now() - dt.timedelta(hours=1))
    outcomes = {570: "settle", 571: "release", 572: "active"}  # 573: the job no longer exists

    report = budget_holds_reconcile(older_than=dt.timedelta(minutes=5), resolver=lambda ids: outcomes)
    assert (report.settled, sorted(report.released), report.active) == ([570], [571, 573], 1)
    statuses = dict(BudgetHold.objects.for_tenant(tenant_a).values_list("job_id", "status"))
    assert statuses == {570: "settled", 571: "released", 572: "open", 573: "released"}
    assert counter(tenant_a).held_usd == Decimal("1.00")
    assert spend_counters_check(tenant=tenant_a) == []
    again = budget_holds_reconcile(older_than=dt.timedelta(minutes=5), resolver=lambda ids: outcomes)
    assert (again.settled, again.released, again.active) == ([], [], 1)


def test_the_reconciler_leaves_young_holds_alone_and_needs_a_resolver(tenant_a):
    budget_hold(tenant=tenant_a, job_id=580, amount=Decimal("1.00"))
    report = budget_holds_reconcile(older_than=dt.timedelta(minutes=5), resolver=lambda ids: {})
    assert (report.settled, report.released) == ([], [])
    from governance.services import budgets

    saved, budgets._resolver = budgets._resolver, None
    try:
        with pytest.raises(RuntimeError, match="resolver"):
            budget_holds_reconcile()
    finally:
        budgets._resolver = saved
