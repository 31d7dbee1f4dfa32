"""Wire compatibility: the official `openai` SDK drives the emulator, Azure style and v1 style, for
generations and edits, and parses its images, usage and errors."""

from __future__ import annotations

import base64
import io

import openai
import pytest
from PIL import Image, ImageDraw

pytestmark = pytest.mark.integration


@pytest.fixture
def azure_client(clean_emulator) -> openai.AzureOpenAI:
    return openai.AzureOpenAI(
        azure_endpoint=clean_emulator.azure_endpoint,
        api_key=clean_emulator.api_key,
        api_version=clean_emulator.api_version,
        max_retries=0,
    )


@pytest.fixture
def v1_client(clean_emulator) -> openai.OpenAI:
    return openai.OpenAI(base_url=clean_emulator.v1_base_url, api_key=clean_emulator.api_key, max_retries=0)


@pytest.fixture(params=["azure", "v1"])
def client(request, azure_client, v1_client) -> openai.OpenAI:
    return azure_client if request.param == "azure" else v1_client


def _decode(b64: str) -> Image.Image:
    return Image.open(io.BytesIO(base64.b64decode(b64)))


def _png(size: tuple[int, int], *, hole: tuple[int, int, int, int] | None = None) -> tuple[str, bytes, str]:
    image = Image.new("RGBA", size, (60, 120, 180, 255))
    if hole:
        ImageDraw.Draw(image).rectangle(hole, fill=(0, 0, 0, 0))
    buffer = io.BytesIO()
    image.save(buffer, "PNG")
    return ("image.png", buffer.getvalue(), "image/png")


def test_generate(client, clean_emulator):
    result = client.images.generate(
        model=clean_emulator.deployment,
        prompt='Storefront banner "Autumn Sale"',
        size="1536x1024",
        quality="high",
        output_format="jpeg",
        output_compression=80,
        n=2,
    )
    assert len(result.data) == 2
    for item in result.data:
        image = _decode(item.b64_json)
        assert (image.format, image.size) == ("JPEG", (1536, 1024))
    assert result.usage.output_tokens == 2 * 5488
    assert result.usage.input_tokens_details.text_tokens > 0
    assert result.usage.input_tokens_details.image_tokens == 0
    assert result.usage.total_tokens == result.usage.input_tokens + result.usage.output_tokens
    assert (result.size, result.quality, result.output_format, result.background) == (
        "1536x1024",
        "high",
        "jpeg",
        "opaque",
    )
    assert clean_emulator.stats()["calls"]["generations"] == 1


def test_edit_with_mask(client, clean_emulator):
    result = client.images.edit(
        model=clean_emulator.deployment,
        image=_png((1024, 1024)),
        mask=_png((1024, 1024), hole=(0, 0, 511, 1023)),
        prompt='Add a sign "OPEN"',
        quality="low",
    )
    image = _decode(result.data[0].b64_json).convert("RGB")
    assert image.size == (1024, 1024)
    assert image.getpixel((900, 500)) == (60, 120, 180)  # kept by the mask
    assert result.usage.input_tokens_details.image_tokens == 765
    stats = clean_emulator.stats()
    assert stats["calls"]["edits"] == 1
    assert stats["recent"][-1]["has_mask"] is True


def test_edit_with_several_images(client, clean_emulator):
    result = client.images.edit(
        model=clean_emulator.deployment,
        image=[_png((1024, 1024)), _png((1024, 1536))],
        prompt="put both products on one shelf",
        quality="low",
    )
    assert _decode(result.data[0].b64_json).size == (1024, 1024)
    assert result.usage.input_tokens_details.image_tokens == 765 + 85 + 170 * 6
    assert clean_emulator.stats()["recent"][-1]["input_images"] == 2


def test_errors_map_to_the_sdks_exceptions(client, clean_emulator):
    with pytest.raises(openai.BadRequestError) as filtered:
        client.images.generate(
            model=clean_emulator.deployment, prompt="x", extra_headers={"x-emulator-fault": "content_filter_input"}
        )
    assert filtered.value.code == "content_filter"
    with pytest.raises(openai.BadRequestError) as bad_size:
        client.images.generate(model=clean_emulator.deployment, prompt="x", size="1000x1000")
    assert bad_size.value.param == "size"
    with pytest.raises(openai.RateLimitError) as limited:
        client.images.generate(model=clean_emulator.deployment, prompt="x", extra_headers={"x-emulator-fault": "429"})
    assert limited.value.response.headers["retry-after-ms"]
    with pytest.raises(openai.InternalServerError):
        client.images.generate(model=clean_emulator.deployment, prompt="x", extra_headers={"x-emulator-fault": "500"})


def test_the_sdk_retries_an_injected_429_honouring_retry_after_ms(clean_emulator):
    clean_emulator.configure(fault_queue=["429"], retry_after_ms=100)
    client = openai.AzureOpenAI(
        azure_endpoint=clean_emulator.azure_endpoint,
        api_key=clean_emulator.api_key,
        api_version=clean_emulator.api_version,
        max_retries=2,
    )
    result = client.images.generate(model=clean_emulator.deployment, prompt="x", quality="low")
    assert _decode(result.data[0].b64_json).size == (1024, 1024)
    assert clean_emulator.stats()["by_status"] == {"429": 1, "200": 1}
