"""Palette check: how much of a picture is drawn in the brand's colours.

The picture is shrunk to at most ``SAMPLE_EDGE`` pixels a side (colour shares do not need detail, and this keeps
a 2048x2048 check in milliseconds) and quantised to ``CLUSTERS`` dominant colours with Pillow's median cut. Each
dominant colour is compared with every palette colour by CIEDE2000 (ΔE00, CIELAB under D65, coloraide); the
score is the share of the picture's pixels whose dominant colour lies within ``max_delta_e`` of some palette
colour. Transparent pixels (alpha < 128) are left out: they are not drawn in any colour.

coloraide rather than scikit-image: only a few hundred colour pairs are compared, so vectorising buys nothing,
and coloraide is a small pure-Python wheel without scikit-image's SciPy dependency tree.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
from coloraide import Color
from PIL import Image

SAMPLE_EDGE = 160
CLUSTERS = 12
OPAQUE = 128

_HEX = re.compile(r"#?([0-9a-fA-F]{6}|[0-9a-fA-F]{3})")


def parse_hex(value: str) -> tuple[int, int, int]:
    """'#RRGGBB' or '#RGB' (the '#' optional) -> (r, g, b); ValueError otherwise."""
    match = _HEX.fullmatch(value.strip())
    if match is None:
        raise ValueError(f"not a hex colour: {value!r}")
    digits = match.group(1)
    if len(digits) == 3:
        digits = "".join(c * 2 for c in digits)
    return int(digits[0:2], 16), int(digits[2:4], 16), int(digits[4:6], 16)


def to_hex(rgb: tuple[int, int, int]) -> str:
    return "#{:02x}{:02x}{:02x}".format(*rgb)


@lru_cache(maxsize=4096)
def _color(rgb: tuple[int, int, int]) -> Color:
    # Converted once per colour: the palette's colours recur in every check.
    return Color("srgb", [c / 255 for c in rgb]).convert("lab-d65")


def delta_e(first: tuple[int, int, int], second: tuple[int, int, int]) -> float:
    """CIEDE2000 colour difference between two sRGB colours."""
    return float(_color(first).delta_e(_color(second), method="2000"))


@dataclass(frozen=True)
class PaletteResult:
    passed: bool
    score: float  # share of (opaque) pixels whose dominant colour is within max_delta_e of the palette
    threshold: float  # min_score
    max_delta_e: float
    colours: tuple[dict, ...]  # {"hex", "share", "nearest", "delta_e"}, largest share first

    def to_dict(self) -> dict:
        return {
            "passed": self.passed,
            "score": round(self.score, 4),
            "threshold": round(self.threshold, 4),
            "max_delta_e": round(self.max_delta_e, 4),
            "colours": [
                {
                    "hex": c["hex"],
                    "share": round(c["share"], 4),
                    "nearest": c["nearest"],
                    "delta_e": round(c["delta_e"], 4),
                }
                for c in self.colours
            ],
        }


def dominant_colours(image: Image.Image, *, clusters: int = CLUSTERS) -> list[tuple[tuple[int, int, int], float]]:
    """The picture's dominant colours with their share of its opaque pixels, largest share first."""
    sample = image
    scale = SAMPLE_EDGE / max(sample.size)
    if scale < 1:
        size = (max(1, round(sample.width * scale)), max(1, round(sample.height * scale)))
        sample = sample.resize(size, Image.Resampling.BOX)
    if sample.mode in ("RGBA", "LA", "PA") or (sample.mode == "P" and "transparency" in sample.info):
        rgba = np.asarray(sample.convert("RGBA"))
        # Only opaque pixels take part: a transparent one would otherwise claim a cluster of its own.
        opaque = rgba[rgba[:, :, 3] >= OPAQUE][:, :3]
        if not len(opaque):
            return []
        sample = Image.fromarray(np.ascontiguousarray(opaque).reshape(-1, 1, 3), "RGB")
    else:
        sample = sample.convert("RGB")
    quantised = sample.quantize(colors=clusters, method=Image.Quantize.MEDIANCUT)
    lut = quantised.getpalette() or []
    counts = quantised.getcolors(256) or []
    total = sum(n for n, _ in counts)
    merged: dict[tuple[int, int, int], int] = {}
    for n, index in counts:
        rgb = (lut[index * 3], lut[index * 3 + 1], lut[index * 3 + 2])
        merged[rgb] = merged.get(rgb, 0) + n
    return sorted(((rgb, n / total) for rgb, n in merged.items()), key=lambda item: (-item[1], item[0]))


def palette_check(image: Image.Image, *, palette: Sequence[str], max_delta_e: float, min_score: float) -> PaletteResult:
    """Score the picture against the brand palette (hex colours); ValueError for an empty or malformed palette."""
    brand = [parse_hex(value) for value in palette]
    if not brand:
        raise ValueError("the brand palette is empty: there is nothing to check against")
    colours = []
    score = 0.0
    for rgb, share in dominant_colours(image):
        nearest, distance = min(((own, delta_e(rgb, own)) for own in brand), key=lambda pair: pair[1])
        if distance <= max_delta_e:
            score += share
        colours.append({"hex": to_hex(rgb), "share": share, "nearest": to_hex(nearest), "delta_e": distance})
    score = min(1.0, score)
    return PaletteResult(
        passed=score >= min_score,
        score=score,
        threshold=float(min_score),
        max_delta_e=float(max_delta_e),
        colours=tuple(colours),
    )
