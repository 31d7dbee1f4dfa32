"""Spend reports from the daily roll-ups agree with the ledger they summarise, for every grouping."""

from __future__ import annotations

import datetime as dt
import random
from decimal import Decimal

import pytest

from governance.models import AuditEvent, DailySpend
from governance.selectors.reports import GROUPINGS, spend_report, spend_report_from_ledger
from governance.services.ledger import daily_spend_rebuild, ledger_adjust, ledger_charge_response
from tenants.audit import Actor
from tests.factories import make_tenant

pytestmark = pytest.mark.django_db
START = dt.datetime(2026, 5, 28, tzinfo=dt.UTC)


@pytest.fixture
def busy_tenant():
    tenant = make_tenant("reporting-tenant", time_zone="Asia/Kolkata")
    rng = random.Random(7)
    for index in range(80):
        ledger_charge_response(
            tenant=tenant,
            job_id=rng.randint(1, 30),
            provider_request_id=f"rep-{index}",
            usage={
                "text_input_tokens": rng.randint(50, 900),
                "cached_text_input_tokens": rng.randint(0, 50),
                "image_input_tokens": rng.choice([0, 765, 1445]),
                "output_tokens": rng.choice([272, 1756, 5488, 7024]),
            },
            occurred_at=START + dt.timedelta(minutes=rng.randint(0, 60 * 24 * 9)),
            api_key_id=rng.choice([None, 11, 12]),
            user_id=rng.choice([None, 3]),
            collection_id=rng.choice([None, 21, 22, 23]),
            model=rng.choice(["gpt-image-2"]),
            images=rng.choice([1, 2]),
        )
    ledger_adjust(
        tenant=tenant,
        amount_usd=Decimal("-1.25"),
        note="goodwill credit",
        actor=Actor.system("test"),
        occurred_at=START,
    )
    return tenant


@pytest.mark.parametrize("group_by", GROUPINGS)
def test_roll_up_reports_equal_the_ledger_scan(busy_tenant, group_by):
    window = {"start": dt.date(2026, 5, 1), "end": dt.date(2026, 6, 30)}
    fast = spend_report(tenant=busy_tenant, group_by=group_by, **window)
    slow = spend_report_from_ledger(tenant=busy_tenant, group_by=group_by, **window)
    assert fast == slow and len(fast) > 1


def test_months_follow_the_tenant_zone_and_a_rebuild_reproduces_the_roll_ups(busy_tenant):
    window = {"start": dt.date(2026, 5, 1), "end": dt.date(2026, 6, 30)}
    months = spend_report(tenant=busy_tenant, group_by="month", **window)
    assert [row["month"] for row in months] == ["2026-05", "2026-06"]
    cells = ("day", "dimension", "key", "amount_usd", "entries", "output_tokens")
    before = sorted(DailySpend.objects.for_tenant(busy_tenant).values_list(*cells), key=str)
    daily_spend_rebuild(tenant=busy_tenant)
    after = sorted(DailySpend.objects.for_tenant(busy_tenant).values_list(*cells), key=str)
    assert after == before


def test_an_adjustment_is_audited_and_counted_as_spend(busy_tenant):
    event = AuditEvent.objects.for_tenant(busy_tenant).get(action="ledger.adjusted")
    assert event.payload["amount_usd"] == "-1.25" and event.payload["note"] == "goodwill credit"
    may = spend_report(tenant=busy_tenant, group_by="month", start=dt.date(2026, 5, 1), end=dt.date(2026, 5, 31))
    ledger_may = spend_report_from_ledger(
        tenant=busy_tenant, group_by="month", start=dt.date(2026, 5, 1), end=dt.date(2026, 5, 31)
    )
    assert may == ledger_may
