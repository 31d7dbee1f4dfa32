"""The cost dashboard's estimator panel: a workload's monthly cost under routing options side by side.

An htmx partial over `generation.estimates.workloads.workload_estimate`, the service behind
`POST /api/v1/costs/estimate`; it stores and spends nothing. The routings to compare are a choice among the
planner's own vocabulary (auto, the tiers, the token buckets, the named sizes), never free text.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django.contrib.admin import AdminSite
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse, HttpResponseNotAllowed
from django.template.response import TemplateResponse

from generation.estimates.workloads import MAX_ROUTING_OPTIONS, workload_estimate
from generation.planning import TOKEN_BUCKETS, Tier
from generation.sizing import NAMED_SIZES
from tenants.admin.base import require_scope
from tenants.errors import ServiceError
from tenants.models import Scope
from tenants.numbers import is_digits

DEFAULT_ROUTINGS = ("auto", "smimage", "xlimage")

# (value sent to the service, label): every routing the planner accepts by name.
ROUTING_CHOICES: tuple[tuple[str, tuple[tuple[str, str], ...]], ...] = (
    ("Planner", (("auto", "Auto: the cheapest size that covers each placement"),)),
    ("Size tiers", tuple((str(t), f"Tier {t}") for t in Tier)),
    ("Token buckets", tuple((str(b), f"Bucket {b}") for b in TOKEN_BUCKETS)),
    ("Exact sizes", tuple((f"{w}x{h}", f"{w}\u00d7{h}") for w, h in NAMED_SIZES)),
)

# The request's field names in the form's words.
FIELD_LABELS = {
    "images_per_month": "Base images / month",
    "locales": "Languages",
    "quality": "Quality",
    "edit_share": "Edit share",
    "routing": "Routings to compare",
    "placements": "Placements",
}


def _int(raw: str, default: int) -> Any:
    raw = (raw or "").strip().replace(",", "").replace("_", "")
    return int(raw) if is_digits(raw.removeprefix("-")) else (raw or default)


def estimate_body(data: Any) -> dict[str, Any]:
    """The form's fields as the API's request body (the service validates them)."""
    # Each checked routing is one value; a value holding a comma-separated list is accepted as well.
    routings = [r.strip() for raw in data.getlist("routing") for r in raw.split(",") if r.strip()]
    return {
        "images_per_month": _int(data.get("images_per_month", ""), 1000),
        "placements": data.getlist("placements") or None,
        "quality": data.get("quality") or "high",
        "locales": _int(data.get("locales", ""), 1),
        "edit_share": data.get("edit_share") or 0,
        # Past the limit (or none checked) on purpose: the service's refusal is the message the user sees.
        "routing": routings[: MAX_ROUTING_OPTIONS + 1],
    }


def _mark_cheapest(options: list[dict[str, Any]]) -> None:
    """Badges that do not mislead: an option that upscales a placement is never simply "cheapest"."""
    if not options:
        return
    cheapest = min(options, key=lambda o: Decimal(o["total_usd_exact"]))
    full_size = [o for o in options if not o.get("upscaled_placements")]
    cheapest_full = min(full_size, key=lambda o: Decimal(o["total_usd_exact"])) if full_size else None
    base = Decimal(cheapest["total_usd_exact"])
    for option in options:
        option["upscales"] = bool(option.get("upscaled_placements"))
        option["is_cheapest"] = option is cheapest and len(options) > 1
        option["is_cheapest_full_size"] = option is cheapest_full and cheapest_full is not cheapest
        option["vs_cheapest"] = None
        if option is not cheapest and base:
            option["vs_cheapest"] = round(100 * Decimal(option["total_usd_exact"]) / base - 100)


def estimator_view(site: AdminSite, request: HttpRequest) -> HttpResponse:
    context = require_scope(request, Scope.COSTS_READ)
    if request.method != "POST":
        return HttpResponseNotAllowed(["POST"])
    if context.tenant is None:
        raise PermissionDenied("choose a tenant first")
    try:
        estimate = workload_estimate(tenant=context.tenant, body=estimate_body(request.POST))
    except ServiceError as exc:
        label = FIELD_LABELS.get(exc.field or "", (exc.field or "Request").replace("_", " ").capitalize())
        # htmx 2 leaves the target alone on a 4xx: the page would keep showing the last estimate as if the new
        # input were fine. The panel itself is the answer to htmx; other clients get the 400.
        return TemplateResponse(
            request,
            "admin/governance/estimate_panel.html",
            {"error": exc.message, "error_field": label, "error_name": exc.field},
            status=200 if request.headers.get("HX-Request") == "true" else 400,
        )
    _mark_cheapest(estimate["options"])
    return TemplateResponse(request, "admin/governance/estimate_panel.html", {"estimate": estimate})
