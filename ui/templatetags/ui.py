"""Small formatting helpers of the staff UI's templates."""

from __future__ import annotations

from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from django import template
from django.utils import timezone

from generation.admin.estimator import DEFAULT_ROUTINGS, ROUTING_CHOICES
from generation.admin.jobs import moment_in_zone
from generation.estimates.workloads import MAX_ROUTING_OPTIONS
from generation.lifecycle import GenerationState, JobState

register = template.Library()


@register.filter
def thousands(value: Any) -> str:
    """12345 -> "12,345" (without turning on localisation for the whole admin)."""
    try:
        return f"{int(value):,}"
    except (TypeError, ValueError):
        return str(value)


@register.filter
def bytesize(value: Any) -> str:
    try:
        size = float(value)
    except (TypeError, ValueError):
        return str(value)
    for unit in ("B", "KB", "MB", "GB"):
        if size < 1024 or unit == "GB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return str(value)


@register.filter
def timesince_short(value: datetime | None) -> str:
    if value is None:
        return "—"
    seconds = max(0, int((timezone.now() - value).total_seconds()))
    for limit, unit, size in ((60, "s", 1), (3600, "min", 60), (86400, "h", 3600), (86400 * 30, "d", 86400)):
        if seconds < limit:
            return f"{seconds // size} {unit} ago"
    return timezone.localtime(value).strftime("%Y-%m-%d")


@register.filter
def seconds(value: float | None) -> str:
    if value is None:
        return "—"
    return f"{value:.1f} s" if value < 60 else f"{int(value // 60)} min {int(value % 60)} s"


@register.simple_tag
def job_progress(job: Any) -> dict[str, int]:
    """Stored provider calls of a job, from its prefetched generations (no query per row)."""
    units = list(job.generations.all())
    stored = sum(1 for unit in units if unit.state == GenerationState.STORED)
    percent = 100 if job.state == JobState.SUCCEEDED else round(100 * stored / max(1, len(units)))
    return {"stored": stored, "total": len(units), "percent": percent}


@register.filter
def get_item(mapping: dict, key: Any) -> Any:
    return mapping.get(key) if isinstance(mapping, dict) else None


@register.filter
def filter_choices(spec: Any, changelist: Any) -> list[dict[str, Any]]:
    """A list filter's choices for a <select> (the stock sidebar renders them as links)."""
    return list(spec.choices(changelist))


@register.filter
def words(value: Any) -> str:
    """ "crop_then_scale" -> "crop then scale"."""
    return str(value or "").replace("_", " ")


def _amount(value: Any) -> Decimal | None:
    if value is None or value == "":
        return None
    try:
        amount = Decimal(str(value))
    except (InvalidOperation, TypeError, ValueError):
        return None
    return amount if amount.is_finite() else None


@register.filter
def money(value: Any, kind: str = "total") -> str:
    """Money, one way across the staff UI: US dollars as the ledger keeps them, thousands separators,
    two decimals for totals ("$1,234.56") and up to four where a unit price needs them ("$0.0421").

    Never rounds a real amount to "$0.00": a total under a cent keeps the digits that show it.
    """
    amount = _amount(value)
    if amount is None:
        return "—" if value in (None, "") else str(value)
    sign, amount = ("-" if amount < 0 else ""), abs(amount)
    cents = amount.quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)
    if kind == "unit" or (amount and not cents):
        fine = amount.quantize(Decimal("0.0001"), rounding=ROUND_HALF_UP)
        text = f"{fine:,.4f}".rstrip("0")
        whole, _, fraction = text.partition(".")
        return f"{sign}${whole}.{fraction.ljust(2, '0')}"
    return f"{sign}${cents:,.2f}"


@register.filter
def unit_price(value: Any) -> str:
    """A per-image or per-unit price: `money` with the digits a few cents need."""
    return money(value, "unit")


@register.filter
def usd(value: Any) -> str:
    """The older filter, kept for templates not yet moved to `money` / `unit_price`: the same format, with a
    unit price's digits below a dollar (where those templates show per-version costs)."""
    amount = _amount(value)
    return money(value, "unit" if amount is not None and abs(amount) < 1 else "total")


def _zone(tenant_or_zone: Any) -> ZoneInfo:
    name = getattr(tenant_or_zone, "time_zone", tenant_or_zone) or "UTC"
    try:
        return ZoneInfo(str(name))
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")


@register.filter
def tenant_time(value: datetime | None, tenant_or_zone: Any = None) -> str:
    """A moment in the tenant's time zone, labelled with the zone: "2026-12-07 14:05 Europe/Berlin"."""
    if value is None:
        return "—"
    return moment_in_zone(value, _zone(tenant_or_zone).key)


@register.filter
def tenant_clock(value: datetime | None, tenant_or_zone: Any = None) -> str:
    """To the second, without the zone: for tables whose heading names the zone (`zone_name`)."""
    if value is None:
        return "—"
    return f"{timezone.localtime(value, _zone(tenant_or_zone)):%Y-%m-%d %H:%M:%S}"


@register.filter
def zone_name(tenant_or_zone: Any) -> str:
    return _zone(tenant_or_zone).key


@register.filter
def planned_placements(version: Any) -> list[str]:
    """The placements a generated version was planned for (its size plan's group), in plan order.

    Every version also gets every placement's rendition up front; the plan says what it was made for.
    """
    plan = getattr(version, "size_plan", None) or {}
    return [p["slug"] for p in plan.get("placements", []) if isinstance(p, dict) and p.get("slug")]


@register.simple_tag
def estimator_routings() -> dict[str, Any]:
    """The routings the cost estimator offers, grouped, and those checked at first.

    A tag of the UI shell because the cost page belongs to governance, which may not import the planner's
    vocabulary; the shell may import every app.
    """
    return {"groups": ROUTING_CHOICES, "checked": DEFAULT_ROUTINGS, "max": MAX_ROUTING_OPTIONS}
