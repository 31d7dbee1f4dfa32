"""Decoding, deriving and encoding images (Pillow).

Decoding keeps Pillow's decompression-bomb guard on: an image over the limit is an error.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from typing import Any

from PIL import Image, ImageOps

PIL_FORMATS = {"png": "PNG", "jpeg": "JPEG", "webp": "WEBP", "avif": "AVIF"}


@dataclass(frozen=True)
class EncodedImage:
    data: bytes
    width: int
    height: int
    format: str


def open_image(data: bytes) -> Image.Image:
    image = Image.open(io.BytesIO(data))
    image.load()
    return image


def encode(image: Image.Image, *, image_format: str, quality: int | None = None) -> EncodedImage:
    buffer = io.BytesIO()
    options: dict[str, Any] = {}
    if image_format in ("jpeg", "webp", "avif"):
        options["quality"] = quality if quality is not None else 85
    if image_format == "jpeg":
        options["optimize"] = True
        options["progressive"] = True
        if image.mode not in ("RGB", "L"):
            image = _flatten(image)
    elif image_format == "png":
        options["compress_level"] = 6
    image.save(buffer, format=PIL_FORMATS[image_format], **options)
    return EncodedImage(buffer.getvalue(), image.width, image.height, image_format)


def _flatten(image: Image.Image) -> Image.Image:
    """JPEG has no alpha: composite on white rather than letting transparent pixels turn black."""
    rgba = image.convert("RGBA")
    background = Image.new("RGB", rgba.size, (255, 255, 255))
    background.paste(rgba, mask=rgba.getchannel("A"))
    return background


def apply_steps(image: Image.Image, steps: list[dict[str, Any]]) -> Image.Image:
    """Replay a size plan's derivation steps (crop boxes and uniform scales) exactly."""
    for step in steps:
        if step["op"] == "crop":
            box = step["box"]
            image = image.crop((box["left"], box["top"], box["right"], box["bottom"]))
        elif step["op"] == "scale":
            size = step["size"]
            image = image.resize((size["width"], size["height"]), Image.Resampling.LANCZOS)
        else:
            raise ValueError(f"unknown derivation step {step['op']!r}")
    return image


def derive(
    source: bytes, steps: list[dict[str, Any]], *, image_format: str, quality: int | None = None
) -> EncodedImage:
    image = ImageOps.exif_transpose(open_image(source))
    return encode(apply_steps(image, steps), image_format=image_format, quality=quality)


def resize_exact(source: bytes, *, width: int, height: int, image_format: str = "png") -> EncodedImage:
    """Fit an edit's input to the planned generation size (centre crop to the aspect, then scale)."""
    image = ImageOps.fit(open_image(source), (width, height), Image.Resampling.LANCZOS)
    return encode(image, image_format=image_format)
