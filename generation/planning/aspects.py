"""Aspect ratios: the key placements are grouped by, and the sizes that count as "of" an aspect.

The 16 px grid rarely hits a placement's aspect exactly (9:16 at 1080 px wide needs 1920 px; 1088 px wide needs
1934.2 px), so a legal size is *of aspect r* when cropping it to exactly r removes at most half a grid step
(8 px) from one edge. For every short edge there is such a long edge, so each aspect has sizes from the pixel
floor to the ceiling, and the crop that removes the remaining difference is negligible.
"""

from __future__ import annotations

import math
from fractions import Fraction
from functools import lru_cache

from generation.sizing import EDGE_MULTIPLE, MAX_ASPECT, MAX_EDGE, Size, is_legal_size
from tenants.numbers import is_digits

WIDEST = Fraction(MAX_ASPECT)
TALLEST = Fraction(1, MAX_ASPECT)
ASPECT_TOLERANCE_PX = EDGE_MULTIPLE // 2


def aspect_of(width: int, height: int) -> Fraction:
    """Width/height as a reduced fraction: 1080x1920 and 2160x3840 are both 9/16."""
    if width <= 0 or height <= 0:
        raise ValueError(f"{width}x{height}: width and height must be positive")
    return Fraction(width, height)


def clamp_aspect(aspect: Fraction) -> Fraction:
    """The model makes nothing wider than 3:1 or taller than 1:3; a 970x250 banner is generated at 3:1."""
    return min(max(aspect, TALLEST), WIDEST)


def format_aspect(aspect: Fraction) -> str:
    return f"{aspect.numerator}:{aspect.denominator}"


def parse_aspect(text: str) -> Fraction:
    """'16:9' or '1920x1080' -> Fraction(16, 9)."""
    for separator in (":", "x", "/"):
        if separator in text:
            left, _, right = text.strip().lower().partition(separator)
            if is_digits(left) and is_digits(right) and int(left) > 0 and int(right) > 0:
                return Fraction(int(left), int(right))
    raise ValueError(f"aspect {text!r} must be W:H, e.g. 16:9")


def is_of_aspect(size: Size, aspect: Fraction) -> bool:
    """Cropping `size` to exactly `aspect` removes at most ASPECT_TOLERANCE_PX from one edge (exact integers)."""
    p, q = aspect.numerator, aspect.denominator
    w, h = size.width, size.height
    if w * q >= h * p:
        return w * q - h * p <= ASPECT_TOLERANCE_PX * q
    return h * p - w * q <= ASPECT_TOLERANCE_PX * p


def aspect_error(size: Size, aspect: Fraction) -> float:
    """How far the size's aspect is from `aspect`, as |log ratio| (symmetric for wide and tall)."""
    return abs(math.log(size.width / size.height) - math.log(aspect))


@lru_cache(maxsize=1024)
def sizes_of_aspect(aspect: Fraction) -> tuple[Size, ...]:
    """Legal sizes of `aspect` (see the module docstring), fewest pixels first. Empty beyond 3:1."""
    p, q = aspect.numerator, aspect.denominator
    found: list[Size] = []
    for height in range(EDGE_MULTIPLE, MAX_EDGE + 1, EDGE_MULTIPLE):
        # Widths with (height - 8) * p/q <= width <= height * p/q + 8, on the grid.
        low = -(-(height - ASPECT_TOLERANCE_PX) * p // q)
        high = (height * p + ASPECT_TOLERANCE_PX * q) // q
        first = max(EDGE_MULTIPLE, -(-low // EDGE_MULTIPLE) * EDGE_MULTIPLE)
        for width in range(first, min(high, MAX_EDGE) + 1, EDGE_MULTIPLE):
            size = Size(width, height)
            if is_legal_size(width, height) and is_of_aspect(size, aspect):
                found.append(size)
    return tuple(sorted(found, key=lambda s: (s.pixels, s)))
