"""Text-safe crops: does a placement's crop window keep the copy whole, and is the copy still big enough?

A placement is cut from its generation by the size plan's derivation steps (`dam.imaging.apply_steps`): at most
one crop, before or after a uniform scale. The crop window is centred (generation time) or centred on the focal
point (a re-render after a focal change), neither of which knows where the copy is. `crop_fit` checks the
window against the copy's line boxes (from OCR, in source pixels) and, when it cuts a line, slides the window
within the image -- same size, so every other step stays valid -- until every line is whole inside.

Rules, in priority order (each later one gives way to the earlier ones):
1. Every given box is copy that must be whole inside the window. A line the window drops entirely is as much
   a failure as one it cuts in half (the caller passes the boxes of THE copy, not every scrap OCR read).
   No window of the planned size holds them all: `cut`, the original steps kept, the cut boxes as evidence.
2. The focal point (if the version has one) stays inside the moved window: it is the subject the editor
   chose, and a re-render after a focal change keeps it inside too (`dam.renditions.geometry.fill_box`).
3. A margin around each line (`MARGIN_SHARE` of its height, at least `MIN_MARGIN_PX`): cosmetic, so it is
   dropped before the focal point is.
4. The smallest move: on each axis the window moves to the allowed position nearest its original one (the
   constraints are per axis, so this is also the smallest move overall).
A window that already holds every line is left alone (no move for the margin's sake).

Text height: the smallest line's height times the steps' vertical scale, in output pixels, must be at least the
placement's `min_text_height`. Severity: cut > too_small > adjusted > ok; `to_dict` reports every fact
(`adjusted`, `text_too_small`, the cut boxes) whatever the verdict, so a too-small verdict on a moved window
still carries the moved steps.

Pure functions on numbers and Pillow images: no models, no database.
"""

from __future__ import annotations

import io
import math
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Protocol

from PIL import Image, ImageDraw

from dam.renditions.geometry import fill_box

MARGIN_SHARE = 0.25  # of a line's height: room for accents and descenders OCR boxes tend to clip
MIN_MARGIN_PX = 2
# Float noise when a box is mapped through a scale (1536 * 0.703125 must stay 1080, not 1080.0000000001).
_EPSILON = 1e-6

ORIGINAL_COLOUR = (230, 30, 30)
ADJUSTED_COLOUR = (20, 200, 60)
LINE_COLOUR = (40, 120, 255)
CUT_LINE_COLOUR = (255, 150, 0)


class LineBox(Protocol):
    """A line of copy in source pixels (`dam.checks.ocr.TextBox` is one)."""

    @property
    def left(self) -> int: ...
    @property
    def top(self) -> int: ...
    @property
    def width(self) -> int: ...
    @property
    def height(self) -> int: ...


class CropVerdict(StrEnum):
    OK = "ok"
    ADJUSTED = "adjusted"
    CUT = "cut"
    TOO_SMALL = "too_small"


@dataclass(frozen=True)
class CropFit:
    """The verdict on one placement's crop and the steps to cut it with (the original or the moved ones).

    Boxes are `{"left", "top", "right", "bottom"}` in source pixels (right and bottom exclusive); with an
    upscale (scale, then crop) they are the crop window mapped back to the source, rounded outwards.
    `window` / `adjusted_window` are the crop step's own boxes (in the space the crop applies to).
    `text_height` is None when there is no copy to measure.
    """

    placement: str
    verdict: CropVerdict
    steps: list[dict[str, Any]]
    original_box: dict[str, int]
    adjusted_box: dict[str, int] | None
    cut_boxes: tuple[LineBox, ...]
    text_height: int | None
    min_text_height: int
    window: dict[str, int]
    adjusted_window: dict[str, int] | None = None
    focal_kept: bool | None = None  # None: no focal point, or the window did not move
    lines: int = 0
    cut_shares: tuple[float, ...] = ()  # per cut box, the share of its area the original window kept (0: dropped)
    focal: tuple[float, float] | None = None  # the focal point the check honoured (fractions of width, height)

    @property
    def adjusted(self) -> bool:
        return self.adjusted_box is not None

    @property
    def text_too_small(self) -> bool:
        return self.text_height is not None and self.text_height < self.min_text_height

    @property
    def needs_review(self) -> bool:
        return self.verdict in (CropVerdict.CUT, CropVerdict.TOO_SMALL)

    def to_dict(self) -> dict[str, Any]:
        return {
            "placement": self.placement,
            "verdict": str(self.verdict),
            "steps": self.steps,
            "original_box": self.original_box,
            "adjusted_box": self.adjusted_box,
            "window": self.window,
            "adjusted_window": self.adjusted_window,
            "adjusted": self.adjusted,
            "focal": None if self.focal is None else {"x": round(self.focal[0], 4), "y": round(self.focal[1], 4)},
            "focal_kept": self.focal_kept,
            "lines": self.lines,
            "cut_boxes": [
                _box_dict(box) | {"kept_share": round(share, 4)}
                for box, share in zip(self.cut_boxes, self.cut_shares, strict=True)
            ],
            "text_height": self.text_height,
            "min_text_height": self.min_text_height,
            "text_too_small": self.text_too_small,
        }


