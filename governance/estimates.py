"""Monthly cost estimates of a workload, from the price book and planned sizes, calibrated by the ledger.

Governance does not plan sizes (that is generation's planner, and governance may not import
generation): callers pass, per routing option, the generations one base image needs
(`PlannedImage`: size, quality, output tokens by the model's formula, and the input tokens of an
edit's source image). Where the tenant's ledger has enough observed charges for a size, quality
and operation, the observed tokens per image replace the formula's, and the estimate says so.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from django.db.models import Count, Sum
from django.utils import timezone

from governance.models import DEFAULT_MODEL, DEFAULT_TIER, LedgerEntry, TokenKind
from governance.prices import PriceSheet, line_amount, price_sheet_at
from tenants.models import Tenant

MIN_OBSERVED_CALLS = 20
CALIBRATION_WINDOW = dt.timedelta(days=90)
DEFAULT_PROMPT_TOKENS = 250
GENERATE, EDIT = "generate", "edit"


@dataclass(frozen=True)
class PlannedImage:
    """One generation a base image needs under a routing option (per locale)."""

    size: str
    quality: str
    output_tokens: int
    edit_input_tokens: int = 0


@dataclass(frozen=True)
class Workload:
    images_per_month: int
    locales: int = 1
    edit_share: Decimal = Decimal(0)
    cached_input_share: Decimal | None = None  # None: as observed, else nothing cached
    prompt_tokens: int = DEFAULT_PROMPT_TOKENS

    def __post_init__(self) -> None:
        if self.images_per_month < 0 or self.locales < 1 or self.prompt_tokens < 0:
            raise ValueError("images_per_month >= 0, locales >= 1 and prompt_tokens >= 0")
        for name in ("edit_share", "cached_input_share"):
            share = getattr(self, name)
            if share is not None and not Decimal(0) <= share <= Decimal(1):
                raise ValueError(f"{name} must be between 0 and 1")


@dataclass(frozen=True)
class Observed:
    calls: int
    images: int
    text_input_tokens: int
    cached_text_input_tokens: int
    image_input_tokens: int
    cached_image_input_tokens: int
    output_tokens: int

    @property
    def cached_share(self) -> Decimal:
        total = self.text_input_tokens + self.image_input_tokens
        cached = self.cached_text_input_tokens + self.cached_image_input_tokens
        return Decimal(cached) / Decimal(total) if total else Decimal(0)


ObservedUsage = Mapping[tuple[str, str, str], Observed]


def observed_usage(*, tenant: Tenant, since: dt.datetime | None = None) -> dict[tuple[str, str, str], Observed]:
    """Observed tokens per (size, quality, operation) from the tenant's recent charges (reported usage only)."""
    since = since or timezone.now() - CALIBRATION_WINDOW
    rows = (
        LedgerEntry.objects.for_tenant(tenant)
        .filter(kind=LedgerEntry.Kind.CHARGE, occurred_at__gte=since, usage_estimated=False)
        .exclude(size="")
        .values("size", "quality", "operation")
        .annotate(
            calls=Count("id"),
            images_sum=Sum("images"),
            text=Sum("text_input_tokens"),
            cached_text=Sum("cached_text_input_tokens"),
            image=Sum("image_input_tokens"),
            cached_image=Sum("cached_image_input_tokens"),
            output=Sum("output_tokens"),
        )
    )
    return {
        (row["size"], row["quality"], row["operation"] or GENERATE): Observed(
            calls=row["calls"],
            images=row["images_sum"] or 0,
            text_input_tokens=row["text"] or 0,
            cached_text_input_tokens=row["cached_text"] or 0,
            image_input_tokens=row["image"] or 0,
            cached_image_input_tokens=row["cached_image"] or 0,
            output_tokens=row["output"] or 0,
        )
        for row in rows
    }


@dataclass
class RoutingEstimate:
    routing: str
    sizes: list[str]
    provider_images_per_month: Decimal
    tokens: dict[str, int]
    cost_usd: dict[str, Decimal]
    total_usd: Decimal
    per_base_image_usd: Decimal
    calibration: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    @property
    def calibrated(self) -> bool:
        return bool(self.calibration)

    def to_dict(self) -> dict[str, Any]:
        return {
            "routing": self.routing,
            "sizes": self.sizes,
            "provider_images_per_month": _tidy(self.provider_images_per_month),
            "tokens": self.tokens,
            "cost_usd": {kind: str(amount) for kind, amount in self.cost_usd.items()},
            "total_usd": str(self.total_usd.quantize(Decimal("0.01"))),
            "total_usd_exact": str(self.total_usd),
            "per_base_image_usd": str(self.per_base_image_usd.quantize(Decimal("0.000001"))),
            "calibrated": self.calibrated,
            "calibration": self.calibration,
            "warnings": self.warnings,
        }


