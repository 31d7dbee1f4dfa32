"""Request parameters of the image endpoints, validated as the service validates them (same `param` names)."""

from __future__ import annotations

import io
from dataclasses import dataclass, field
from typing import Any

from PIL import Image, UnidentifiedImageError

from generation.emulator.errors import invalid_request
from generation.sizing import parse_size, size_violations

AUTO_SIZE = (1024, 1024)
# The service's `quality=auto` lets the model choose; the emulator chooses high, the most expensive, so
# cost estimates made against it are never optimistic.
AUTO_QUALITY = "high"
QUALITIES = ("low", "medium", "high", "auto")
FORMATS = ("png", "jpeg", "webp")
BACKGROUNDS = ("transparent", "opaque", "auto")
MODERATION = ("auto", "low")
MAX_PROMPT_CHARS = 32_000
MAX_N = 10
MAX_IMAGE_BYTES = 50 * 1024 * 1024
MAX_INPUT_IMAGES = 16


@dataclass
class ImageRequest:
    kind: str  # "generations" | "edits"
    deployment: str
    prompt: str
    n: int
    size: tuple[int, int] | None  # None: auto (1024x1024 for generations, the input's size for edits)
    quality: str
    output_format: str
    output_compression: int | None
    background: str
    moderation: str
    images: list[Image.Image] = field(default_factory=list)
    mask: Image.Image | None = None

    @property
    def resolved_quality(self) -> str:
        return AUTO_QUALITY if self.quality == "auto" else self.quality

    @property
    def transparent(self) -> bool:
        return self.background == "transparent"

    @property
    def output_size(self) -> tuple[int, int]:
        if self.size is not None:
            return self.size
        if self.images:
            return self.images[0].size
        return AUTO_SIZE


def _choice(fields: dict[str, Any], name: str, choices: tuple[str, ...], default: str) -> str:
    value = fields.get(name)
    if value is None or value == "":
        return default
    if not isinstance(value, str) or value not in choices:
        allowed = ", ".join(f"'{c}'" for c in choices)
        raise invalid_request(f"Invalid value: {value!r}. Supported values are: {allowed}.", param=name)
    return value


def _integer(fields: dict[str, Any], name: str, low: int, high: int, default: int | None) -> int | None:
    value = fields.get(name)
    if value is None or value == "":
        return default
    try:
        if isinstance(value, bool) or (isinstance(value, float) and not value.is_integer()):
            raise ValueError
        number = int(value)
    except (TypeError, ValueError):
        raise invalid_request(
            f"Invalid type for '{name}': expected an integer.", param=name, code="invalid_type"
        ) from None
    if not low <= number <= high:
        raise invalid_request(f"Invalid '{name}': {number} must be between {low} and {high}.", param=name)
    return number


def parse_size_field(value: Any) -> tuple[int, int] | None:
    if value in (None, "", "auto"):
        return None
    if not isinstance(value, str):
        raise invalid_request(f"Invalid value: {value!r}. size must be 'WIDTHxHEIGHT' or 'auto'.", param="size")
    try:
        width, height = parse_size(value)
    except ValueError as exc:
        raise invalid_request(f"Invalid value: {value!r}. {exc}.", param="size") from None
    violations = size_violations(width, height)
    if violations:
        rules = "; ".join(f"{v.message} (rule: {v.rule.value})" for v in violations)
        raise invalid_request(f"Invalid size '{value}': {rules}.", param="size", code="invalid_size")
    return width, height


