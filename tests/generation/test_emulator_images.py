"""The emulator's images over HTTP: real bytes at the exact size and format, deterministic, prompt-driven,
marked, and edits that respect the mask."""

from __future__ import annotations

import base64
import io

import pytest
from PIL import Image, ImageChops, ImageDraw

pytestmark = pytest.mark.integration


def _images(response) -> list[Image.Image]:
    assert response.status_code == 200, response.text
    return [Image.open(io.BytesIO(base64.b64decode(item["b64_json"]))) for item in response.json()["data"]]


def _changed_share(a: Image.Image, b: Image.Image, threshold: int = 30) -> float:
    """Share of pixels whose largest channel difference exceeds `threshold`."""
    small = (128, 128)
    diff = ImageChops.difference(a.convert("RGB").resize(small), b.convert("RGB").resize(small))
    changed = diff.split()[0].point(lambda v: 0)  # start from an empty mask
    for band in diff.split():
        changed = ImageChops.lighter(changed, band.point(lambda v: 255 if v > threshold else 0))
    return changed.histogram()[255] / (small[0] * small[1])


@pytest.mark.parametrize(
    ("size", "output_format", "pil_format"),
    [
        ("1024x1024", "png", "PNG"),
        ("1536x1024", "jpeg", "JPEG"),
        ("1024x1536", "webp", "WEBP"),
        ("1360x768", "png", "PNG"),
        ("3840x2160", "jpeg", "JPEG"),
    ],
)
def test_images_decode_at_the_exact_size_and_format(clean_emulator, size, output_format, pil_format):
    response = clean_emulator.generate(prompt="A studio shot of a red sneaker", size=size, output_format=output_format)
    (image,) = _images(response)
    assert image.format == pil_format
    assert f"{image.width}x{image.height}" == size
    body = response.json()
    assert body["size"] == size
    assert body["output_format"] == output_format


def test_auto_size_is_1024_square(clean_emulator):
    (image,) = _images(clean_emulator.generate(prompt="a lighthouse", size="auto"))
    assert image.size == (1024, 1024)


@pytest.mark.parametrize("output_format", ["png", "jpeg", "webp"])
def test_same_request_gives_the_same_bytes(clean_emulator, output_format):
    request = {"prompt": 'Autumn campaign "Cozy Season"', "size": "1536x1024", "output_format": output_format}
    first = clean_emulator.generate(**request).json()["data"][0]["b64_json"]
    second = clean_emulator.generate(**request).json()["data"][0]["b64_json"]
    assert first == second


@pytest.mark.parametrize(
    ("prompt_a", "prompt_b"),
    [
        ("a mountain lake at dawn", "a neon city street at night"),
        ("coffee cup on a wooden table", "coffee cup on a wooden table, top view"),
        ("brand banner for spring", "brand banner for winter"),
    ],
)
def test_different_prompts_give_substantially_different_images(clean_emulator, prompt_a, prompt_b):
    (a,) = _images(clean_emulator.generate(prompt=prompt_a, quality="low"))
    (b,) = _images(clean_emulator.generate(prompt=prompt_b, quality="low"))
    assert _changed_share(a, b) > 0.25


def test_n_images_are_distinct_variations(clean_emulator):
    images = _images(clean_emulator.generate(prompt="a kite over a beach", n=3, quality="low"))
    assert len(images) == 3
    assert all(image.size == (1024, 1024) for image in images)
    assert len({image.tobytes() for image in images}) == 3


@pytest.mark.parametrize("output_format", ["png", "webp"])
def test_transparent_background_has_alpha(clean_emulator, output_format):
    response = clean_emulator.generate(prompt='Logo mark "ACME"', background="transparent", output_format=output_format)
    (image,) = _images(response)
    assert image.mode == "RGBA"
    low, high = image.getchannel("A").getextrema()
    assert low == 0  # clear background
    assert high == 255  # opaque shapes and text
    assert response.json()["background"] == "transparent"


def test_opaque_images_have_no_clear_pixels(clean_emulator):
    (image,) = _images(clean_emulator.generate(prompt="Logo mark", output_format="png"))
    assert image.convert("RGBA").getchannel("A").getextrema() == (255, 255)


