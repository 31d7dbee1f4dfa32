"""The cost dashboard: a month's spend against the budget, per day and by collection, user and API key.

Figures come from the spend roll-ups (`governance.selectors.reports.spend_report` / `spend_total`) and the budget
counters (`budget_status`): the same numbers as `GET /api/v1/costs/*`. The estimator panel lives in
`generation.admin.estimator` (it needs the size planner).
"""

from __future__ import annotations

import csv
import datetime as dt
import re
from collections.abc import Callable
from decimal import Decimal
from typing import Any

from django.contrib.admin import AdminSite
from django.contrib.auth import get_user_model
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from django.utils import timezone

from governance.periods import local_day, month_bounds, month_of, next_month, period_label
from governance.selectors.reports import provisional_spend, spend_report, spend_total
from governance.services.budgets import budget_status, budgets_for_tenant
from tenants.admin.base import page_context, require_scope
from tenants.models import ApiKey, Scope, Tenant
from tenants.selectors import placements_for_tenant

TOP = 5
EXPORT_GROUPS = ("day", "collection", "user", "api_key", "model")
_MONTH = re.compile(r"^(\d{4})-(\d{2})$")


def _period(tenant: Tenant, raw: str) -> dt.date:
    current = month_of(timezone.now(), tenant.time_zone)
    match = _MONTH.match(raw or "")
    if not match or not 1 <= int(match[2]) <= 12:
        return current
    chosen = dt.date(int(match[1]), int(match[2]), 1)
    return min(chosen, current)


def _month_days(tenant: Tenant, period: dt.date) -> tuple[dt.date, dt.date]:
    """First and last day to report: the whole month, or up to today for the current month."""
    last = next_month(period) - dt.timedelta(days=1)
    today = local_day(timezone.now(), tenant.time_zone)
    return period, min(last, today) if period <= today else last


def _daily_series(tenant: Tenant, period: dt.date) -> list[dict[str, Any]]:
    start, end = _month_days(tenant, period)
    by_day = {
        row["day"]: row["amount_usd"] for row in spend_report(tenant=tenant, group_by="day", start=start, end=end)
    }
    series, cumulative, day = [], Decimal(0), start
    while day <= end:
        amount = by_day.get(day.isoformat(), Decimal(0))
        cumulative += amount
        series.append({"day": day.isoformat(), "amount": amount, "cumulative": cumulative})
        day += dt.timedelta(days=1)
    return series


# The names of a tenant's collections by id: the asset library's reads, handed in by the UI shell that mounts
# these pages (governance never imports the library).
CollectionNames = Callable[..., dict[int, str]]


def _names(tenant: Tenant, group_by: str, keys: list[Any], collection_names: CollectionNames) -> dict[Any, str]:
    ids = [k for k in keys if k is not None]
    if group_by == "collection":
        return collection_names(tenant=tenant, ids=ids)
    if group_by == "api_key":
        return {k.pk: f"{k.name} ({k.prefix}…)" for k in ApiKey.objects.for_tenant(tenant).filter(pk__in=ids)}
    if group_by == "user":
        users = get_user_model().objects.filter(pk__in=ids, memberships__tenant=tenant)
        return {u.pk: u.get_username() for u in users}
    return {}


def _top(
    tenant: Tenant, group_by: str, start: dt.date, end: dt.date, total: Decimal, *, collection_names: CollectionNames
) -> list[dict[str, Any]]:
    rows = spend_report(tenant=tenant, group_by=group_by, start=start, end=end)
    rows = sorted(rows, key=lambda row: row["amount_usd"], reverse=True)[:TOP]
    names = _names(tenant, group_by, [row[group_by] for row in rows], collection_names)
    none_label = {"collection": "No collection", "user": "No person (API key)", "api_key": "Staff UI / no key"}
    return [
        {
            "label": names.get(row[group_by])
            or (none_label[group_by] if row[group_by] is None else f"#{row[group_by]}"),
            "amount": row["amount_usd"],
            "images": row["images"],
            "share": round(100 * row["amount_usd"] / total) if total else 0,
        }
        for row in rows
    ]