def _box_dict(box: LineBox) -> dict[str, Any]:
    found = {"left": box.left, "top": box.top, "right": box.left + box.width, "bottom": box.top + box.height}
    text = getattr(box, "text", None)
    return found if text is None else {"text": text, **found}


@dataclass(frozen=True)
class _Crop:
    """Where the (single) crop of a list of steps sits: the space it cuts and how the source maps into it."""

    index: int | None  # the crop step's position; None: the steps keep the whole image
    space: tuple[int, int]  # size of the image the crop applies to
    scale: tuple[float, float]  # source px -> crop-space px
    window: tuple[int, int, int, int]  # left, top, right, bottom in crop space
    output_scale: tuple[float, float]  # source px -> output px


def _parse_steps(source_size: tuple[int, int], steps: Sequence[dict[str, Any]]) -> _Crop:
    width, height = source_size
    sx = sy = 1.0
    found: _Crop | None = None
    for index, step in enumerate(steps):
        if step.get("op") == "crop":
            if found is not None:
                raise ValueError("the steps crop twice: a size plan's derivation crops at most once")
            box = step["box"]
            left, top, right, bottom = (int(box[key]) for key in ("left", "top", "right", "bottom"))
            if not (0 <= left < right <= width and 0 <= top < bottom <= height):
                raise ValueError(f"crop box {box} is not inside the {width}x{height} image it cuts")
            found = _Crop(index, (width, height), (sx, sy), (left, top, right, bottom), (0.0, 0.0))
            width, height = right - left, bottom - top
        elif step.get("op") == "scale":
            new_width, new_height = int(step["size"]["width"]), int(step["size"]["height"])
            if new_width <= 0 or new_height <= 0:
                raise ValueError(f"scale size {step['size']} must be positive")
            sx, sy = sx * new_width / width, sy * new_height / height
            width, height = new_width, new_height
        else:
            raise ValueError(f"unknown derivation step {step.get('op')!r}")
    if found is None:
        return _Crop(None, source_size, (1.0, 1.0), (0, 0, *source_size), (sx, sy))
    return _Crop(found.index, found.space, found.scale, found.window, (sx, sy))


def _to_space(box: LineBox, crop: _Crop) -> tuple[int, int, int, int]:
    """A line box in crop-space pixels, rounded outwards and clipped to the image."""
    sx, sy = crop.scale
    width, height = crop.space
    return (
        max(0, math.floor(box.left * sx + _EPSILON)),
        max(0, math.floor(box.top * sy + _EPSILON)),
        min(width, math.ceil((box.left + box.width) * sx - _EPSILON)),
        min(height, math.ceil((box.top + box.height) * sy - _EPSILON)),
    )


def _to_source(window: tuple[int, int, int, int], crop: _Crop) -> dict[str, int]:
    sx, sy = crop.scale
    left, top, right, bottom = window
    return {
        "left": math.floor(left / sx + _EPSILON),
        "top": math.floor(top / sy + _EPSILON),
        "right": math.ceil(right / sx - _EPSILON),
        "bottom": math.ceil(bottom / sy - _EPSILON),
    }


def _window_dict(window: tuple[int, int, int, int]) -> dict[str, int]:
    return dict(zip(("left", "top", "right", "bottom"), window, strict=True))


