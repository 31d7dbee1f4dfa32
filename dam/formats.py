"""The image formats of the library, in one table, and what a file is from its first bytes.

`FORMATS` holds every fact about a format that code needs (content type, Pillow name, file
extension, whether uploads, generation and lossy quality apply, encoder options); nothing
else spells them out. A file's format comes from its bytes, never its name or a Content-Type.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any


@dataclass(frozen=True)
class FormatInfo:
    """Everything the platform knows about one image format: the one table the rest reads."""

    name: str  # our word for it: AssetVersion.format, Rendition.format, `format-<name>` in a spec
    label: str  # for people (the model's choice label)
    content_type: str  # the only Content-Type its bytes are ever served with
    pil_format: str  # Pillow's format name, for Image.open(formats=...) and Image.save(format=...)
    extension: str  # of a stored blob's key and a delivery URL's file name
    uploadable: bool  # an upload in this format is accepted (sniffed from the bytes, dam.services.uploads)
    generated: bool  # gpt-image-2 can return it: a job's output_format may name it
    lossy: bool  # a rendition spec may carry `quality-N`
    default_quality: int | None  # a lossy rendition's quality when the spec names none
    # Pillow's save options beside quality, shared by every Pillow encoder (renditions, derived
    # placement cuts, thumbnails, uploads); libvips is given the same effort figures.
    pillow_options: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        object.__setattr__(self, "pillow_options", MappingProxyType(dict(self.pillow_options)))


PNG_COMPRESSION = 6  # zlib level
WEBP_METHOD = 4  # libwebp's method/effort 0..6
AVIF_SPEED = 6  # libavif's speed (0 slowest .. 10 fastest); libvips calls it effort = 9 - speed

# The formats the library stores (and the renderer decodes), in the order the API lists them.
FORMATS: Mapping[str, FormatInfo] = MappingProxyType(
    {
        f.name: f
        for f in (
            FormatInfo(
                name="png",
                label="PNG",
                content_type="image/png",
                pil_format="PNG",
                extension="png",
                uploadable=True,
                generated=True,
                lossy=False,
                default_quality=None,
                pillow_options={"compress_level": PNG_COMPRESSION},
            ),
            FormatInfo(
                name="jpeg",
                label="JPEG",
                content_type="image/jpeg",
                pil_format="JPEG",
                extension="jpg",
                uploadable=True,
                generated=True,
                lossy=True,
                default_quality=85,
                pillow_options={"optimize": True, "progressive": True},
            ),
            FormatInfo(
                name="webp",
                label="WebP",
                content_type="image/webp",
                pil_format="WEBP",
                extension="webp",
                uploadable=True,
                generated=True,
                lossy=True,
                default_quality=80,
                pillow_options={"method": WEBP_METHOD},
            ),
            FormatInfo(
                name="avif",
                label="AVIF",
                content_type="image/avif",
                pil_format="AVIF",
                extension="avif",
                # Stored only as renditions: uploads take PNG, JPEG and WebP (docs/library.md), never AVIF.
                uploadable=False,
                generated=False,
                lossy=True,
                default_quality=60,
                pillow_options={"speed": AVIF_SPEED},
            ),
        )
    }
)
STORED_FORMATS = tuple(FORMATS)
UPLOAD_FORMATS = tuple(name for name, f in FORMATS.items() if f.uploadable)
GENERATED_FORMATS = tuple(name for name, f in FORMATS.items() if f.generated)
LOSSY_FORMATS = frozenset(name for name, f in FORMATS.items() if f.lossy)


def labels(names: tuple[str, ...] | None = None) -> str:
    """'PNG, JPEG, WebP or AVIF': the formats named for people, in the table's order."""
    words = [f.label for name, f in FORMATS.items() if names is None or name in names]
    return " or ".join([", ".join(words[:-1]), words[-1]]) if len(words) > 1 else "".join(words)


_AVIF_BRANDS = (b"avif", b"avis")


def sniff_format(data: bytes) -> str | None:
    """'png', 'jpeg', 'webp' or 'avif' when the bytes start like one; None otherwise."""
    head = data[:32]
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "png"
    if head.startswith(b"\xff\xd8\xff"):
        return "jpeg"
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "webp"
    if head[4:8] == b"ftyp" and head[8:12] in _AVIF_BRANDS:
        return "avif"
    return None


def describe_refused(data: bytes) -> str:
    """A name for what a refused file looks like, for the error message."""
    head = data[:1024].lstrip(b"\xef\xbb\xbf \t\r\n").lower()
    if head.startswith((b"gif87a", b"gif89a")):
        return "GIF"
    if head.startswith((b"%!ps", b"\xc5\xd0\xd3\xc6")):
        return "EPS/PostScript"
    if head.startswith(b"%pdf"):
        return "PDF"
    if b"<svg" in head or (head.startswith(b"<?xml") and b"svg" in head):
        return "SVG"
    if head.startswith((b"<!doctype html", b"<html", b"<script")):
        return "HTML"
    if head.startswith((b"ii*\x00", b"mm\x00*")):
        return "TIFF"
    if head.startswith(b"bm"):
        return "BMP"
    if head[4:8] == b"ftyp":
        return "HEIF/ISO media"
    return "an unknown type"
