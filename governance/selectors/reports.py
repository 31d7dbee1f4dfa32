"""Spend reports: per day, month, API key, user, collection and model, from the daily roll-ups.

Spend is charges plus adjustments. Days and months are the tenant's calendar (its time zone),
as recorded with each entry. `spend_report_from_ledger` computes the same figures from the
ledger itself: the reference the roll-ups are tested (and benchmarked) against.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from django.db.models import Count, F, Q, Sum
from django.db.models.functions import TruncMonth

from governance.models import DailySpend, LedgerEntry
from tenants.models import Tenant

GROUPINGS = ("day", "month", "api_key", "user", "collection", "model")
_LEDGER_COLUMNS = {"api_key": "api_key_id", "user": "user_id", "collection": "collection_id", "model": "model"}
_INTEGER_KEYS = {"api_key", "user", "collection"}


def _check(group_by: str) -> None:
    if group_by not in GROUPINGS:
        raise ValueError(f"group_by must be one of {', '.join(GROUPINGS)}")


def _key_text(value: Any, group_by: str) -> Any:
    if value is None:
        return None
    if group_by == "month":
        return f"{value:%Y-%m}"
    if group_by == "day":
        return value.isoformat()
    return value


def spend_report(*, tenant: Tenant, group_by: str, start: dt.date, end: dt.date) -> list[dict[str, Any]]:
    """Spend per `group_by` over tenant-local days [start, end], from the roll-ups."""
    _check(group_by)
    rows = DailySpend.objects.for_tenant(tenant).filter(day__gte=start, day__lte=end)
    if group_by in ("day", "month"):
        rows = rows.filter(dimension=DailySpend.Dimension.TOTAL)
        grouped = rows.annotate(group=F("day") if group_by == "day" else TruncMonth("day"))
    else:
        grouped = rows.filter(dimension=group_by).annotate(group=F("key"))
    totals = grouped.values("group").annotate(
        amount_usd=Sum("amount_usd"),
        entries=Sum("entries"),
        images=Sum("images"),
        input_tokens=Sum("input_tokens"),
        output_tokens=Sum("output_tokens"),
    )
    result = [_row(item, group_by) for item in totals]
    if group_by in _INTEGER_KEYS:
        for row in result:
            row[group_by] = int(row[group_by]) if row[group_by] else None
    return sorted(result, key=lambda row: _order(row[group_by]))


def spend_report_from_ledger(*, tenant: Tenant, group_by: str, start: dt.date, end: dt.date) -> list[dict[str, Any]]:
    """The same report by scanning the ledger (no roll-ups): the baseline and the cross-check."""
    _check(group_by)
    rows = LedgerEntry.objects.for_tenant(tenant).filter(
        kind__in=["charge", "adjustment"], day__gte=start, day__lte=end
    )
    if group_by == "day":
        grouped = rows.annotate(group=F("day"))
    elif group_by == "month":
        grouped = rows.annotate(group=TruncMonth("day"))
    else:
        grouped = rows.annotate(group=F(_LEDGER_COLUMNS[group_by]))
    totals = grouped.values("group").annotate(
        amount_usd=Sum("amount_usd"),
        entries=Count("id"),
        images=Sum("images"),
        input_tokens=Sum(F("text_input_tokens") + F("image_input_tokens")),
        output_tokens=Sum("output_tokens"),
    )
    return sorted((_row(item, group_by) for item in totals), key=lambda row: _order(row[group_by]))


def _order(value: Any) -> tuple:
    # None (spend without a key, user or collection) last; otherwise natural order.
    return (value is None, value if value is not None else 0)


def _row(item: dict[str, Any], group_by: str) -> dict[str, Any]:
    return {
        group_by: _key_text(item["group"], group_by),
        "amount_usd": item["amount_usd"] or Decimal(0),
        "entries": item["entries"] or 0,
        "images": item["images"] or 0,
        "input_tokens": item["input_tokens"] or 0,
        "output_tokens": item["output_tokens"] or 0,
    }


def spend_total(*, tenant: Tenant, start: dt.date, end: dt.date) -> Decimal:
    rows = DailySpend.objects.for_tenant(tenant).filter(
        dimension=DailySpend.Dimension.TOTAL, day__gte=start, day__lte=end
    )
    return rows.aggregate(total=Sum("amount_usd"))["total"] or Decimal(0)


def provisional_spend(*, tenant: Tenant, start: dt.date, end: dt.date) -> dict[str, Any]:
    """Calls of unknown outcome still held at their planned cost (provisional charges less their reversals) over
    the days they were sent, apart from confirmed spend; the budget counts both."""
    entries = LedgerEntry.objects.for_tenant(tenant).filter(
        kind__in=[LedgerEntry.Kind.PROVISIONAL, LedgerEntry.Kind.PROVISIONAL_RELEASE], day__gte=start, day__lte=end
    )
    totals = entries.aggregate(
        amount=Sum("amount_usd"),
        charged=Count("id", filter=Q(kind=LedgerEntry.Kind.PROVISIONAL)),
        resolved=Count("id", filter=Q(kind=LedgerEntry.Kind.PROVISIONAL_RELEASE)),
    )
    return {"amount_usd": totals["amount"] or Decimal(0), "open_calls": totals["charged"] - totals["resolved"]}
