"""The cost dashboard's estimator panel: a workload's monthly cost under routing options side by side.

An htmx partial over `generation.estimates.workloads.workload_estimate`, the service behind
`POST /api/v1/costs/estimate`; it stores and spends nothing.
"""

from __future__ import annotations

from typing import Any

from django.contrib.admin import AdminSite
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse, HttpResponseNotAllowed
from django.template.response import TemplateResponse

from generation.estimates.workloads import MAX_ROUTING_OPTIONS, workload_estimate
from tenants.admin.base import require_scope
from tenants.errors import ServiceError
from tenants.models import Scope
from tenants.numbers import is_digits

DEFAULT_ROUTING_TEXT = "auto, smimage, xlimage"


def _int(raw: str, default: int) -> Any:
    raw = (raw or "").strip().replace(",", "").replace("_", "")
    return int(raw) if is_digits(raw.removeprefix("-")) else (raw or default)


def estimate_body(data: Any) -> dict[str, Any]:
    """The form's fields as the API's request body (the service validates them)."""
    routings = [r.strip() for r in (data.get("routing") or DEFAULT_ROUTING_TEXT).split(",") if r.strip()]
    return {
        "images_per_month": _int(data.get("images_per_month", ""), 1000),
        "placements": data.getlist("placements") or None,
        "quality": data.get("quality") or "high",
        "locales": _int(data.get("locales", ""), 1),
        "edit_share": data.get("edit_share") or 0,
        "routing": routings[: MAX_ROUTING_OPTIONS + 1],
    }


def estimator_view(site: AdminSite, request: HttpRequest) -> HttpResponse:
    context = require_scope(request, Scope.COSTS_READ)
    if request.method != "POST":
        return HttpResponseNotAllowed(["POST"])
    if context.tenant is None:
        raise PermissionDenied("choose a tenant first")
    try:
        estimate = workload_estimate(tenant=context.tenant, body=estimate_body(request.POST))
    except ServiceError as exc:
        return TemplateResponse(
            request, "admin/governance/estimate_panel.html", {"error": f"{exc.field}: {exc.message}"}, status=400
        )
    options = estimate["options"]
    cheapest = next((o for o in options if o["routing"] == estimate["cheapest"]), None)
    for option in options:
        option["is_cheapest"] = option is cheapest and len(options) > 1
        if cheapest is not None and option is not cheapest and float(cheapest["total_usd_exact"]):
            option["vs_cheapest"] = round(
                100 * float(option["total_usd_exact"]) / float(cheapest["total_usd_exact"]) - 100
            )
    return TemplateResponse(request, "admin/governance/estimate_panel.html", {"estimate": estimate})