def _common(fields: dict[str, Any], *, kind: str, deployment: str) -> ImageRequest:
    prompt = fields.get("prompt")
    if not isinstance(prompt, str) or not prompt.strip():
        raise invalid_request(
            "Missing required parameter: 'prompt'.", param="prompt", code="missing_required_parameter"
        )
    if len(prompt) > MAX_PROMPT_CHARS:
        raise invalid_request(
            f"Invalid 'prompt': string too long. Expected a string with maximum length {MAX_PROMPT_CHARS}, "
            f"but got a string with length {len(prompt)} instead.",
            param="prompt",
            code="string_above_max_length",
        )
    response_format = fields.get("response_format")
    if response_format not in (None, "", "b64_json"):
        raise invalid_request(
            "Invalid value for 'response_format': this model always returns base64 images (b64_json).",
            param="response_format",
            code="unsupported_value",
        )
    if str(fields.get("stream", "")).lower() == "true" or fields.get("stream") is True:
        raise invalid_request(
            "Streaming is not supported by the foundry emulator.", param="stream", code="unsupported_value"
        )
    output_format = _choice(fields, "output_format", FORMATS, "png")
    background = _choice(fields, "background", BACKGROUNDS, "auto")
    if background == "transparent" and output_format == "jpeg":
        raise invalid_request(
            "Transparent background is not supported for output_format 'jpeg'; use 'png' or 'webp'.",
            param="background",
            code="unsupported_value",
        )
    compression = _integer(fields, "output_compression", 0, 100, None)
    return ImageRequest(
        kind=kind,
        deployment=deployment,
        prompt=prompt,
        n=_integer(fields, "n", 1, MAX_N, 1) or 1,
        size=parse_size_field(fields.get("size")),
        quality=_choice(fields, "quality", QUALITIES, "auto"),
        output_format=output_format,
        output_compression=compression if output_format != "png" else None,
        background="transparent" if background == "transparent" else "opaque",
        moderation=_choice(fields, "moderation", MODERATION, "auto"),
    )


def parse_generation(body: Any, *, deployment: str) -> ImageRequest:
    if not isinstance(body, dict):
        raise invalid_request("The request body must be a JSON object.", param=None, code="invalid_json")
    return _common(body, kind="generations", deployment=deployment)


def _decode_image(data: bytes, *, param: str) -> Image.Image:
    if len(data) > MAX_IMAGE_BYTES:
        raise invalid_request(
            f"Invalid '{param}': image files must be under 50 MB.", param=param, code="image_too_large"
        )
    try:
        image = Image.open(io.BytesIO(data))
        image.load()
    except (UnidentifiedImageError, OSError, ValueError, Image.DecompressionBombError):
        raise invalid_request(
            f"Invalid image file for '{param}': supported formats are PNG, JPEG and WebP.",
            param=param,
            code="invalid_image_format",
        ) from None
    if image.format not in ("PNG", "JPEG", "WEBP"):
        raise invalid_request(
            f"Invalid image file for '{param}': {image.format} is not supported; use PNG, JPEG or WebP.",
            param=param,
            code="invalid_image_format",
        )
    return image


def parse_edit(fields: dict[str, Any], files: dict[str, list[bytes]], *, deployment: str) -> ImageRequest:
    """`fields` are the form's text parts; `files` maps part names (image, image[], mask) to their bytes."""
    request = _common(fields, kind="edits", deployment=deployment)
    raw_images = files.get("image", []) + files.get("image[]", [])
    if not raw_images:
        raise invalid_request("Missing required parameter: 'image'.", param="image", code="missing_required_parameter")
    if len(raw_images) > MAX_INPUT_IMAGES:
        raise invalid_request(f"Invalid 'image': at most {MAX_INPUT_IMAGES} images.", param="image")
    request.images = [_decode_image(data, param="image") for data in raw_images]
    masks = files.get("mask", [])
    if masks:
        mask = _decode_image(masks[0], param="mask")
        if mask.size != request.images[0].size:
            raise invalid_request(
                f"Invalid mask: its size {mask.width}x{mask.height} must match the image's "
                f"{request.images[0].width}x{request.images[0].height}.",
                param="mask",
                code="invalid_mask",
            )
        if "A" not in mask.getbands() and "transparency" not in mask.info:
            raise invalid_request(
                "Invalid mask image format: the mask must have an alpha channel (transparent areas are edited).",
                param="mask",
                code="invalid_mask",
            )
        request.mask = mask
    return request
