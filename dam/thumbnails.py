"""Preview images for the staff UI, made on demand from stored bytes (never a public URL).

The smallest stored file that still covers the requested width with the original's framing is
the source: a rendition of the same aspect if one exists (cheaper to decode than a 4K
original), else the original. Results are cached by the source's content hash, which never
changes for a stored blob.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.core.cache import cache
from PIL import Image, ImageOps

from dam.blobs import blob_read
from dam.imaging import EncodedImage, encode, open_image
from dam.models import AssetVersion, Rendition

ASPECT_TOLERANCE = 0.01
THUMBNAIL_FORMAT = "webp"
THUMBNAIL_QUALITY = 80
CACHE_SECONDS = 24 * 3600


@dataclass(frozen=True)
class ThumbnailSource:
    storage_key: str
    sha256: str
    width: int
    height: int


def thumbnail_source(*, version: AssetVersion, width: int) -> ThumbnailSource:
    aspect = version.width / version.height
    candidates = [
        r
        for r in version.renditions.all()
        if r.width >= width and abs(r.width / r.height - aspect) <= ASPECT_TOLERANCE * aspect
    ]
    if candidates:
        best = min(candidates, key=lambda r: r.width * r.height)
        if best.width * best.height < version.width * version.height:
            return ThumbnailSource(best.storage_key, best.sha256, best.width, best.height)
    return ThumbnailSource(version.storage_key, version.sha256, version.width, version.height)


def downscale(data: bytes, *, width: int) -> EncodedImage:
    """Fit within `width` (never enlarging), keeping the aspect; WebP keeps transparency."""
    image = open_image(data)
    image = ImageOps.exif_transpose(image)
    if image.mode not in ("RGB", "RGBA"):
        image = image.convert("RGBA" if "A" in image.getbands() or image.mode == "P" else "RGB")
    if image.width > width:
        height = max(1, round(image.height * width / image.width))
        image = image.resize((width, height), Image.Resampling.LANCZOS)
    return encode(image, image_format=THUMBNAIL_FORMAT, quality=THUMBNAIL_QUALITY)


def version_thumbnail(*, version: AssetVersion, width: int) -> tuple[bytes, str]:
    """(WebP bytes, ETag) of the version's preview at most `width` pixels wide."""
    source = thumbnail_source(version=version, width=width)
    etag = f"{source.sha256[:32]}-{width}"
    key = f"ui-thumbnail:{etag}"
    data = cache.get(key)
    if data is None:
        data = downscale(blob_read(source.storage_key), width=width).data
        cache.set(key, data, CACHE_SECONDS)
    return data, etag


def rendition_thumbnail(*, rendition: Rendition, width: int) -> tuple[bytes, str]:
    """(WebP bytes, ETag) of a rendition's preview: a placement's own crop, which the version's preview (the
    original's framing) is not."""
    etag = f"{rendition.sha256[:32]}-{width}"
    key = f"ui-thumbnail:{etag}"
    data = cache.get(key)
    if data is None:
        data = downscale(blob_read(rendition.storage_key), width=width).data
        cache.set(key, data, CACHE_SECONDS)
    return data, etag
