"""The two imaging engines a rendition can use, behind one small interface.

Both take the same decisions from `dam.renditions.geometry` and differ only in how fast
they decode, crop, scale and encode. Which engine does which operation is chosen by
measurement (`bench/renditions.py`), see `dam.renditions.pipeline.OPERATION_ENGINES`.

Images are handed between engines as raw 8-bit RGB or RGBA pixels. Decoding normalises
every source to that (orientation applied, no metadata carried along), so a rendition never
inherits anything from its source but pixels.
"""

from __future__ import annotations

import io
import logging
from dataclasses import dataclass
from functools import cache
from typing import Any, Protocol

from PIL import Image, ImageOps, PngImagePlugin

from dam.formats import AVIF_SPEED, FORMATS, PNG_COMPRESSION, WEBP_METHOD
from dam.imaging import WHITE, pillow_save
from dam.renditions.geometry import Box

# What the renderer accepts as a source: the formats the library stores, nothing Pillow merely can open.
DECODABLE = tuple(f.pil_format for f in FORMATS.values())
AVIF_THREADS: int | None = None  # Pillow's AVIF encoder threads; None: libavif's default (one per core)


class EngineUnavailable(RuntimeError):
    pass


@dataclass(frozen=True)
class Pixels:
    data: bytes
    width: int
    height: int
    bands: int  # 3 (RGB) or 4 (RGBA)


class Engine(Protocol):
    name: str

    def decode(self, data: bytes) -> Any: ...
    def dimensions(self, image: Any) -> tuple[int, int]: ...
    def crop(self, image: Any, box: Box) -> Any: ...
    def resize(self, image: Any, size: tuple[int, int]) -> Any: ...
    def encode(self, image: Any, *, image_format: str, quality: int | None, xmp: bytes | None = None) -> bytes: ...
    def to_pixels(self, image: Any) -> Pixels: ...
    def from_pixels(self, pixels: Pixels) -> Any: ...


class PillowEngine:
    name = "pillow"

    def decode(self, data: bytes) -> Image.Image:
        with Image.open(io.BytesIO(data), formats=DECODABLE) as opened:
            opened.load()
            image = ImageOps.exif_transpose(opened)
        if image.mode not in ("RGB", "RGBA"):
            has_alpha = image.mode in ("LA", "PA", "La") or (image.mode == "P" and "transparency" in image.info)
            image = image.convert("RGBA" if has_alpha else "RGB")
        image.info = {}
        return image

    def dimensions(self, image: Image.Image) -> tuple[int, int]:
        return image.size

    def crop(self, image: Image.Image, box: Box) -> Image.Image:
        return image.crop((box.left, box.top, box.right, box.bottom))

    def resize(self, image: Image.Image, size: tuple[int, int]) -> Image.Image:
        if image.size == size:
            return image
        # reducing_gap: a box reduction first, then Lanczos over the last factor of 3;
        # indistinguishable from plain Lanczos on downscales, several times faster.
        return image.resize(size, Image.Resampling.LANCZOS, reducing_gap=3.0)

    def encode(self, image: Image.Image, *, image_format: str, quality: int | None, xmp: bytes | None = None) -> bytes:
        options: dict[str, Any] = {}
        if image_format == "avif" and AVIF_THREADS:
            options["max_threads"] = AVIF_THREADS
        if xmp:
            if image_format == "png":
                info = PngImagePlugin.PngInfo()
                info.add_itxt("XML:com.adobe.xmp", xmp.decode("utf-8"))
                options["pnginfo"] = info
            else:
                options["xmp"] = xmp
        return pillow_save(image, image_format=image_format, quality=quality, **options)

    def to_pixels(self, image: Image.Image) -> Pixels:
        return Pixels(image.tobytes(), image.width, image.height, len(image.getbands()))

    def from_pixels(self, pixels: Pixels) -> Image.Image:
        mode = "RGBA" if pixels.bands == 4 else "RGB"
        return Image.frombytes(mode, (pixels.width, pixels.height), pixels.data)


@cache
def _pyvips() -> Any:
    try:
        import pyvips
    except (ImportError, OSError) as error:  # OSError: the pyvips package is there, libvips is not
        raise EngineUnavailable(f"pyvips/libvips is not available: {error}") from error
    return pyvips


# Metadata a decoded source may carry; dropped so encoders write none of it.
_VIPS_METADATA_PREFIXES = ("exif-", "xmp-", "iptc-", "icc-", "png-comment", "heif-", "orientation", "gif-", "webp-")


