"""Rendering a filter spec: decode once, then crop, scale and encode each rendition.

Each operation runs on the engine that measured faster on 4K sources
(`bench/renditions.py`; figures in the library notes). Pixels cross from one engine to
the other only where consecutive operations choose different engines.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from dam.formats import labels, sniff_format
from dam.imaging import EncodedImage
from dam.renditions.engines import Engine, EngineUnavailable, engine
from dam.renditions.geometry import plan_for
from dam.renditions.spec import FilterSpec
from dam.xmp import embed_xmp

logger = logging.getLogger(__name__)

# Chosen by `python bench/renditions.py` (3840x2160 sources, the preset set; figures in the
# library notes); rerun it after upgrading Pillow or libvips and update this table if the
# winner changes. libvips decodes, crops and scales 1.1-5x faster and encodes PNG faster;
# Pillow's libjpeg-turbo encodes JPEG faster; WebP measured within noise (a tie stays with
# libvips, which holds the pixels); libvips' AVIF at the same quality makes files a third
# smaller, a different trade-off, so AVIF stays with Pillow and `quality-N` means one thing.
OPERATION_ENGINES: dict[str, str] = {
    "decode": "pyvips",
    "crop": "pyvips",
    "resize": "pyvips",
    "encode:png": "pyvips",
    "encode:jpeg": "pillow",
    "encode:webp": "pyvips",
    "encode:avif": "pillow",
}
OPERATIONS = tuple(OPERATION_ENGINES)


class SourceUnreadable(ValueError):
    pass


@dataclass
class DecodedSource:
    image: Any
    engine: Engine
    width: int
    height: int
    format: str


class Renderer:
    def __init__(self, choices: Mapping[str, str] | None = None) -> None:
        self.choices = dict(OPERATION_ENGINES if choices is None else choices)

    def _engine(self, operation: str) -> Engine:
        name = self.choices[operation]
        try:
            return engine(name)
        except EngineUnavailable:
            # Without libvips the platform still works, only slower; say so once per process.
            if name != "pillow":
                logger.warning("imaging engine %s unavailable for %s; using pillow", name, operation)
                self.choices[operation] = "pillow"
            return engine("pillow")

    @staticmethod
    def _move(image: Any, source: Engine, target: Engine) -> Any:
        return image if source is target else target.from_pixels(source.to_pixels(image))

    def decode(self, data: bytes) -> DecodedSource:
        image_format = sniff_format(data)
        if image_format is None:
            raise SourceUnreadable(f"the source is not a {labels()} image")
        decoder = self._engine("decode")
        image = decoder.decode(data)
        width, height = decoder.dimensions(image)
        return DecodedSource(image, decoder, width, height, image_format)

    def render(
        self, source: DecodedSource, spec: FilterSpec, *, focal: tuple[float, float] | None, xmp: bytes | None
    ) -> EncodedImage:
        plan = plan_for(spec, (source.width, source.height), focal=focal)
        image, current = source.image, source.engine
        if plan.box is not None:
            cropper = self._engine("crop")
            image, current = cropper.crop(self._move(image, current, cropper), plan.box), cropper
        if plan.size != current.dimensions(image):
            resizer = self._engine("resize")
            image, current = resizer.resize(self._move(image, current, resizer), plan.size), resizer
        image_format = spec.output_format(source.format)
        encoder = self._engine(f"encode:{image_format}")
        image = self._move(image, current, encoder)
        quality = spec.output_quality(source.format)
        if image_format == "avif":
            data = encoder.encode(image, image_format=image_format, quality=quality, xmp=xmp)
        else:
            data = encoder.encode(image, image_format=image_format, quality=quality)
            if xmp:
                data = embed_xmp(data, image_format, xmp)
        width, height = encoder.dimensions(image)
        return EncodedImage(data, width, height, image_format)


def render_spec(
    data: bytes, spec: FilterSpec, *, focal: tuple[float, float] | None = None, xmp: bytes | None = None
) -> EncodedImage:
    renderer = Renderer()
    return renderer.render(renderer.decode(data), spec, focal=focal, xmp=xmp)
