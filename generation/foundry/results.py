"""Typed results of an image call, parsed from the service's JSON and checked against the bytes.

Format and size are what Pillow decodes from the returned bytes, not what was asked for:
the platform plans exact output sizes and must notice when the service did something else.
"""

from __future__ import annotations

import base64
import binascii
import io
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from PIL import Image, UnidentifiedImageError

from dam.formats import FORMATS, GENERATED_FORMATS, labels
from generation.foundry.errors import MalformedResponseError, content_filter_from_output

# Pillow's name of each format the service may return -> ours.
_PIL_FORMATS = {FORMATS[name].pil_format: name for name in GENERATED_FORMATS}


@dataclass(frozen=True)
class Usage:
    text_input_tokens: int = 0
    image_input_tokens: int = 0
    # Cached tokens are part of the input counts above (they are billed at the cached price).
    cached_text_input_tokens: int = 0
    cached_image_input_tokens: int = 0
    output_tokens: int = 0
    total_tokens: int = 0
    # False when the response carried no usage at all (the ledger must then estimate).
    reported: bool = True

    @property
    def input_tokens(self) -> int:
        return self.text_input_tokens + self.image_input_tokens

    @property
    def cached_input_tokens(self) -> int:
        return self.cached_text_input_tokens + self.cached_image_input_tokens

    @classmethod
    def from_payload(cls, raw: Any) -> Usage:
        if not isinstance(raw, Mapping):
            return cls(reported=False)
        details = raw.get("input_tokens_details") or {}
        input_tokens = _int(raw.get("input_tokens"))
        if isinstance(details, Mapping) and ("text_tokens" in details or "image_tokens" in details):
            text, image = _int(details.get("text_tokens")), _int(details.get("image_tokens"))
        else:
            text, image = input_tokens, 0
        cached_text, cached_image = _cached_split(details if isinstance(details, Mapping) else {}, text, image)
        output = _int(raw.get("output_tokens"))
        total = _int(raw.get("total_tokens")) or (text + image + output)
        return cls(
            text_input_tokens=text,
            image_input_tokens=image,
            cached_text_input_tokens=cached_text,
            cached_image_input_tokens=cached_image,
            output_tokens=output,
            total_tokens=total,
        )


def _cached_split(details: Mapping[str, Any], text: int, image: int) -> tuple[int, int]:
    split = details.get("cached_tokens_details")
    if isinstance(split, Mapping):
        return _int(split.get("text_tokens")), _int(split.get("image_tokens"))
    cached = _int(details.get("cached_tokens"))
    if not cached:
        return 0, 0
    # Only a total was reported: split it in proportion to the input it came from, the
    # remainder to image tokens (a re-sent reference image is what mostly gets cached).
    if text + image == 0:
        return cached, 0
    cached_text = min(text, cached * text // (text + image))
    return cached_text, min(image, cached - cached_text)


def _int(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return 0
    return max(0, int(value))


@dataclass(frozen=True)
class ImageOutput:
    data: bytes = field(repr=False)
    format: str  # png | jpeg | webp, as decoded
    width: int
    height: int
    revised_prompt: str | None = None

    @property
    def size(self) -> str:
        return f"{self.width}x{self.height}"

    def __repr__(self) -> str:
        return f"ImageOutput(format={self.format!r}, size={self.size!r}, bytes={len(self.data)})"


@dataclass(frozen=True)
class ImageResult:
    outputs: tuple[ImageOutput, ...]
    usage: Usage
    provider_request_id: str | None
    # Seconds of the successful HTTP exchange, and of the whole call including retries and waits.
    latency_seconds: float
    elapsed_seconds: float
    attempts: int
    created: int | None = None
    # What the service says it did (echoed request parameters); None where it did not say.
    output_format: str | None = None
    size: str | None = None
    quality: str | None = None
    background: str | None = None
    # The deployment's x-ratelimit-* answer headers: what the quota has left, as the service counts it.
    quota_headers: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class ParsedImageResponse:
    outputs: tuple[ImageOutput, ...]
    usage: Usage
    created: int | None
    output_format: str | None
    size: str | None
    quality: str | None
    background: str | None


def parse_image_response(body: bytes, *, provider_request_id: str | None) -> ParsedImageResponse:
    """Parse a 2xx body; raises MalformedResponseError (or ContentFilteredError for withheld images)."""

    def malformed(message: str) -> MalformedResponseError:
        return MalformedResponseError(message, status_code=200, provider_request_id=provider_request_id)

    try:
        payload = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        raise malformed(f"response is not JSON ({len(body)} bytes)") from None
    if not isinstance(payload, dict):
        raise malformed("response JSON is not an object")
    data = payload.get("data")
    if not isinstance(data, list) or not data:
        raise malformed("response has no 'data' list of images")

    outputs = []
    for index, item in enumerate(data):
        if not isinstance(item, dict):
            raise malformed(f"data[{index}] is not an object")
        encoded = item.get("b64_json")
        if not isinstance(encoded, str) or not encoded:
            withheld = content_filter_from_output(item, request_id=provider_request_id)
            if withheld is not None:
                raise withheld
            raise malformed(f"data[{index}] has no b64_json")
        outputs.append(_decode_output(encoded, item, index, malformed))

    return ParsedImageResponse(
        outputs=tuple(outputs),
        usage=Usage.from_payload(payload.get("usage")),
        created=payload.get("created") if isinstance(payload.get("created"), int) else None,
        output_format=_str_or_none(payload.get("output_format")),
        size=_str_or_none(payload.get("size")),
        quality=_str_or_none(payload.get("quality")),
        background=_str_or_none(payload.get("background")),
    )


def _decode_output(encoded: str, item: Mapping[str, Any], index: int, malformed) -> ImageOutput:
    try:
        raw = base64.b64decode(encoded, validate=True)
    except (binascii.Error, ValueError):
        raise malformed(f"data[{index}].b64_json is not valid base64") from None
    try:
        with Image.open(io.BytesIO(raw)) as image:
            pil_format, (width, height) = image.format, image.size
            if pil_format == "JPEG":
                # libjpeg still reads every scan at 1/8 scale (a truncated file fails the same), in half the time.
                image.draft("RGB", (max(1, width // 8), max(1, height // 8)))
            image.load()  # decode fully: a truncated image must fail here, not in a rendition task
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError, Image.DecompressionBombError):
        raise malformed(f"data[{index}] is not a decodable image") from None
    if pil_format not in _PIL_FORMATS:
        raise malformed(f"data[{index}] is {pil_format}, not {labels(GENERATED_FORMATS)}")
    return ImageOutput(
        data=raw,
        format=_PIL_FORMATS[pil_format],
        width=width,
        height=height,
        revised_prompt=_str_or_none(item.get("revised_prompt")),
    )


def _str_or_none(value: Any) -> str | None:
    return value if isinstance(value, str) else None
