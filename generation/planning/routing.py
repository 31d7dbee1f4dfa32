"""Routing: how a generation size is chosen for one aspect group.

- explicit `WIDTHxHEIGHT`: used as is (reproducible workflows); no routing.
- Mode 1 tiers and Mode 2 token buckets: a pixel budget, combined with the group's aspect into the size of
  that aspect whose pixel count is closest to the budget (in ratio, not in absolute pixels).
- `auto`: the cheapest size of the group's aspect, by output tokens at the requested quality, that covers every
  placement in the group without upscaling; the largest size of that aspect when none does.

Pixel budgets. Tiers: smimage = the pixel floor, image = 1 MP (1024x1024), xlimage = the pixel ceiling.
Buckets: geometric steps between floor and ceiling, budget(i) = floor * (ceiling/floor) ** (i/5) for the
i-th of 16, 24, 36, 48, 64, 96 (each step x1.66), so 16 is the floor like smimage, 24 lands next to image's
1 MP and 96 is the ceiling like xlimage.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from enum import StrEnum
from fractions import Fraction

from generation.planning.aspects import aspect_error, format_aspect, sizes_of_aspect
from generation.sizing import MAX_PIXELS, MIN_PIXELS, Quality, Size, output_tokens, parse_size, validate_size
from tenants.numbers import is_digits


class Tier(StrEnum):
    SMIMAGE = "smimage"
    IMAGE = "image"
    XLIMAGE = "xlimage"


TIER_PIXEL_BUDGET: dict[Tier, int] = {Tier.SMIMAGE: MIN_PIXELS, Tier.IMAGE: 1024 * 1024, Tier.XLIMAGE: MAX_PIXELS}

TOKEN_BUCKETS: tuple[int, ...] = (16, 24, 36, 48, 64, 96)
_STEP = (MAX_PIXELS / MIN_PIXELS) ** (1 / (len(TOKEN_BUCKETS) - 1))
BUCKET_PIXEL_BUDGET: dict[int, int] = {
    bucket: min(MAX_PIXELS, round(MIN_PIXELS * _STEP**index)) for index, bucket in enumerate(TOKEN_BUCKETS)
}


class RoutingKind(StrEnum):
    EXPLICIT = "explicit"
    TIER = "tier"
    BUCKET = "bucket"
    AUTO = "auto"


class RoutingError(ValueError):
    pass


@dataclass(frozen=True)
class Routing:
    """The caller's choice. `value` is a Size (explicit), a Tier (tier), an int bucket (bucket) or None (auto)."""

    kind: RoutingKind
    value: Size | Tier | int | None = None

    def __post_init__(self) -> None:
        expected = {
            RoutingKind.EXPLICIT: Size,
            RoutingKind.TIER: Tier,
            RoutingKind.BUCKET: int,
            RoutingKind.AUTO: type(None),
        }[self.kind]
        if not isinstance(self.value, expected):
            raise RoutingError(f"{self.kind} routing needs a {expected.__name__}, got {self.value!r}")
        if self.kind == RoutingKind.BUCKET and self.value not in TOKEN_BUCKETS:
            raise RoutingError(f"token bucket {self.value} is not one of {', '.join(map(str, TOKEN_BUCKETS))}")
        if self.kind == RoutingKind.EXPLICIT:
            validate_size(self.value.width, self.value.height)

    @classmethod
    def explicit(cls, width: int, height: int) -> Routing:
        return cls(RoutingKind.EXPLICIT, Size(width, height))

    @classmethod
    def tier(cls, tier: Tier | str) -> Routing:
        try:
            return cls(RoutingKind.TIER, Tier(tier))
        except ValueError:
            raise RoutingError(f"tier {tier!r} is not one of {', '.join(Tier)}") from None

    @classmethod
    def bucket(cls, bucket: int) -> Routing:
        return cls(RoutingKind.BUCKET, int(bucket))

    @classmethod
    def auto(cls) -> Routing:
        return cls(RoutingKind.AUTO)

    @property
    def pixel_budget(self) -> int | None:
        if self.kind == RoutingKind.TIER:
            return TIER_PIXEL_BUDGET[self.value]
        if self.kind == RoutingKind.BUCKET:
            return BUCKET_PIXEL_BUDGET[self.value]
        return None

    def __str__(self) -> str:
        if self.kind == RoutingKind.AUTO:
            return "auto"
        return f"{self.kind}:{self.value}"

    def to_dict(self) -> dict:
        value = self.value
        if isinstance(value, Size | Tier):
            value = str(value)
        return {"kind": str(self.kind), "value": value}

    @classmethod
    def from_dict(cls, data: dict) -> Routing:
        kind = RoutingKind(data["kind"])
        value = data.get("value")
        if kind == RoutingKind.EXPLICIT:
            return cls(kind, Size.parse(value))
        if kind == RoutingKind.TIER:
            return cls.tier(value)
        if kind == RoutingKind.BUCKET:
            return cls.bucket(value)
        return cls.auto()


def parse_routing(text: str) -> Routing:
    """The routing vocabulary of requests: 'auto', a tier name, a bucket ('36' or 'bucket:36'), or 'WxH'.

    An explicit size that breaks a rule raises `IllegalSizeError` (a ValueError) naming the rule and the
    nearest legal sizes.
    """
    cleaned = text.strip().lower()
    if cleaned == "auto":
        return Routing.auto()
    if cleaned in set(Tier):
        return Routing.tier(cleaned)
    bucket = cleaned.removeprefix("bucket:")
    if is_digits(bucket):
        return Routing.bucket(int(bucket))
    if "x" in cleaned:
        width, height = parse_size(cleaned)
        return Routing(RoutingKind.EXPLICIT, validate_size(width, height))
    raise RoutingError(
        f"routing {text!r} must be 'auto', a tier ({', '.join(Tier)}), a token bucket "
        f"({', '.join(map(str, TOKEN_BUCKETS))}) or an explicit WIDTHxHEIGHT"
    )


def size_for_budget(*, aspect: Fraction, pixel_budget: int) -> Size:
    """The size of `aspect` whose pixel count is nearest the budget by ratio (ties: closer aspect, fewer pixels)."""
    candidates = _candidates(aspect)
    return min(candidates, key=lambda s: (abs(math.log(s.pixels / pixel_budget)), aspect_error(s, aspect), s.pixels))


def covers(size: Size, target: Size) -> bool:
    """The generation holds the target without upscaling (a uniform factor <= 1 then a crop)."""
    return size.width >= target.width and size.height >= target.height


def cheapest_covering_size(*, aspect: Fraction, cover: Size, quality: Quality | str) -> Size | None:
    """The size of `aspect` with the fewest output tokens at `quality` that covers `cover`; None if none does.

    Ties go to the closer aspect (less crop), then fewer pixels.
    """
    covering = [s for s in _candidates(aspect) if covers(s, cover)]
    if not covering:
        return None
    return min(covering, key=lambda s: (output_tokens(s.width, s.height, quality), aspect_error(s, aspect), s))


def largest_size_of_aspect(aspect: Fraction) -> Size:
    return min(_candidates(aspect), key=lambda s: (-s.pixels, aspect_error(s, aspect), s))


def _candidates(aspect: Fraction) -> tuple[Size, ...]:
    candidates = sizes_of_aspect(aspect)
    if not candidates:
        raise RoutingError(f"no legal size has aspect {format_aspect(aspect)}: clamp it to 3:1 first")
    return candidates
