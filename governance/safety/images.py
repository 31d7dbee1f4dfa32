"""Getting an image within the Content Safety image API's limits before it is scanned.

The service takes at most 2048x2048 pixels and 4 MB (and at least 50x50). Larger images are scaled
down uniformly (what a classifier sees is the whole picture, never a crop); an image still over 4 MB
after that is re-encoded as JPEG at falling quality until it fits.
"""

from __future__ import annotations

import io

from PIL import Image

from governance.safety.backends.base import ModerationError

MAX_EDGE = 2048
MIN_EDGE = 50
MAX_BYTES = 4 * 1024 * 1024


def prepare_for_scan(data: bytes) -> bytes:
    """The bytes to send: the original when it already fits, else a downscaled re-encoding."""
    try:
        image = Image.open(io.BytesIO(data))
        image.load()
    except Exception as exc:  # Pillow raises many types for undecodable input
        raise ModerationError(f"the image cannot be decoded for scanning: {exc}") from None
    fits = max(image.size) <= MAX_EDGE and min(image.size) >= MIN_EDGE
    if fits and len(data) <= MAX_BYTES:
        return data
    if max(image.size) > MAX_EDGE:
        image.thumbnail((MAX_EDGE, MAX_EDGE), Image.Resampling.LANCZOS)
    if min(image.size) < MIN_EDGE:
        scale = MIN_EDGE / min(image.size)
        image = image.resize((max(MIN_EDGE, round(image.width * scale)), max(MIN_EDGE, round(image.height * scale))))
    encoded = _encode(image, "PNG")
    quality = 90
    while len(encoded) > MAX_BYTES and quality >= 30:
        encoded = _encode(image.convert("RGB"), "JPEG", quality=quality)
        quality -= 15
    if len(encoded) > MAX_BYTES:
        raise ModerationError("the image does not fit the scanner's 4 MB limit even after re-encoding")
    return encoded


def _encode(image: Image.Image, image_format: str, **options) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format=image_format, **options)
    return buffer.getvalue()
