"""Legibility check: WCAG 2.x contrast ratio of each line of copy against what it is drawn on.

How the two colours of a line are measured (per OCR line box, in source pixels):
1. The pixels inside the box are split in two by luminance with Otsu's threshold (the split that best separates
   a dark and a light group: glyph strokes and their background).
2. Which group is the background is decided by a ring of pixels around the box (``RING`` of the line's height,
   at least 2 px): the group whose median luminance is nearer the ring's median is the background. A box with no
   ring left (it fills the picture) takes the larger group as background: strokes cover less of a line box
   than the space between them.
3. Background colour = the median colour of the background group; text colour = the median colour of the text
   group's core, its half farthest from the background in luminance (anti-aliased stroke edges blend into the
   background and would understate the contrast a reader sees).
4. Ratio = (L1 + 0.05) / (L2 + 0.05) of the two colours' WCAG relative luminances (sRGB linearised,
   0.2126 R + 0.7152 G + 0.0722 B). A box with a single colour in it (no visible glyphs) scores 1.0.
The check's ratio is the lowest line's: the copy is as legible as its worst line. WCAG AA asks 4.5 for body
text (3.0 for large text); the brand policy sets the minimum.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
from PIL import Image

if TYPE_CHECKING:
    from dam.checks.ocr import TextBox

WCAG_AA = 4.5
SAMPLE_PIXELS = 120_000  # per line; more is sampled on a grid
RING = 0.35  # of the line height, around the box
MIN_RING = 2


def _linearise(c: np.ndarray) -> np.ndarray:
    return np.where(c <= 0.04045, c / 12.92, ((c + 0.055) / 1.055) ** 2.4)


# sRGB 0..255 -> linear light, looked up rather than computed per pixel (a power per pixel is the slow part).
_LINEAR = _linearise(np.arange(256, dtype=np.float64) / 255.0)


def relative_luminance(rgb: np.ndarray) -> np.ndarray:
    """WCAG relative luminance of 8-bit sRGB pixels (..., 3)."""
    lin = _LINEAR[np.asarray(rgb, dtype=np.uint8)]
    return lin[..., 0] * 0.2126 + lin[..., 1] * 0.7152 + lin[..., 2] * 0.0722


def contrast_ratio(first: tuple[int, int, int], second: tuple[int, int, int]) -> float:
    """WCAG 2.x contrast ratio of two sRGB colours, 1..21."""
    a, b = (float(relative_luminance(np.array(c, dtype=np.uint8))) for c in (first, second))
    high, low = max(a, b), min(a, b)
    return (high + 0.05) / (low + 0.05)


def _otsu(values: np.ndarray) -> float:
    """Otsu's threshold over values in 0..1 (256 bins): the cut maximising the between-group variance."""
    hist, edges = np.histogram(values, bins=256, range=(0.0, 1.0))
    weights = hist.astype(np.float64)
    centres = (edges[:-1] + edges[1:]) / 2
    w0 = np.cumsum(weights)
    w1 = w0[-1] - w0
    m0 = np.cumsum(weights * centres)
    mean0 = np.divide(m0, w0, out=np.zeros_like(m0), where=w0 > 0)
    mean1 = np.divide(m0[-1] - m0, w1, out=np.zeros_like(m0), where=w1 > 0)
    between = w0 * w1 * (mean0 - mean1) ** 2
    return float(edges[int(np.argmax(between)) + 1])


def _hex(rgb: np.ndarray) -> str:
    return "#{:02x}{:02x}{:02x}".format(*_rgb(rgb))


@dataclass(frozen=True)
class LegibilityResult:
    passed: bool
    ratio: float  # the lowest line's contrast ratio (0.0 when there was no line to measure)
    minimum: float
    lines: tuple[dict, ...]  # {"text", "box": [left, top, width, height], "ratio", "text_colour", "background"}

    def to_dict(self) -> dict:
        return {
            "passed": self.passed,
            "ratio": round(self.ratio, 4),
            "minimum": round(self.minimum, 4),
            "lines": [{**line, "ratio": round(line["ratio"], 4)} for line in self.lines],
        }