def _tidy(value: Decimal) -> str:
    return str(value.quantize(Decimal("0.01")).normalize()) if value else "0"


def _usable(observed: ObservedUsage, key: tuple[str, str, str]) -> Observed | None:
    found = observed.get(key)
    return found if found is not None and found.calls >= MIN_OBSERVED_CALLS and found.images > 0 else None


def estimate_routing(
    *,
    routing: str,
    planned: Sequence[PlannedImage],
    workload: Workload,
    prices: PriceSheet,
    observed: ObservedUsage | None = None,
    warnings: Sequence[str] = (),
) -> RoutingEstimate:
    """Pure: the month's tokens and cost of a workload under one routing option."""
    observed = observed or {}
    base = Decimal(workload.images_per_month) * workload.locales
    tokens: dict[str, Decimal] = defaultdict(Decimal)
    notes: list[str] = []
    for image in planned:
        for operation, share in ((GENERATE, 1 - workload.edit_share), (EDIT, workload.edit_share)):
            calls = base * share
            if not calls:
                continue
            seen = _usable(observed, (image.size, image.quality, operation))
            if seen is not None:
                output = Decimal(seen.output_tokens) / seen.images
                text = Decimal(seen.text_input_tokens) / seen.calls
                image_input = Decimal(seen.image_input_tokens) / seen.calls
                notes.append(
                    f"{image.size} {image.quality} {operation}: tokens per image observed over {seen.calls} "
                    f"charged responses in the last {CALIBRATION_WINDOW.days} days"
                )
            else:
                output = Decimal(image.output_tokens)
                text = Decimal(workload.prompt_tokens)
                image_input = Decimal(image.edit_input_tokens if operation == EDIT else 0)
            cached = workload.cached_input_share
            if cached is None:
                cached = seen.cached_share if seen is not None else Decimal(0)
            tokens[TokenKind.IMAGE_OUTPUT] += calls * output
            tokens[TokenKind.TEXT_INPUT] += calls * text * (1 - cached)
            tokens[TokenKind.CACHED_TEXT_INPUT] += calls * text * cached
            tokens[TokenKind.IMAGE_INPUT] += calls * image_input * (1 - cached)
            tokens[TokenKind.CACHED_IMAGE_INPUT] += calls * image_input * cached
    whole = {kind: int(tokens[kind].to_integral_value(rounding=ROUND_HALF_UP)) for kind in TokenKind.values}
    cost = {kind: line_amount(count, prices[kind].usd_per_million) for kind, count in whole.items()}
    total = sum(cost.values(), Decimal(0))
    per_image = total / workload.images_per_month if workload.images_per_month else Decimal(0)
    return RoutingEstimate(
        routing=routing,
        sizes=list(dict.fromkeys(f"{image.size} {image.quality}" for image in planned)),
        provider_images_per_month=base * len(planned),
        tokens=whole,
        cost_usd=cost,
        total_usd=total,
        per_base_image_usd=per_image,
        calibration=list(dict.fromkeys(notes)),
        warnings=list(warnings),
    )


@dataclass(frozen=True)
class RoutingOption:
    routing: str
    planned: tuple[PlannedImage, ...]
    warnings: tuple[str, ...] = ()


def estimate_compare(
    *,
    tenant: Tenant | None,
    workload: Workload,
    options: Sequence[RoutingOption],
    at: dt.datetime | None = None,
    calibrate: bool = True,
    model: str = DEFAULT_MODEL,
    deployment_tier: str = DEFAULT_TIER,
) -> dict[str, Any]:
    """Estimate each routing option side by side with the prices in force at `at` (default now)."""
    at = at or timezone.now()
    prices = price_sheet_at(at, model=model, deployment_tier=deployment_tier)
    observed = observed_usage(tenant=tenant) if (calibrate and tenant is not None) else {}
    estimates = [
        estimate_routing(
            routing=option.routing,
            planned=option.planned,
            workload=workload,
            prices=prices,
            observed=observed,
            warnings=option.warnings,
        )
        for option in options
    ]
    cheapest = min(estimates, key=lambda e: e.total_usd).routing if estimates else None
    calibrated = any(e.calibrated for e in estimates)
    return {
        "prices": {
            "model": model,
            "deployment_tier": deployment_tier,
            "at": at.isoformat(),
            "usd_per_million": {kind: str(prices[kind].usd_per_million) for kind in TokenKind.values},
        },
        "options": [e.to_dict() for e in estimates],
        "cheapest": cheapest,
        "calibrated": calibrated,
        "basis": (
            "calibrated from this tenant's observed usage where marked; the model's token formula elsewhere"
            if calibrated
            else "the model's published token formula and the assumed prompt size (no observed usage yet)"
        ),
    }
