"""Small formatting helpers of the staff UI's templates."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from django import template
from django.utils import timezone

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


@register.filter
def usd(value: Any) -> str:
    """Money as the ledger keeps it, shortened for reading: $0.0123 below a dollar, $12.34 above."""
    try:
        amount = Decimal(str(value))
    except (InvalidOperation, TypeError, ValueError):
        return str(value)
    if abs(amount) >= 1:
        return f"${amount:,.2f}"
    return f"${amount:.4f}"


@register.filter
def planned_placements(version: Any) -> list[str]:
    """The placements a generated version was planned for (its size plan's group), in plan order.

    Every version also gets every placement's rendition up front; the plan says what it was made for.
    """
    plan = getattr(version, "size_plan", None) or {}
    return [p["slug"] for p in plan.get("placements", []) if isinstance(p, dict) and p.get("slug")]