def _inside(box: tuple[int, int, int, int], window: tuple[int, int, int, int]) -> bool:
    return window[0] <= box[0] and window[1] <= box[1] and box[2] <= window[2] and box[3] <= window[3]


def _kept_share(box: tuple[int, int, int, int], window: tuple[int, int, int, int]) -> float:
    width = max(0, min(box[2], window[2]) - max(box[0], window[0]))
    height = max(0, min(box[3], window[3]) - max(box[1], window[1]))
    area = (box[2] - box[0]) * (box[3] - box[1])
    return width * height / area if area else 0.0


def _place_axis(
    *,
    start: int,
    length: int,
    extent: int,
    spans: Sequence[tuple[int, int]],
    margins: Sequence[int],
    focal: float | None,
) -> tuple[int, bool] | None:
    """The window's new start on one axis, and whether the focal point is inside; None: the lines do not fit.

    Tiers, best first: lines with margins and the focal point; lines and the focal point; lines with margins;
    bare lines. In the first tier that allows any start, the one nearest the original start wins.
    """

    def allowed(margined: bool, with_focal: bool) -> tuple[int, int] | None:
        pad = margins if margined else [0] * len(spans)
        need_low = max(0, min(low - m for (low, _), m in zip(spans, pad, strict=True)))
        need_high = min(extent, max(high + m for (_, high), m in zip(spans, pad, strict=True)))
        lowest, highest = max(0, need_high - length), min(extent - length, need_low)
        if with_focal:
            lowest, highest = max(lowest, math.ceil(focal - length)), min(highest, math.floor(focal))
        return (lowest, highest) if lowest <= highest else None

    tiers = [(True, True), (False, True)] if focal is not None else []
    for margined, with_focal in [*tiers, (True, False), (False, False)]:
        if (bounds := allowed(margined, with_focal)) is not None:
            return min(max(start, bounds[0]), bounds[1]), with_focal
    return None


def recut_steps(steps: list[dict[str, Any]], window: dict[str, int]) -> list[dict[str, Any]]:
    """`steps` with its crop step's box replaced by `window`, which must have the same size (the scale stays exact)."""
    crops = [index for index, step in enumerate(steps) if step.get("op") == "crop"]
    if len(crops) != 1:
        raise ValueError(f"the steps have {len(crops)} crop steps: a window replaces exactly one")
    old = steps[crops[0]]["box"]
    if (window["right"] - window["left"], window["bottom"] - window["top"]) != (
        old["right"] - old["left"],
        old["bottom"] - old["top"],
    ):
        raise ValueError(f"window {window} is not the size of the crop box {old} it replaces")
    box = {key: int(window[key]) for key in ("left", "top", "right", "bottom")}
    return [({"op": "crop", "box": box} if index == crops[0] else dict(step)) for index, step in enumerate(steps)]


def fill_steps(
    *, source_size: tuple[int, int], target: tuple[int, int], focal: tuple[float, float] | None
) -> list[dict[str, Any]]:
    """The steps of a placement rendition rendered from the original (`Renderer`, a `fill-WxH` spec).

    A focal-point change deletes a version's placement renditions and renders them again this way (around the
    focal point, not with the size plan's centred steps), so this is the window to check after one.
    """
    box = fill_box(source_size, target, focal=focal)
    crop = (
        []
        if (box.width, box.height) == source_size
        else [{"op": "crop", "box": _window_dict((box.left, box.top, box.right, box.bottom))}]
    )
    scale = (
        []
        if (box.width, box.height) == target
        else [{"op": "scale", "size": {"width": target[0], "height": target[1]}}]
    )
    return crop + scale