class VipsEngine:
    name = "pyvips"

    def __init__(self) -> None:
        self.vips = _pyvips()
        # libvips reports every resize's kernel at INFO; keep warnings and errors only.
        logging.getLogger("pyvips").setLevel(logging.WARNING)
        # The operation cache only helps repeated identical calls; here it would pin decoded 4K
        # sources in a long-lived worker's memory.
        self.vips.cache_set_max(0)

    def decode(self, data: bytes) -> Any:
        image = self.vips.Image.new_from_buffer(data, "", access="random")
        if image.get_typeof("orientation"):
            image = image.autorot()
        if image.interpretation not in ("srgb", "b-w") or image.format != "uchar":
            image = image.colourspace("srgb")
        if image.bands in (1, 2):
            image = image.colourspace("srgb")
        image = image.cast("uchar").copy()
        for field in image.get_fields():
            if field.startswith(_VIPS_METADATA_PREFIXES):
                image.remove(field)
        # libvips is lazy: materialise once so several renditions reuse one decode.
        return image.copy_memory()

    def dimensions(self, image: Any) -> tuple[int, int]:
        return image.width, image.height

    def crop(self, image: Any, box: Box) -> Any:
        return image.crop(box.left, box.top, box.width, box.height)

    def resize(self, image: Any, size: tuple[int, int]) -> Any:
        width, height = size
        if (image.width, image.height) == size:
            return image
        alpha = image.hasalpha()
        working = image.premultiply() if alpha else image
        x_shrink, y_shrink = image.width / width, image.height / height
        if x_shrink >= 1 and y_shrink >= 1:
            # reduce (Lanczos over the whole factor), not resize: libvips 8.14's resize adds an
            # integer box shrink above a factor of 4 that measured 5-10x slower than this.
            resized = working.reduce(x_shrink, y_shrink, kernel="lanczos3")
        else:
            resized = working.resize(width / image.width, vscale=height / image.height, kernel="lanczos3")
        if (resized.width, resized.height) != size:
            # Rounding of the scale factor can leave one pixel over; never under (scale is exact division).
            resized = resized.crop(0, 0, min(width, resized.width), min(height, resized.height))
            if (resized.width, resized.height) != size:
                resized = resized.embed(0, 0, width, height, extend="copy")
        if alpha:
            resized = resized.unpremultiply()
        return resized.cast("uchar")

    def encode(self, image: Any, *, image_format: str, quality: int | None, xmp: bytes | None = None) -> bytes:
        if image_format == "jpeg" and image.hasalpha():
            image = image.flatten(background=list(WHITE))
        # Compute the lazy crop/scale pipeline once into memory: some savers (heifsave) read
        # their input more than once, which would recompute the whole scale each time.
        image = image.cast("uchar").copy_memory()
        if xmp:
            image = image.copy()
            image.set_type(self.vips.GValue.blob_type, "xmp-data", xmp)
        # strip: libvips would otherwise synthesise a small EXIF block (resolution, orientation).
        # In libvips 8.14 it also drops XMP, so only AVIF, whose XMP the encoder must write, keeps
        # that minimal block; XMP goes into the other formats after encoding (dam.xmp).
        if image_format == "jpeg":
            return image.write_to_buffer(".jpg", Q=quality, optimize_coding=True, interlace=True, strip=True)
        if image_format == "webp":
            return image.write_to_buffer(".webp", Q=quality, effort=WEBP_METHOD, strip=True)
        if image_format == "avif":
            return image.write_to_buffer(".avif", Q=quality, effort=9 - AVIF_SPEED, compression="av1", strip=not xmp)
        # Adaptive row filters, as Pillow uses: libvips' default (none) is faster but 15-20% larger.
        return image.write_to_buffer(".png", compression=PNG_COMPRESSION, filter="all", strip=True)

    def to_pixels(self, image: Any) -> Pixels:
        return Pixels(image.write_to_memory(), image.width, image.height, image.bands)

    def from_pixels(self, pixels: Pixels) -> Any:
        return self.vips.Image.new_from_memory(pixels.data, pixels.width, pixels.height, pixels.bands, "uchar")


@cache
def engine(name: str) -> Engine:
    if name == PillowEngine.name:
        return PillowEngine()
    if name == VipsEngine.name:
        return VipsEngine()
    raise ValueError(f"unknown imaging engine {name!r}")
