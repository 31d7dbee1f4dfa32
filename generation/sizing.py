"""GPT-image-2's size rules and output-token formula: facts of the model, pure functions.

Rules (Microsoft Foundry model catalog, 2026-04-21): both edges multiples of 16, the long
edge at most 3840 px, long/short at most 3:1, total pixels in [655,360, 8,294,400].
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from enum import StrEnum

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
    if len(parts) != 2 or not all(p.isdigit() for p in parts):
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