def crop_fit(
    *,
    source_size: tuple[int, int],
    steps: list[dict[str, Any]],
    boxes: Sequence[LineBox],
    focal: tuple[float, float] | None,
    min_text_height: int,
    placement: str,
) -> CropFit:
    """Check (and if needed move) one placement's crop window against the copy's line boxes.

    `steps`: the placement's derivation steps as the size plan stores them (`size_plan["placements"][i]["steps"]`).
    `focal`: the version's focal point as fractions of width and height, or None. Raises ValueError for steps
    that are not a size plan's (two crops, an unknown op, a crop outside its image) or a focal point outside 0..1.
    """
    if source_size[0] <= 0 or source_size[1] <= 0:
        raise ValueError(f"source size {source_size} must be positive")
    if focal is not None and not all(0 <= value <= 1 for value in focal):
        raise ValueError(f"focal point {focal} must be fractions from 0 to 1")
    crop = _parse_steps(source_size, steps)
    # A degenerate box (no width or height) is OCR noise, not a line of copy.
    lines = [box for box in boxes if box.width > 0 and box.height > 0]
    spans = [_to_space(box, crop) for box in lines]
    window = crop.window
    cut = [(box, span) for box, span in zip(lines, spans, strict=True) if not _inside(span, window)]
    text_height = round(min(box.height for box in lines) * crop.output_scale[1]) if lines else None
    common = {
        "placement": placement,
        "original_box": _to_source(window, crop),
        "cut_boxes": tuple(box for box, _ in cut),
        "cut_shares": tuple(_kept_share(span, window) for _, span in cut),
        "text_height": text_height,
        "min_text_height": min_text_height,
        "window": _window_dict(window),
        "lines": len(lines),
        "focal": None if focal is None else (float(focal[0]), float(focal[1])),
    }
    too_small = text_height is not None and text_height < min_text_height
    if not cut:
        verdict = CropVerdict.TOO_SMALL if too_small else CropVerdict.OK
        return CropFit(verdict=verdict, steps=[dict(step) for step in steps], adjusted_box=None, **common)

    sx, sy = crop.scale
    margins_x = [max(MIN_MARGIN_PX, math.ceil(MARGIN_SHARE * box.height * sx)) for box in lines]
    margins_y = [max(MIN_MARGIN_PX, math.ceil(MARGIN_SHARE * box.height * sy)) for box in lines]
    width, height = window[2] - window[0], window[3] - window[1]
    space_width, space_height = crop.space
    across = _place_axis(
        start=window[0],
        length=width,
        extent=space_width,
        spans=[(span[0], span[2]) for span in spans],
        margins=margins_x,
        focal=None if focal is None else focal[0] * space_width,
    )
    down = _place_axis(
        start=window[1],
        length=height,
        extent=space_height,
        spans=[(span[1], span[3]) for span in spans],
        margins=margins_y,
        focal=None if focal is None else focal[1] * space_height,
    )
    if across is None or down is None:
        return CropFit(verdict=CropVerdict.CUT, steps=[dict(step) for step in steps], adjusted_box=None, **common)
    (left, kept_x), (top, kept_y) = across, down
    moved = (left, top, left + width, top + height)
    return CropFit(
        verdict=CropVerdict.TOO_SMALL if too_small else CropVerdict.ADJUSTED,
        steps=recut_steps(steps, _window_dict(moved)),
        adjusted_box=_to_source(moved, crop),
        adjusted_window=_window_dict(moved),
        focal_kept=None if focal is None else kept_x and kept_y,
        **common,
    )


def _box_key(box: LineBox) -> tuple[int, int, int, int]:
    return (box.left, box.top, box.width, box.height)


def crop_evidence_png(image: Image.Image, *, fit: CropFit, boxes: Sequence[LineBox]) -> bytes:
    """The source with the original window (red), the moved one (green) and the copy's lines (blue; cut: orange)."""
    canvas = image.convert("RGB")
    draw = ImageDraw.Draw(canvas)
    stroke = max(2, round(min(canvas.size) / 300))
    cut = {_box_key(box) for box in fit.cut_boxes}
    for box in (box for box in boxes if box.width > 0 and box.height > 0):
        colour = CUT_LINE_COLOUR if _box_key(box) in cut else LINE_COLOUR
        draw.rectangle(
            (box.left, box.top, box.left + box.width - 1, box.top + box.height - 1), outline=colour, width=stroke
        )
    for outline, colour in ((fit.original_box, ORIGINAL_COLOUR), (fit.adjusted_box, ADJUSTED_COLOUR)):
        if outline is not None:
            draw.rectangle(
                (outline["left"], outline["top"], outline["right"] - 1, outline["bottom"] - 1),
                outline=colour,
                width=stroke,
            )
    buffer = io.BytesIO()
    canvas.save(buffer, format="PNG", optimize=False)
    return buffer.getvalue()
