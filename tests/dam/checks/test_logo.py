"""Logo check on emulator renders with a logo pasted in at a known place and size (or not at all)."""

import io
import json
import time

import numpy as np
import pytest
from PIL import Image, ImageDraw, ImageFont

from dam.checks.logo import OUTLINE, logo_check, logo_evidence_png
from generation.emulator.composition import compose


def _logo() -> Image.Image:
    """A transparent PNG logo: a badge with a mark and a word, 600x240."""
    logo = Image.new("RGBA", (600, 240), (0, 0, 0, 0))
    draw = ImageDraw.Draw(logo)
    draw.rounded_rectangle((4, 4, 596, 236), radius=36, fill=(16, 32, 96, 255))
    draw.polygon([(40, 200), (120, 40), (200, 200)], fill=(255, 196, 0, 255))
    draw.ellipse((90, 120, 150, 180), fill=(16, 32, 96, 255))
    draw.text((230, 55), "ACME", fill=(255, 255, 255, 255), font=ImageFont.load_default(size=110))
    draw.rectangle((230, 185, 560, 200), fill=(255, 196, 0, 255))
    return logo


def _other_logo() -> Image.Image:
    other = Image.new("RGBA", (600, 240), (0, 0, 0, 0))
    draw = ImageDraw.Draw(other)
    draw.ellipse((4, 4, 236, 236), fill=(200, 30, 30, 255))
    draw.text((260, 60), "ZETA", fill=(20, 20, 20, 255), font=ImageFont.load_default(size=110))
    draw.rectangle((260, 190, 560, 205), fill=(20, 20, 20, 255))
    return other


LOGO = _logo()


def _picture(seed: int, size: tuple[int, int] = (2048, 2048)) -> Image.Image:
    return compose(seed=seed, width=size[0], height=size[1], quality="high", transparent=False).image.convert("RGB")


def _paste(picture: Image.Image, logo: Image.Image, *, share: float, at: tuple[int, int], angle: float = 0) -> None:
    width = round(picture.width * share)
    scaled = logo.resize((width, round(width * logo.height / logo.width)), Image.Resampling.LANCZOS)
    if angle:
        scaled = scaled.rotate(angle, expand=True, resample=Image.Resampling.BICUBIC)
    picture.paste(scaled, at, scaled)


def test_logo_found_where_and_as_large_as_it_was_placed():
    picture = _picture(1)
    _paste(picture, LOGO, share=0.25, at=(300, 1400))

    result = logo_check(picture, logo=LOGO, min_width_share=0.05)

    assert result.found and result.passed
    assert result.width_share == pytest.approx(0.25, abs=0.01)
    expected = [(300, 1400), (812, 1400), (812, 1605), (300, 1605)]  # 512 x 205 px
    for (x, y), (ex, ey) in zip(result.corners, expected, strict=True):
        assert abs(x - ex) <= 10 and abs(y - ey) <= 10, result.corners
    assert result.matches >= 20


def test_logo_found_turned_and_in_a_landscape_picture():
    picture = _picture(5, (1920, 1080))
    _paste(picture, LOGO, share=0.25, at=(700, 300), angle=30)

    result = logo_check(picture, logo=LOGO, min_width_share=0.05)

    assert result.found and result.passed
    # The outline's horizontal extent: the turned logo spans more than its own width.
    assert 0.24 < result.width_share < 0.3


def test_a_logo_too_small_is_found_but_fails():
    picture = _picture(2)
    _paste(picture, LOGO, share=0.08, at=(1500, 150))

    result = logo_check(picture, logo=LOGO, min_width_share=0.1)

    assert result.found
    assert not result.passed
    assert result.width_share == pytest.approx(0.08, abs=0.006)
    assert all(1450 < x < 1720 and 100 < y < 260 for x, y in result.corners)


@pytest.mark.parametrize("seed", [0, 3, 7, 11])
def test_no_logo_no_finding(seed):
    picture = _picture(seed)
    _paste(picture, _other_logo(), share=0.2, at=(100, 200))  # someone else's logo
    draw = ImageDraw.Draw(picture)
    draw.text((200, 900), "Summer sale - fifty percent off", font=ImageFont.load_default(size=90), fill="white")

    result = logo_check(picture, logo=LOGO, min_width_share=0.05)

    assert not result.found and not result.passed
    assert result.corners == () and result.width_share == 0.0


def test_a_flat_jpeg_logo_finds_the_same_logo():
    flat = Image.new("RGB", LOGO.size, "white")
    flat.paste(LOGO, mask=LOGO)
    buffer = io.BytesIO()
    flat.save(buffer, "JPEG", quality=85)
    picture = _picture(4, (1024, 1024))
    _paste(picture, LOGO, share=0.3, at=(100, 100))

    result = logo_check(picture, logo=Image.open(io.BytesIO(buffer.getvalue())), min_width_share=0.05)

    assert result.found and result.width_share == pytest.approx(0.3, abs=0.015)


def test_evidence_png_draws_the_outline_only_when_found():
    picture = _picture(6, (2048, 1024))
    _paste(picture, LOGO, share=0.2, at=(1000, 400))
    found = logo_check(picture, logo=LOGO, min_width_share=0.05)
    evidence = Image.open(io.BytesIO(logo_evidence_png(picture, result=found)))

    assert evidence.format == "PNG" and evidence.size == (1024, 512)
    pixels = np.asarray(evidence.convert("RGB")).reshape(-1, 3)
    outlined = np.all(pixels == OUTLINE, axis=1).sum()
    assert outlined > 500  # the outline's ~1,100 px perimeter, a few px wide

    missing = logo_check(_picture(6, (2048, 1024)), logo=LOGO, min_width_share=0.05)
    plain = Image.open(io.BytesIO(logo_evidence_png(picture, result=missing)))
    assert np.all(np.asarray(plain.convert("RGB")).reshape(-1, 3) == OUTLINE, axis=1).sum() == 0


def test_evidence_is_json_safe():
    picture = _picture(1, (1024, 1024))
    _paste(picture, LOGO, share=0.3, at=(200, 200))
    data = logo_check(picture, logo=LOGO, min_width_share=0.05).to_dict()

    assert json.loads(json.dumps(data)) == data
    assert data["found"] is True and len(data["corners"]) == 4


def test_a_2048_square_picture_is_checked_well_inside_the_time_budget():
    picture = _picture(8)
    _paste(picture, LOGO, share=0.1, at=(900, 900))
    logo_check(picture, logo=LOGO, min_width_share=0.05)  # warm OpenCV
    started = time.process_time()
    result = logo_check(picture, logo=LOGO, min_width_share=0.05)
    assert time.process_time() - started < 0.3
    assert result.found
