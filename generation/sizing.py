"""GPT-image-2's size rules and token formulas: facts of the model, pure functions.

Rules (Microsoft Foundry model catalog, 2026-04-21): both edges multiples of 16, the long
edge at most 3840 px, long/short at most 3:1, total pixels in [655,360, 8,294,400].

The token formulas (output tokens per image, input tokens per edit image) live here, in production code:
the cost estimator and the submission's cost ceiling read them, and the local emulator imports them to
report `usage`, never the other way round.
"""

from __future__ import annotations

import heapq
import math
from dataclasses import dataclass
from enum import StrEnum
from functools import cache

from tenants.numbers import is_digits

EDGE_MULTIPLE = 16
MAX_EDGE = 3840
MAX_ASPECT = 3
MIN_PIXELS = 655_360
MAX_PIXELS = 8_294_400
NAMED_SIZES: tuple[tuple[int, int], ...] = (
    (1024, 1024),
    (1536, 1024),
    (1024, 1536),
    (2048, 2048),
    (2048, 1152),
    (1152, 2048),
    (3840, 2160),
    (2160, 3840),
)


class Quality(StrEnum):
    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"


# The quality factor Q of the published output-token formula.
QUALITY_FACTOR: dict[str, int] = {Quality.LOW: 16, Quality.MEDIUM: 48, Quality.HIGH: 96}


class SizeRule(StrEnum):
    FORMAT = "format"
    MULTIPLE_OF_16 = "multiple_of_16"
    MAX_EDGE = "max_edge"
    MAX_ASPECT = "max_aspect"
    MIN_PIXELS = "min_pixels"
    MAX_PIXELS = "max_pixels"


@dataclass(frozen=True)
class SizeViolation:
    rule: SizeRule
    message: str


def size_violations(width: int, height: int) -> list[SizeViolation]:
    """Every rule that WIDTHxHEIGHT breaks; empty when the size is legal."""
    problems: list[SizeViolation] = []
    if width <= 0 or height <= 0:
        return [SizeViolation(SizeRule.FORMAT, "width and height must be positive")]
    if width % EDGE_MULTIPLE or height % EDGE_MULTIPLE:
        problems.append(SizeViolation(SizeRule.MULTIPLE_OF_16, f"both edges must be multiples of {EDGE_MULTIPLE}"))
    long_edge, short_edge = max(width, height), min(width, height)
    if long_edge > MAX_EDGE:
        problems.append(SizeViolation(SizeRule.MAX_EDGE, f"the long edge must be at most {MAX_EDGE} px"))
    if long_edge > MAX_ASPECT * short_edge:
        problems.append(SizeViolation(SizeRule.MAX_ASPECT, f"long/short ratio must be at most {MAX_ASPECT}:1"))
    pixels = width * height
    if pixels < MIN_PIXELS:
        problems.append(SizeViolation(SizeRule.MIN_PIXELS, f"total pixels must be at least {MIN_PIXELS:,}"))
    if pixels > MAX_PIXELS:
        problems.append(SizeViolation(SizeRule.MAX_PIXELS, f"total pixels must be at most {MAX_PIXELS:,}"))
    return problems


def is_legal_size(width: int, height: int) -> bool:
    return not size_violations(width, height)


def parse_size(text: str) -> tuple[int, int]:
    """'1536x1024' -> (1536, 1024). Raises ValueError naming the expected format."""
    parts = text.lower().strip().split("x")
    if len(parts) != 2 or not all(is_digits(p) for p in parts):
        raise ValueError(f"size {text!r} must be WIDTHxHEIGHT, e.g. 1536x1024, or 'auto'")
    return int(parts[0]), int(parts[1])


def output_tokens(width: int, height: int, quality: str) -> int:
    """Image output tokens for one image, by the published gpt-image-2 formula.

    s = (2*Q*short + long) // (2*long);  tokens = ceil(Q*s*(2_000_000 + w*h) / 4_000_000)
    1024x1024 high -> 7024, 1536x1024 high -> 5488.
    """
    q = QUALITY_FACTOR[quality]
    long_edge, short_edge = max(width, height), min(width, height)
    s = (2 * q * short_edge + long_edge) // (2 * long_edge)
    return math.ceil(q * s * (2_000_000 + width * height) / 4_000_000)


# An edit's input image, by OpenAI's published vision accounting for high detail: scale to fit in
# IMAGE_FIT x IMAGE_FIT, then so the short edge is at most IMAGE_SHORT_EDGE; count IMAGE_TILE-px tiles;
# tokens = IMAGE_BASE_TOKENS + IMAGE_TILE_TOKENS * tiles (1024x1024 -> 768x768 -> 4 tiles -> 765). Masks are
# not counted.
IMAGE_BASE_TOKENS = 85
IMAGE_TILE_TOKENS = 170
IMAGE_TILE = 512
IMAGE_FIT = 2048
IMAGE_SHORT_EDGE = 768


