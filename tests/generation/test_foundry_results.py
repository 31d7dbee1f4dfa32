"""Parsing successful image responses: bytes decoded by Pillow, usage as reported."""

from __future__ import annotations

import base64
import io
import json

import pytest
from PIL import Image

from generation.foundry.errors import MalformedResponseError
from generation.foundry.results import Usage, parse_image_response


def _encoded(fmt: str, size: tuple[int, int]) -> str:
    buffer = io.BytesIO()
    Image.new("RGB", size, (200, 30, 60)).save(buffer, format=fmt)
    return base64.b64encode(buffer.getvalue()).decode()


def test_format_and_size_come_from_the_bytes_not_the_echoed_fields():
    body = {
        "created": 1761000000,
        # The service says png 1024x1024; the bytes are a 48x32 WebP and a 32x48 JPEG.
        "output_format": "png",
        "size": "1024x1024",
        "quality": "high",
        "data": [{"b64_json": _encoded("WEBP", (48, 32))}, {"b64_json": _encoded("JPEG", (32, 48))}],
    }
    parsed = parse_image_response(json.dumps(body).encode(), provider_request_id=None)
    assert [(o.format, o.width, o.height) for o in parsed.outputs] == [("webp", 48, 32), ("jpeg", 32, 48)]
    assert parsed.output_format == "png" and parsed.size == "1024x1024" and parsed.quality == "high"
    assert parsed.created == 1761000000
    assert "bytes=" in repr(parsed.outputs[0]) and "b64" not in repr(parsed.outputs[0])


@pytest.mark.parametrize("fmt", ["PNG", "JPEG", "WEBP"])
def test_truncated_image_bytes_are_malformed(fmt):
    # Noise, so the entropy-coded data spans the whole file and a cut lands inside it.
    picture = Image.frombytes("RGB", (256, 256), bytes(range(256)) * 768).rotate(7)
    buffer = io.BytesIO()
    picture.save(buffer, format=fmt)
    data = buffer.getvalue()
    whole = base64.b64encode(data).decode()
    parsed = parse_image_response(json.dumps({"data": [{"b64_json": whole}]}).encode(), provider_request_id=None)
    assert (parsed.outputs[0].width, parsed.outputs[0].height) == (256, 256)  # full size, not the JPEG draft's
    truncated = base64.b64encode(data[: len(data) * 2 // 3]).decode()
    with pytest.raises(MalformedResponseError):
        parse_image_response(json.dumps({"data": [{"b64_json": truncated}]}).encode(), provider_request_id=None)


def test_usage_with_text_and_image_split():
    usage = Usage.from_payload(
        {
            "input_tokens": 350,
            "input_tokens_details": {"text_tokens": 50, "image_tokens": 300},
            "output_tokens": 7024,
            "total_tokens": 7374,
        }
    )
    assert (usage.text_input_tokens, usage.image_input_tokens, usage.output_tokens, usage.total_tokens) == (
        50,
        300,
        7024,
        7374,
    )
    assert usage.input_tokens == 350
    assert usage.cached_input_tokens == 0
    assert usage.reported


def test_cached_tokens_split_reported_or_apportioned():
    split = Usage.from_payload(
        {
            "input_tokens": 400,
            "input_tokens_details": {
                "text_tokens": 100,
                "image_tokens": 300,
                "cached_tokens": 250,
                "cached_tokens_details": {"text_tokens": 40, "image_tokens": 210},
            },
            "output_tokens": 10,
        }
    )
    assert (split.cached_text_input_tokens, split.cached_image_input_tokens) == (40, 210)
    assert split.total_tokens == 410  # derived when the service leaves it out

    total_only = Usage.from_payload(
        {"input_tokens": 400, "input_tokens_details": {"text_tokens": 100, "image_tokens": 300, "cached_tokens": 201}}
    )
    assert total_only.cached_input_tokens == 201
    assert total_only.cached_text_input_tokens <= 100 and total_only.cached_image_input_tokens <= 300


def test_usage_without_details_counts_as_text_and_missing_usage_is_flagged():
    assert Usage.from_payload({"input_tokens": 12, "output_tokens": 3}).text_input_tokens == 12
    missing = Usage.from_payload(None)
    assert not missing.reported and missing.total_tokens == 0