def _measure(region: np.ndarray, inner: tuple[int, int, int, int]) -> dict:
    """Text and background colours of the line box ``inner`` (left, top, right, bottom) within ``region``,
    the box plus whatever of its ring lies inside the picture."""
    left, top, right, bottom = inner
    inside_mask = np.zeros(region.shape[:2], dtype=bool)
    inside_mask[top:bottom, left:right] = True
    # A large line is sampled on a grid (every step-th pixel each way): the colours stay exact, unlike a
    # resize, which would blend thin strokes into the background and understate the contrast.
    step = max(1, math.ceil(math.sqrt(region.shape[0] * region.shape[1] / SAMPLE_PIXELS)))
    if step > 1:
        region, inside_mask = region[::step, ::step], inside_mask[::step, ::step]
    luminance = relative_luminance(region)
    inside, inside_lum = region[inside_mask], luminance[inside_mask]
    ring_lum = luminance[~inside_mask]

    dark = inside_lum < _otsu(inside_lum)
    if dark.all() or not dark.any():
        colour = np.median(inside, axis=0)
        return {"ratio": 1.0, "text_colour": _hex(colour), "background": _hex(colour)}
    groups = (dark, ~dark)
    if len(ring_lum):
        ring = float(np.median(ring_lum))
        background = min(groups, key=lambda g: abs(float(np.median(inside_lum[g])) - ring))
    else:
        background = max(groups, key=lambda g: int(g.sum()))
    back_lum = float(np.median(inside_lum[background]))
    text_idx = np.flatnonzero(~background)
    distance = np.abs(inside_lum[text_idx] - back_lum)
    core = text_idx[distance >= np.median(distance)]
    back_colour = np.median(inside[background], axis=0)
    text_colour = np.median(inside[core], axis=0)
    ratio = contrast_ratio(_rgb(text_colour), _rgb(back_colour))
    return {"ratio": ratio, "text_colour": _hex(text_colour), "background": _hex(back_colour)}


def _rgb(values: np.ndarray) -> tuple[int, int, int]:
    r, g, b = (round(float(v)) for v in values)
    return r, g, b


def legibility_check(image: Image.Image, *, boxes: Sequence[TextBox], minimum: float = WCAG_AA) -> LegibilityResult:
    """Contrast of each OCR line box; passed when the lowest ratio reaches ``minimum``.

    No box to measure (no copy read) fails with ratio 0.0: copy nobody can read is not legible.
    """
    lines = []
    for box in boxes:
        # Only the ring-padded box is converted to an array: a 2048x2048 picture is never copied whole.
        margin = max(MIN_RING, round(box.height * RING))
        crop_box = (box.left - margin, box.top - margin, box.left + box.width + margin, box.top + box.height + margin)
        clipped = (
            max(0, crop_box[0]),
            max(0, crop_box[1]),
            min(image.width, crop_box[2]),
            min(image.height, crop_box[3]),
        )
        if clipped[2] <= clipped[0] or clipped[3] <= clipped[1]:
            continue
        inner = (
            max(box.left, 0) - clipped[0],
            max(box.top, 0) - clipped[1],
            min(box.left + box.width, image.width) - clipped[0],
            min(box.top + box.height, image.height) - clipped[1],
        )
        if inner[2] <= inner[0] or inner[3] <= inner[1]:
            continue  # the box lies wholly outside the picture
        measured = _measure(np.asarray(image.crop(clipped).convert("RGB")), inner)
        lines.append({"text": box.text, "box": [box.left, box.top, box.width, box.height], **measured})
    ratio = min((line["ratio"] for line in lines), default=0.0)
    return LegibilityResult(
        passed=bool(lines) and ratio >= minimum, ratio=ratio, minimum=float(minimum), lines=tuple(lines)
    )