def _budget(tenant: Tenant, period: dt.date) -> dict[str, Any] | None:
    budget = budgets_for_tenant(tenant=tenant).filter(api_key__isnull=True, active=True).first()
    if budget is None:
        return None
    start, _ = month_bounds(period, tenant.time_zone)
    status = budget_status(budget=budget, at=start + dt.timedelta(hours=12))
    used = status.charged_usd + status.held_usd
    percent = round(100 * used / status.limit_usd) if status.limit_usd else 0
    return {"status": status, "used": used, "percent": percent, "hard_stop": budget.hard_stop}


def _months(tenant: Tenant) -> list[str]:
    current = month_of(timezone.now(), tenant.time_zone)
    months, period = [], current
    for _ in range(12):
        months.append(period_label(period))
        period = (period - dt.timedelta(days=1)).replace(day=1)
    return months


def cost_dashboard_view(site: AdminSite, request: HttpRequest, *, collection_names: CollectionNames) -> HttpResponse:
    context = require_scope(request, Scope.COSTS_READ)
    tenant = context.tenant
    if tenant is None:
        raise PermissionDenied("choose a tenant to see its costs")
    period = _period(tenant, request.GET.get("month", ""))
    start, end = _month_days(tenant, period)
    if request.GET.get("export") in EXPORT_GROUPS:
        return _csv(tenant, request.GET["export"], period, start, end, collection_names=collection_names)
    total = spend_total(tenant=tenant, start=start, end=end)
    provisional = provisional_spend(tenant=tenant, start=start, end=end)
    series = _daily_series(tenant, period)
    budget = _budget(tenant, period)
    page = page_context(
        site,
        request,
        title="Costs",
        period=period_label(period),
        months=_months(tenant),
        start=start,
        end=end,
        total=total,
        provisional=provisional,
        budget=budget,
        chart={
            "labels": [row["day"][5:] for row in series],
            "daily": [float(row["amount"]) for row in series],
            "cumulative": [float(row["cumulative"]) for row in series],
            "budget": float(budget["status"].limit_usd) if budget else None,
        },
        days_with_spend=sum(1 for row in series if row["amount"]),
        top={
            "Top collections": _top(tenant, "collection", start, end, total, collection_names=collection_names),
            "Top people": _top(tenant, "user", start, end, total, collection_names=collection_names),
            "Top API keys": _top(tenant, "api_key", start, end, total, collection_names=collection_names),
        },
        placements=list(placements_for_tenant(tenant=tenant)),
        export_groups=EXPORT_GROUPS,
    )
    return TemplateResponse(request, "admin/governance/cost_dashboard.html", page)


def _csv(
    tenant: Tenant, group_by: str, period: dt.date, start: dt.date, end: dt.date, *, collection_names: CollectionNames
) -> HttpResponse:
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    name = f"costs-{tenant.slug}-{period_label(period)}-by-{group_by}.csv"
    response["Content-Disposition"] = f'attachment; filename="{name}"'
    rows = spend_report(tenant=tenant, group_by=group_by, start=start, end=end)
    names = _names(tenant, group_by, [row[group_by] for row in rows], collection_names)
    writer = csv.writer(response)
    header = [group_by] + (["name"] if names or group_by in ("collection", "user", "api_key") else [])
    writer.writerow([*header, "amount_usd", "entries", "images", "input_tokens", "output_tokens"])
    for row in rows:
        key = row[group_by]
        label = [names.get(key, "")] if len(header) == 2 else []
        writer.writerow(
            [
                key if key is not None else "",
                *label,
                row["amount_usd"],
                row["entries"],
                row["images"],
                row["input_tokens"],
                row["output_tokens"],
            ]
        )
    return response