def image_input_tokens(width: int, height: int) -> int:
    """Input tokens for one edit input image of WIDTHxHEIGHT."""
    scale = min(1.0, IMAGE_FIT / max(width, height))
    w, h = width * scale, height * scale
    scale = min(1.0, IMAGE_SHORT_EDGE / min(w, h))
    w, h = w * scale, h * scale
    tiles = math.ceil(w / IMAGE_TILE) * math.ceil(h / IMAGE_TILE)
    return IMAGE_BASE_TOKENS + IMAGE_TILE_TOKENS * tiles


# The most one edit input image can count, whatever its size: after the two scalings the long edge is at most
# IMAGE_FIT and the short edge at most IMAGE_SHORT_EDGE, so at most 4 x 2 tiles: 85 + 170 x 8 = 1445. The
# submission's cost ceiling holds this much per edit image, before the source image's size is looked at.
MAX_EDIT_INPUT_IMAGE_TOKENS = IMAGE_BASE_TOKENS + IMAGE_TILE_TOKENS * (
    math.ceil(IMAGE_FIT / IMAGE_TILE) * math.ceil(IMAGE_SHORT_EDGE / IMAGE_TILE)
)


@dataclass(frozen=True, order=True)
class Size:
    """A WIDTHxHEIGHT pair; `str(size)` is the model's `size` parameter."""

    width: int
    height: int

    def __str__(self) -> str:
        return f"{self.width}x{self.height}"

    @property
    def pixels(self) -> int:
        return self.width * self.height

    @classmethod
    def parse(cls, text: str) -> Size:
        return cls(*parse_size(text))

    def to_dict(self) -> dict[str, int]:
        return {"width": self.width, "height": self.height}

    @classmethod
    def from_dict(cls, data: dict) -> Size:
        return cls(int(data["width"]), int(data["height"]))


class IllegalSizeError(ValueError):
    """An explicit size the model would refuse (or silently resize): names the rules broken and the nearest
    legal sizes, so an API can answer with something the caller can use."""

    def __init__(self, width: int, height: int, violations: list[SizeViolation], nearest: tuple[Size, ...]):
        self.width = width
        self.height = height
        self.violations = tuple(violations)
        self.nearest = nearest
        broken = "; ".join(f"{v.rule} ({v.message})" for v in self.violations)
        named = ", ".join(f"{w}x{h}" for w, h in NAMED_SIZES)
        suggestion = ", ".join(str(s) for s in nearest)
        super().__init__(
            f"{width}x{height} is not a legal size: {broken}. Nearest legal sizes: {suggestion}. "
            f"Named sizes: {named}; or 'auto' to let the planner choose."
        )

    @property
    def rules(self) -> tuple[SizeRule, ...]:
        return tuple(v.rule for v in self.violations)

    def to_dict(self) -> dict:
        return {
            "size": f"{self.width}x{self.height}",
            "violations": [{"rule": str(v.rule), "message": v.message} for v in self.violations],
            "nearest": [str(s) for s in self.nearest],
            "named_sizes": [f"{w}x{h}" for w, h in NAMED_SIZES],
            "hint": "use a nearest or named size, or 'auto' to let the planner choose",
        }


@cache
def legal_sizes() -> tuple[Size, ...]:
    """Every legal size (about 25,000), enumerated once: the planner and its tests search this space."""
    edges = range(EDGE_MULTIPLE, MAX_EDGE + 1, EDGE_MULTIPLE)
    return tuple(Size(w, h) for w in edges for h in edges if is_legal_size(w, h))


@cache
def _legal_log_edges() -> tuple[tuple[float, float, Size], ...]:
    return tuple((math.log(s.width), math.log(s.height), s) for s in legal_sizes())


def nearest_legal_sizes(width: int, height: int, *, count: int = 4) -> tuple[Size, ...]:
    """The legal sizes closest to WIDTHxHEIGHT, closest first.

    Distance is Euclidean in log-edge space, so it is relative (a 16 px step matters more on a small edge) and
    a uniform rescale is preferred over stretching one edge: for 300x250 (under the pixel floor) the suggestions
    stay close to 6:5 instead of only growing one edge.
    """
    lw, lh = math.log(max(width, 1)), math.log(max(height, 1))
    ranked = heapq.nsmallest(count, _legal_log_edges(), key=lambda e: ((e[0] - lw) ** 2 + (e[1] - lh) ** 2, e[2]))
    return tuple(e[2] for e in ranked)


def validate_size(width: int, height: int) -> Size:
    """The size as a `Size` if the model accepts it as is; `IllegalSizeError` otherwise."""
    problems = size_violations(width, height)
    if problems:
        raise IllegalSizeError(width, height, problems, nearest_legal_sizes(width, height))
    return Size(width, height)


def validate_size_text(text: str) -> Size | None:
    """An explicit `size` parameter: 'WIDTHxHEIGHT' (named sizes included) -> Size, 'auto' -> None."""
    if text.strip().lower() == "auto":
        return None
    return validate_size(*parse_size(text))
