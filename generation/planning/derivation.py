"""The exact steps from a generation to a placement: a uniform scale and a centred crop, in a stated order.

The crop removes the aspect difference, so the scale is uniform up to the rounding of one edge; the result is
the placement's size to the pixel. The crop happens in whichever space has more pixels, so its rounding costs
at most half an output pixel:
- the generation covers the placement (factor <= 1): crop the generation, then scale down (`crop_then_scale`);
- it does not (factor > 1, an upscale): scale up, then crop (`scale_then_crop`).
Boxes follow Pillow's `Image.crop` convention (left, top, right, bottom; right and bottom exclusive), so a
worker applies `steps()` with `image.crop(box)` and `image.resize(size, Image.Resampling.LANCZOS)`.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from fractions import Fraction

from generation.sizing import Size


class StepOrder(StrEnum):
    CROP_THEN_SCALE = "crop_then_scale"
    SCALE_THEN_CROP = "scale_then_crop"


@dataclass(frozen=True)
class CropBox:
    left: int
    top: int
    right: int
    bottom: int

    @property
    def size(self) -> Size:
        return Size(self.right - self.left, self.bottom - self.top)

    def as_tuple(self) -> tuple[int, int, int, int]:
        return (self.left, self.top, self.right, self.bottom)

    def to_dict(self) -> dict[str, int]:
        return {"left": self.left, "top": self.top, "right": self.right, "bottom": self.bottom}

    @classmethod
    def from_dict(cls, data: dict) -> CropBox:
        return cls(int(data["left"]), int(data["top"]), int(data["right"]), int(data["bottom"]))


@dataclass(frozen=True)
class PlacementDerivation:
    """How one placement is cut from its group's generation.

    `scale_factor` is the uniform factor (> 1 means upscaling). `aspect_distortion_px` is how far, in output
    pixels, the non-binding edge lands from where a perfectly uniform scale would put it (at most 0.5).
    """

    slug: str
    source: Size
    target: Size
    order: StepOrder
    scale_to: Size
    crop_box: CropBox
    scale_factor: float
    aspect_distortion_px: float

    @property
    def upscaled(self) -> bool:
        return self.scale_factor > 1

    def steps(self) -> list[dict]:
        """The operations in order, no-ops left out (an exact match has none)."""
        cropping_first = self.order == StepOrder.CROP_THEN_SCALE
        crop_from = self.source if cropping_first else self.scale_to
        scale_from = self.crop_box.size if cropping_first else self.source
        crop = [] if self.crop_box.size == crop_from else [{"op": "crop", "box": self.crop_box.to_dict()}]
        scale = [] if scale_from == self.scale_to else [{"op": "scale", "size": self.scale_to.to_dict()}]
        return crop + scale if cropping_first else scale + crop

    def to_dict(self) -> dict:
        return {
            "slug": self.slug,
            "source": self.source.to_dict(),
            "target": self.target.to_dict(),
            "order": str(self.order),
            "scale_to": self.scale_to.to_dict(),
            "crop_box": self.crop_box.to_dict(),
            "scale_factor": self.scale_factor,
            "aspect_distortion_px": self.aspect_distortion_px,
            "steps": self.steps(),
        }

    @classmethod
    def from_dict(cls, data: dict) -> PlacementDerivation:
        # `steps` is a rendering of the fields below, recomputed rather than trusted.
        return cls(
            slug=str(data["slug"]),
            source=Size.from_dict(data["source"]),
            target=Size.from_dict(data["target"]),
            order=StepOrder(data["order"]),
            scale_to=Size.from_dict(data["scale_to"]),
            crop_box=CropBox.from_dict(data["crop_box"]),
            scale_factor=float(data["scale_factor"]),
            aspect_distortion_px=float(data["aspect_distortion_px"]),
        )


def _round_half_up(value: Fraction) -> int:
    return (2 * value.numerator + value.denominator) // (2 * value.denominator)


def _centred(outer: Size, inner: Size) -> CropBox:
    left, top = (outer.width - inner.width) // 2, (outer.height - inner.height) // 2
    return CropBox(left, top, left + inner.width, top + inner.height)


def derive_placement(*, slug: str, source: Size, target: Size) -> PlacementDerivation:
    """The exact scale-and-crop from a generation of size `source` to `target` (any positive size)."""
    # The uniform factor that makes the generation cover the target on both edges; exact rationals so that the
    # binding edge lands on the target exactly and the other edge never rounds below it.
    factor = max(Fraction(target.width, source.width), Fraction(target.height, source.height))
    if factor <= 1:
        if Fraction(target.width, source.width) >= Fraction(target.height, source.height):
            crop = Size(source.width, _round_half_up(Fraction(source.width * target.height, target.width)))
        else:
            crop = Size(_round_half_up(Fraction(source.height * target.width, target.height)), source.height)
        order, scale_to, box = StepOrder.CROP_THEN_SCALE, target, _centred(source, crop)
        fx, fy = Fraction(target.width, crop.width), Fraction(target.height, crop.height)
    else:
        scale_to = Size(_round_half_up(source.width * factor), _round_half_up(source.height * factor))
        order, box = StepOrder.SCALE_THEN_CROP, _centred(scale_to, target)
        fx, fy = Fraction(scale_to.width, source.width), Fraction(scale_to.height, source.height)
    distortion = min(target.width * abs(1 - fy / fx), target.height * abs(1 - fx / fy))
    return PlacementDerivation(
        slug=slug,
        source=source,
        target=target,
        order=order,
        scale_to=scale_to,
        crop_box=box,
        scale_factor=float(factor),
        aspect_distortion_px=round(float(distortion), 6),
    )