def test_quoted_text_changes_only_the_text_card(clean_emulator):
    """Localized variants share the scene; the pixels that differ are the text's, and there are plenty."""
    (english,) = _images(clean_emulator.generate(prompt='Festival banner with "Happy Diwali"', quality="low"))
    (hindi,) = _images(clean_emulator.generate(prompt='Festival banner with "दिवाली की शुभकामनाएं"', quality="low"))
    (plain,) = _images(clean_emulator.generate(prompt='Festival banner with ""', quality="low"))
    diff_box = ImageChops.difference(english.convert("RGB"), hindi.convert("RGB")).getbbox()
    assert diff_box is not None
    x0, y0, x1, y1 = diff_box
    assert (x1 - x0) * (y1 - y0) < 0.6 * english.width * english.height  # text card, not the whole picture
    assert _changed_share(hindi, plain) > 0.02  # the card and its glyphs are really there


def test_images_carry_the_emulator_mark(clean_emulator):
    """The bottom-right corner holds the mark: dark pill, light letters, whatever the picture is."""
    for prompt in ("a white snowfield", "a black night sky", "a bauhaus poster"):
        (image,) = _images(clean_emulator.generate(prompt=prompt, quality="low"))
        corner = image.convert("L").crop((image.width - 200, image.height - 80, image.width, image.height))
        low, high = corner.getextrema()
        assert high - low > 150, prompt


def _checkerboard(size: tuple[int, int]) -> bytes:
    image = Image.new("RGB", size, (240, 240, 240))
    draw = ImageDraw.Draw(image)
    for x in range(0, size[0], 64):
        for y in range(0, size[1], 64):
            if (x // 64 + y // 64) % 2:
                draw.rectangle((x, y, x + 63, y + 63), fill=(30, 60, 90))
    buffer = io.BytesIO()
    image.save(buffer, "PNG")
    return buffer.getvalue()


def _mask(size: tuple[int, int], hole: tuple[int, int, int, int]) -> bytes:
    mask = Image.new("RGBA", size, (0, 0, 0, 255))
    ImageDraw.Draw(mask).rectangle(hole, fill=(0, 0, 0, 0))
    buffer = io.BytesIO()
    mask.save(buffer, "PNG")
    return buffer.getvalue()


def test_edit_returns_a_visibly_modified_image_of_the_same_size(clean_emulator):
    source = _checkerboard((1536, 1024))
    (edited,) = _images(clean_emulator.edit(image=source, prompt='Add a badge "NEW"', quality="low"))
    original = Image.open(io.BytesIO(source))
    assert edited.size == original.size
    assert _changed_share(edited, original) > 0.3


def test_edit_changes_only_the_transparent_area_of_the_mask(clean_emulator):
    size = (1024, 1024)
    hole = (256, 256, 767, 767)
    source = _checkerboard(size)
    response = clean_emulator.edit(image=source, mask=_mask(size, hole), prompt='Put "SALE" here', quality="low")
    (edited,) = _images(response)
    original = Image.open(io.BytesIO(source)).convert("RGB")
    edited = edited.convert("RGB")

    outside = Image.new("L", size, 255)
    ImageDraw.Draw(outside).rectangle(hole, fill=0)
    diff = ImageChops.difference(original, edited).convert("L")
    assert ImageChops.multiply(diff, outside).getbbox() is None  # nothing outside the hole changed
    inside = (hole[0], hole[1], hole[2] + 1, hole[3] + 1)
    assert _changed_share(edited.crop(inside), original.crop(inside)) > 0.3


def test_edit_with_several_images_uses_the_first_as_base(clean_emulator):
    first, second = _checkerboard((1024, 1536)), _checkerboard((1024, 1024))
    response = clean_emulator.edit(image=[first, second], prompt="combine them", quality="low")
    (edited,) = _images(response)
    assert edited.size == (1024, 1536)
    assert response.json()["usage"]["input_tokens_details"]["image_tokens"] > 0


def test_edit_at_an_explicit_size_fits_the_input(clean_emulator):
    response = clean_emulator.edit(image=_checkerboard((1024, 1024)), prompt="widen", size="1536x1024", quality="low")
    (edited,) = _images(response)
    assert edited.size == (1536, 1024)


def test_edit_rejects_a_mask_of_another_size(clean_emulator):
    response = clean_emulator.edit(
        image=_checkerboard((1024, 1024)), mask=_mask((512, 512), (0, 0, 10, 10)), prompt="x"
    )
    assert response.status_code == 400
    assert response.json()["error"]["param"] == "mask"


def test_edit_rejects_what_is_not_an_image(clean_emulator):
    response = clean_emulator.edit(image=b"not an image", prompt="x")
    assert response.status_code == 400
    assert response.json()["error"]["param"] == "image"
