"""The price book and charges: exact Decimal costs from reported usage, once per provider response."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from fractions import Fraction

import pytest
from django.core.exceptions import ValidationError
from django.db import DatabaseError, IntegrityError, connection, transaction
from hypothesis import given, settings
from hypothesis import strategies as st

from generation.sizing import output_tokens
from governance.models import LedgerEntry, Price, TokenKind
from governance.prices import PriceSheet, UnitPrice, charge_breakdown, ledger_charge_cost, price_set
from governance.services.ledger import ledger_charge_response, ledger_for_job
from tenants.errors import Conflict
from tests.factories import make_tenant
from tests.support.concurrency import run_concurrently

pytestmark = pytest.mark.django_db
MAY = dt.datetime(2026, 5, 4, 10, 0, tzinfo=dt.UTC)
SEEDED = {
    "text_input": "5",
    "cached_text_input": "1.25",
    "image_input": "8",
    "cached_image_input": "2",
    "image_output": "30",
}


def charge(tenant, request_id: str, usage: dict, *, job_id: int | None = 1, at: dt.datetime = MAY, **extra):
    return ledger_charge_response(
        tenant=tenant, job_id=job_id, provider_request_id=request_id, usage=usage, occurred_at=at, **extra
    )


def test_the_price_book_is_seeded_with_gpt_image_2_standard_global():
    sheet = ledger_charge_cost({}, MAY)
    assert {line.kind: line.unit.usd_per_million for line in sheet.lines} == {k: Decimal(v) for k, v in SEEDED.items()}


def test_1024_square_high_costs_exactly_what_the_hand_computation_says(tenant_a):
    tokens = output_tokens(1024, 1024, "high")
    assert tokens == 7024
    entry = charge(tenant_a, "req-1", {"output_tokens": tokens}, size="1024x1024", quality="high")
    assert entry.amount_usd == Decimal("0.21072")  # 7024 x $30 / 1M
    stored = LedgerEntry.objects.for_tenant(tenant_a).get(pk=entry.pk)
    assert isinstance(stored.amount_usd, Decimal) and stored.amount_usd == Decimal("0.21072")
    line = stored.breakdown["image_output"]
    assert (line["tokens"], line["usd_per_million"], line["amount_usd"]) == (7024, "30.0000", "0.2107200000")
    assert line["price_id"] == Price.objects.get(token_kind="image_output").pk


def test_cached_tokens_are_part_of_the_input_and_billed_at_the_cached_rate():
    usage = {
        "text_input_tokens": 1000,
        "cached_text_input_tokens": 400,
        "image_input_tokens": 765,
        "cached_image_input_tokens": 765,
        "output_tokens": 5488,
    }
    cost = ledger_charge_cost(usage, MAY).by_kind()
    assert {kind: line.tokens for kind, line in cost.items()} == {
        "text_input": 600,
        "cached_text_input": 400,
        "image_input": 0,
        "cached_image_input": 765,
        "image_output": 5488,
    }
    # 600*5 + 400*1.25 + 765*2 + 5488*30 = 3000 + 500 + 1530 + 164640 = 169670 micro-dollars
    assert sum(line.amount_usd for line in cost.values()) == Decimal("0.169670")


USAGE_FIELDS = (
    "text_input_tokens",
    "cached_text_input_tokens",
    "image_input_tokens",
    "cached_image_input_tokens",
    "output_tokens",
)
usages = st.fixed_dictionaries(dict.fromkeys(USAGE_FIELDS, st.integers(min_value=0, max_value=5_000_000)))
price_sheets = st.fixed_dictionaries(
    dict.fromkeys(TokenKind.values, st.decimals(min_value=0, max_value=1000, places=4, allow_nan=False))
)


@settings(max_examples=200, deadline=None)
@given(usage=usages, unit=price_sheets)
def test_a_charge_is_exactly_the_rational_sum_of_tokens_times_prices(usage, unit):
    sheet = PriceSheet("m", "t", {kind: UnitPrice(None, price) for kind, price in unit.items()})
    cost = charge_breakdown(usage, sheet)
    text, image = usage["text_input_tokens"], usage["image_input_tokens"]
    cached_text = min(usage["cached_text_input_tokens"], text)
    cached_image = min(usage["cached_image_input_tokens"], image)
    expected = (
        Fraction(unit["text_input"]) * (text - cached_text)
        + Fraction(unit["cached_text_input"]) * cached_text
        + Fraction(unit["image_input"]) * (image - cached_image)
        + Fraction(unit["cached_image_input"]) * cached_image
        + Fraction(unit["image_output"]) * usage["output_tokens"]
    ) / 1_000_000
    assert Fraction(cost.total_usd) == expected
    assert sum(line.tokens for line in cost.lines) == text + image + usage["output_tokens"]


def test_a_provider_response_is_charged_once_however_often_it_is_reported(tenant_a):
    usage = {"text_input_tokens": 120, "output_tokens": 7024}
    first = charge(tenant_a, "req-once", usage)
    again = charge(tenant_a, "req-once", usage)
    assert again.pk == first.pk
    assert LedgerEntry.objects.for_tenant(tenant_a).filter(kind="charge").count() == 1
    assert ledger_for_job(tenant=tenant_a, job_id=1).charges == 1


def test_the_database_itself_refuses_a_second_charge_for_a_response(tenant_a):
    entry = charge(tenant_a, "req-unique", {"output_tokens": 10})
    with pytest.raises(IntegrityError), transaction.atomic():
        LedgerEntry.objects.for_tenant(tenant_a).create(
            tenant=tenant_a,
            kind="charge",
            amount_usd=1,
            provider_request_id="req-unique",
            occurred_at=MAY,
            day=entry.day,
            period=entry.period,
        )


def test_a_response_id_already_charged_to_another_tenant_is_a_conflict(tenant_a, tenant_b):
    charge(tenant_a, "req-shared", {"output_tokens": 10})
    with pytest.raises(Conflict):
        charge(tenant_b, "req-shared", {"output_tokens": 10})
    assert not LedgerEntry.objects.for_tenant(tenant_b).filter(kind="charge").exists()


def test_ledger_entries_are_append_only(tenant_a):
    entry = charge(tenant_a, "req-locked", {"output_tokens": 10})
    for statement in (
        "UPDATE governance_ledgerentry SET amount_usd = 0 WHERE id = %s",
        "DELETE FROM governance_ledgerentry WHERE id = %s",
    ):
        with pytest.raises(DatabaseError, match="append-only"), transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(statement, [entry.pk])
    assert LedgerEntry.objects.for_tenant(tenant_a).get(pk=entry.pk).amount_usd == entry.amount_usd


def test_a_price_change_applies_from_its_date_and_never_rewrites_past_entries(tenant_a):
    before = charge(tenant_a, "req-before", {"output_tokens": 1_000_000}, at=MAY)
    change_at = MAY + dt.timedelta(days=10)
    new_price = price_set(token_kind="image_output", usd_per_million=Decimal("32.50"), effective_from=change_at)
    after = charge(tenant_a, "req-after", {"output_tokens": 1_000_000}, at=change_at + dt.timedelta(seconds=1))
    edge = charge(tenant_a, "req-edge", {"output_tokens": 1_000_000}, at=change_at - dt.timedelta(microseconds=1))

    assert LedgerEntry.objects.for_tenant(tenant_a).get(pk=before.pk).amount_usd == Decimal(30)
    assert after.amount_usd == Decimal("32.5") and after.breakdown["image_output"]["price_id"] == new_price.pk
    assert edge.amount_usd == Decimal(30)
    old = Price.objects.get(token_kind="image_output", effective_to=change_at)
    assert old.usd_per_million == Decimal(30)  # closed at the change, its amount untouched


def test_overlapping_prices_are_refused(tenant_a):
    with pytest.raises(ValidationError):
        price_set(token_kind="image_output", usd_per_million=Decimal(1), effective_from=MAY - dt.timedelta(days=365))
    with pytest.raises(ValidationError):
        price_set(token_kind="image_output", usd_per_million=Decimal("1.00001"), effective_from=MAY)
    with pytest.raises(IntegrityError), transaction.atomic():
        # Even written directly, two open-ended prices of one kind cannot both apply.
        Price.objects.create(token_kind="image_output", usd_per_million=1, effective_from=MAY)


@pytest.mark.django_db(transaction=True)
def test_concurrent_reports_of_one_response_make_one_charge():
    tenant = make_tenant("racing-tenant")
    results = run_concurrently(12, lambda _: charge(tenant, "req-race", {"output_tokens": 7024}, job_id=99).pk)
    assert len(set(results)) == 1 and all(isinstance(r, int) for r in results), results
    assert LedgerEntry.objects.for_tenant(tenant).filter(kind="charge").count() == 1
