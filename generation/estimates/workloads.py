"""Monthly cost estimates of a workload: generation's size planner composed with governance's price book.

This lives in generation because it needs both: the planner (which size each placement group is
generated at, and its output tokens, per routing option) and `governance.estimates` (prices,
ledger calibration). Governance may not import generation, so the composition sits here; the API
view (`generation/api/estimates.py`) and the `estimate_costs` command are thin wrappers around it.
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import Any

from django.core.exceptions import ValidationError

from generation.planning import (
    PlacementTarget,
    PlanningError,
    RoutingError,
    WarningCode,
    parse_routing,
    plan_sizes,
)
from generation.sizing import IllegalSizeError, Quality, image_input_tokens, parse_size
from governance.estimates import DEFAULT_PROMPT_TOKENS, PlannedImage, RoutingOption, Workload, estimate_compare
from tenants.errors import ServiceError
from tenants.models import Tenant
from tenants.selectors import placements_by_slugs

MAX_IMAGES_PER_MONTH = 100_000_000
MAX_ROUTING_OPTIONS = 6
DEFAULT_ROUTINGS = ("auto",)


def _share(body: dict[str, Any], name: str, default: Decimal | None) -> Decimal | None:
    raw = body.get(name)
    if raw is None:
        return default
    try:
        value = Decimal(str(raw))
    except InvalidOperation:
        raise ServiceError("must be a number from 0 to 1", field=name) from None
    if not Decimal(0) <= value <= Decimal(1):
        raise ServiceError("must be a number from 0 to 1", field=name)
    return value


def _int(body: dict[str, Any], name: str, default: int, *, minimum: int, maximum: int) -> int:
    raw = body.get(name, default)
    if isinstance(raw, bool) or not isinstance(raw, int) or not minimum <= raw <= maximum:
        raise ServiceError(f"must be an integer from {minimum} to {maximum:,}", field=name)
    return raw


def _targets(tenant: Tenant | None, names: Any) -> list[PlacementTarget]:
    """Placement slugs of the tenant, or literal WIDTHxHEIGHT targets."""
    if names is None:
        return []
    if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
        raise ServiceError("must be a list of placement slugs or WIDTHxHEIGHT sizes", field="placements")
    literal, slugs = {}, []
    for name in dict.fromkeys(names):
        try:
            literal[name] = parse_size(name)
        except ValueError:
            slugs.append(name)
    found = {}
    if slugs:
        if tenant is None:
            raise ServiceError(f"placement slugs need a tenant: {', '.join(slugs)}", field="placements")
        try:
            found = {p.slug: (p.width, p.height) for p in placements_by_slugs(tenant=tenant, slugs=slugs)}
        except ValidationError as exc:
            raise ServiceError("; ".join(exc.message_dict["placements"]), field="placements") from None
    targets = []
    for name in dict.fromkeys(names):
        width, height = literal.get(name) or found[name]
        if width <= 0 or height <= 0:
            raise ServiceError(f"{name}: sizes must be positive", field="placements")
        targets.append(PlacementTarget(name, width, height))
    return targets


def _option(routing_text: Any, targets: list[PlacementTarget], quality: str) -> tuple[RoutingOption, list[str]]:
    """The routing's priced plan, and the placements it would have to upscale (its size is smaller than theirs)."""
    if not isinstance(routing_text, str):
        raise ServiceError("each routing is a string: auto, a tier, a bucket or WIDTHxHEIGHT", field="routing")
    try:
        routing = parse_routing(routing_text)
        plan = plan_sizes(placements=targets, routing=routing, quality=quality)
    except (RoutingError, IllegalSizeError, PlanningError, ValueError) as exc:
        raise ServiceError(str(exc), field="routing") from None
    planned = tuple(
        PlannedImage(
            size=str(group.size),
            quality=quality,
            output_tokens=group.estimated_output_tokens,
            # An edit sends its source image at the generation size: OpenAI's published vision accounting.
            edit_input_tokens=image_input_tokens(group.size.width, group.size.height),
        )
        for group in plan.groups
    )
    upscaled = [w.placement or "" for w in plan.warnings if w.code == WarningCode.UPSCALED]
    option = RoutingOption(routing=str(routing), planned=planned, warnings=tuple(w.message for w in plan.warnings))
    return option, upscaled


def workload_estimate(*, tenant: Tenant | None, body: dict[str, Any]) -> dict[str, Any]:
    """Validate a workload description and estimate its monthly cost under each routing option.

    Body: images_per_month (base images, before locales and placements), placements (slugs or WxH),
    quality, locales (a count or a list of codes), edit_share, cached_input_share, routing (one or a
    list to compare side by side), prompt_tokens, calibrate (default true).
    Each option names its `upscaled_placements`: those its generation size is smaller than.
    """
    if not isinstance(body, dict):
        raise ServiceError("the body must be a JSON object")
    images = _int(body, "images_per_month", 1000, minimum=0, maximum=MAX_IMAGES_PER_MONTH)
    quality = body.get("quality", Quality.HIGH)
    if quality not in Quality.__members__.values():
        raise ServiceError(f"must be one of {', '.join(Quality)}", field="quality")
    locales_raw = body.get("locales", 1)
    locales = len(locales_raw) if isinstance(locales_raw, list) else locales_raw
    if isinstance(locales, bool) or not isinstance(locales, int) or not 1 <= locales <= 100:
        raise ServiceError("a count from 1 to 100, or a list of locale codes", field="locales")
    routings = body.get("routing", list(DEFAULT_ROUTINGS))
    routings = [routings] if isinstance(routings, str) else routings
    if not isinstance(routings, list) or not 1 <= len(routings) <= MAX_ROUTING_OPTIONS:
        raise ServiceError(f"one routing or a list of 1-{MAX_ROUTING_OPTIONS} to compare", field="routing")
    calibrate = body.get("calibrate", True)
    if not isinstance(calibrate, bool):
        raise ServiceError("must be true or false", field="calibrate")
    workload = Workload(
        images_per_month=images,
        locales=locales,
        edit_share=_share(body, "edit_share", Decimal(0)),
        cached_input_share=_share(body, "cached_input_share", None),
        prompt_tokens=_int(body, "prompt_tokens", DEFAULT_PROMPT_TOKENS, minimum=0, maximum=32_000),
    )
    targets = _targets(tenant, body.get("placements"))
    planned = [_option(text, targets, str(quality)) for text in dict.fromkeys(routings)]
    options = [option for option, _ in planned]
    result = estimate_compare(tenant=tenant, workload=workload, options=options, calibrate=calibrate)
    # A cheap routing may be cheap because it generates smaller than a placement and scales up: every option
    # names the placements it upscales, so no reader takes "cheapest" for "cheapest at full quality".
    for row, (_, upscaled) in zip(result["options"], planned, strict=True):
        row["upscaled_placements"] = upscaled
    result["workload"] = {
        "images_per_month": images,
        "placements": [{"name": t.slug, "size": f"{t.width}x{t.height}"} for t in targets],
        "quality": str(quality),
        "locales": locales,
        "edit_share": str(workload.edit_share),
        "cached_input_share": None if workload.cached_input_share is None else str(workload.cached_input_share),
        "prompt_tokens": workload.prompt_tokens,
    }
    return result
