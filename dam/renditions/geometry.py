"""Pure geometry of a rendition: which box of the source to keep and what size to scale it to.

Kept apart from any imaging library so both engines cut exactly the same pixels and the
rules can be tested as properties.
"""

from __future__ import annotations

from dataclasses import dataclass

from dam.renditions.spec import FilterSpec

CENTRE = (0.5, 0.5)


@dataclass(frozen=True)
class Box:
    left: int
    top: int
    right: int
    bottom: int

    @property
    def width(self) -> int:
        return self.right - self.left

    @property
    def height(self) -> int:
        return self.bottom - self.top


@dataclass(frozen=True)
class Plan:
    """Crop `box` (None: keep everything), then scale to `size` (equal to the box size: no scaling)."""

    box: Box | None
    size: tuple[int, int]


def _scaled(length: int, factor: float) -> int:
    return max(1, round(length * factor))


def fill_box(
    source: tuple[int, int], target: tuple[int, int], *, focal: tuple[float, float] | None = None, closeness: int = 0
) -> Box:
    """The crop of `source` with the aspect of `target`, as close to the focal point as the image allows.

    Closeness 0 keeps the largest crop of that aspect; 100 the smallest one that still needs
    no enlargement (the target's own pixels, or the largest crop if the source is smaller).
    The window is centred on the focal point and pushed back inside the image at the edges,
    so the focal point is always inside the crop.
    """
    src_w, src_h = source
    dst_w, dst_h = target
    aspect = dst_w / dst_h
    max_w = src_h * aspect if src_w / src_h > aspect else float(src_w)
    min_w = min(float(dst_w), max_w)
    crop_w = max_w - (max_w - min_w) * closeness / 100
    crop_h = crop_w / aspect
    width = min(src_w, max(1, round(crop_w)))
    height = min(src_h, max(1, round(crop_h)))
    fx, fy = focal or CENTRE
    left = min(max(round(fx * src_w - width / 2), 0), src_w - width)
    top = min(max(round(fy * src_h - height / 2), 0), src_h - height)
    return Box(left, top, left + width, top + height)


def plan_for(spec: FilterSpec, source: tuple[int, int], *, focal: tuple[float, float] | None = None) -> Plan:
    src_w, src_h = source
    if spec.operation == "fill":
        target = (spec.width, spec.height)
        box = fill_box(source, target, focal=focal, closeness=spec.closeness)  # type: ignore[arg-type]
        if (box.left, box.top, box.width, box.height) == (0, 0, src_w, src_h):
            box = None
        return Plan(box, target)  # type: ignore[arg-type]
    factor = 1.0
    if spec.operation == "width":
        factor = spec.width / src_w  # type: ignore[operator]
    elif spec.operation == "height":
        factor = spec.height / src_h  # type: ignore[operator]
    elif spec.operation == "max":
        factor = min(spec.width / src_w, spec.height / src_h)  # type: ignore[operator]
    elif spec.operation == "min":
        factor = max(spec.width / src_w, spec.height / src_h)  # type: ignore[operator]
    if factor >= 1:
        return Plan(None, source)  # never enlarge: the source is already small enough
    return Plan(None, (_scaled(src_w, factor), _scaled(src_h, factor)))
