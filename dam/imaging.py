"""Decoding, deriving and encoding images (Pillow).

Decoding keeps Pillow's decompression-bomb guard on: an image over the limit is an error.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from typing import Any

from PIL import Image, ImageOps

from dam.formats import FORMATS

WHITE = (255, 255, 255)


@dataclass(frozen=True)
class EncodedImage:
    """Encoded bytes and what they are: a rendition, a placement cut, a thumbnail, a sanitised upload."""

    data: bytes
    width: int
    height: int
    format: str  # a name in dam.formats.FORMATS


def open_image(data: bytes) -> Image.Image:
    image = Image.open(io.BytesIO(data))
    image.load()
    return image


def pillow_save(image: Image.Image, *, image_format: str, quality: int | None = None, **options: Any) -> bytes:
    """Pillow's encoding of `image` with the format table's options; `options` add to or override them.

    Every Pillow encoder of the library goes through here (renditions, placement cuts, thumbnails, uploads),
    so one format is encoded one way. A lossy format without `quality` gets the table's default.
    """
    stored = FORMATS[image_format]
    if image_format == "jpeg" and image.mode not in ("RGB", "L"):
        image = flatten_on_white(image)
    settings: dict[str, Any] = dict(stored.pillow_options)
    if stored.lossy:
        settings["quality"] = stored.default_quality if quality is None else quality
    buffer = io.BytesIO()
    image.save(buffer, format=stored.pil_format, **(settings | options))
    return buffer.getvalue()


def encode(image: Image.Image, *, image_format: str, quality: int | None = None) -> EncodedImage:
    return EncodedImage(pillow_save(image, image_format=image_format, quality=quality), *image.size, image_format)


def flatten_on_white(image: Image.Image) -> Image.Image:
    """JPEG has no alpha: composite on white rather than letting transparent pixels turn black."""
    rgba = image.convert("RGBA")
    background = Image.new("RGB", rgba.size, WHITE)
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
