"""Legibility check: WCAG contrast of copy lines drawn with Pillow, measured from the pixels under OCR line boxes."""

import json
import time

import pytest
from hypothesis import given
from hypothesis import strategies as st
from PIL import Image, ImageDraw, ImageFont

from dam.checks.legibility import contrast_ratio, legibility_check
from dam.checks.ocr import TextBox

FONT = ImageFont.load_default(size=72)


def _line(image: Image.Image, text: str, *, at: tuple[int, int], fill: tuple[int, int, int]) -> TextBox:
    """Draw one line of copy and return the box OCR would give it (the glyphs' bounds plus a little slack)."""
    draw = ImageDraw.Draw(image)
    draw.text(at, text, fill=fill, font=FONT)
    left, top, right, bottom = draw.textbbox(at, text, font=FONT)
    width, height = right - left + 6, bottom - top + 6
    return TextBox(text=text, left=left - 3, top=top - 3, width=width, height=height, confidence=0.9)


def _card(size=(1600, 1000), *, back=(38, 84, 160), card=(250, 248, 240)) -> Image.Image:
    image = Image.new("RGB", size, back)
    ImageDraw.Draw(image).rounded_rectangle((150, 150, size[0] - 150, size[1] - 150), radius=30, fill=card)
    return image


def test_contrast_ratio_matches_wcag():
    assert contrast_ratio((0, 0, 0), (255, 255, 255)) == pytest.approx(21.0)
    assert contrast_ratio((255, 255, 255), (255, 255, 255)) == pytest.approx(1.0)
    # WebAIM's reference: #777777 on white is 4.48:1, just short of AA.
    assert contrast_ratio((0x77, 0x77, 0x77), (255, 255, 255)) == pytest.approx(4.48, abs=0.01)


def test_dark_copy_on_a_light_card_passes():
    image = _card()
    boxes = [
        _line(image, "Summer sale", at=(250, 250), fill=(20, 24, 40)),
        _line(image, "Fifty percent off", at=(250, 420), fill=(20, 24, 40)),
    ]

    result = legibility_check(image, boxes=boxes, minimum=4.5)

    assert result.passed
    assert result.ratio > 14
    first = result.lines[0]
    assert first["text"] == "Summer sale"
    assert first["text_colour"] == "#141828"
    assert first["background"] == "#faf8f0"
    assert first["ratio"] == pytest.approx(contrast_ratio((20, 24, 40), (250, 248, 240)), rel=0.01)


def test_grey_on_grey_fails():
    image = Image.new("RGB", (1200, 400), (140, 140, 140))
    box = _line(image, "Fine print", at=(100, 150), fill=(110, 110, 110))

    result = legibility_check(image, boxes=[box], minimum=4.5)

    assert not result.passed
    assert result.ratio == pytest.approx(contrast_ratio((110, 110, 110), (140, 140, 140)), abs=0.05)
    assert result.ratio < 1.6


def test_light_copy_on_a_dark_band_passes():
    image = Image.new("RGB", (1200, 400), (25, 25, 35))
    box = _line(image, "Night edition", at=(100, 150), fill=(255, 255, 255))

    result = legibility_check(image, boxes=[box])

    assert result.passed and result.lines[0]["text_colour"] == "#ffffff"
    assert result.lines[0]["background"] == "#191923"


def test_the_worst_line_decides():
    image = _card()
    boxes = [
        _line(image, "Headline", at=(250, 250), fill=(0, 0, 0)),
        _line(image, "Washed out", at=(250, 450), fill=(190, 190, 185)),
    ]

    result = legibility_check(image, boxes=boxes, minimum=3.0)

    assert not result.passed
    assert result.ratio == result.lines[1]["ratio"] < 2
    assert result.lines[0]["ratio"] > 15
    # The same lines pass a policy that asks for less.
    assert legibility_check(image, boxes=boxes, minimum=1.5).passed


def test_copy_on_a_card_is_measured_against_the_card_not_the_picture_around_it():
    # The ring around the box is the card; the blue outside the card must not count as background.
    image = _card(back=(0, 0, 0), card=(255, 255, 255))
    box = _line(image, "Card copy", at=(170, 170), fill=(90, 90, 90))

    result = legibility_check(image, boxes=[box])

    assert result.lines[0]["background"] == "#ffffff"
    assert result.ratio == pytest.approx(contrast_ratio((90, 90, 90), (255, 255, 255)), rel=0.02)


def test_a_box_at_the_edge_or_outside_the_picture():
    image = Image.new("RGB", (600, 200), (255, 255, 255))
    box = _line(image, "Edge", at=(-10, 60), fill=(0, 0, 0))
    outside = TextBox(text="ghost", left=700, top=10, width=50, height=20, confidence=0.5)

    result = legibility_check(image, boxes=[box, outside])

    assert [line["text"] for line in result.lines] == ["Edge"]
    assert result.passed


def test_no_copy_read_is_not_legible():
    result = legibility_check(Image.new("RGB", (100, 100), "white"), boxes=[])
    assert not result.passed and result.ratio == 0.0 and result.lines == ()


def test_an_empty_box_scores_one():
    image = Image.new("RGB", (400, 200), (200, 30, 30))
    box = TextBox(text="nothing drawn", left=50, top=50, width=200, height=40, confidence=0.2)
    assert legibility_check(image, boxes=[box]).ratio == pytest.approx(1.0)


def test_evidence_is_json_safe():
    image = _card()
    data = legibility_check(image, boxes=[_line(image, "Sale", at=(300, 300), fill=(0, 0, 0))]).to_dict()
    assert json.loads(json.dumps(data)) == data
    assert data["lines"][0]["box"][2] > 0


def test_a_2048_square_picture_is_checked_well_inside_the_time_budget():
    image = _card((2048, 2048))
    big = ImageFont.load_default(size=140)
    boxes = []
    draw = ImageDraw.Draw(image)
    for row in range(8):
        at = (220, 220 + row * 200)
        draw.text(at, "Fifty percent off", fill=(30, 30, 30), font=big)
        left, top, right, bottom = draw.textbbox(at, "Fifty percent off", font=big)
        boxes.append(TextBox(text="x", left=left, top=top, width=right - left, height=bottom - top, confidence=1))
    legibility_check(image, boxes=boxes[:1])
    started = time.process_time()
    result = legibility_check(image, boxes=boxes)
    assert time.process_time() - started < 0.3
    assert result.passed and len(result.lines) == 8


def test_boxes_read_by_tesseract_measure_the_drawn_colours():
    from dam.checks.ocr import read_text

    image = _card()
    draw = ImageDraw.Draw(image)
    draw.text((250, 250), "Summer sale", fill=(20, 24, 40), font=FONT)
    draw.text((250, 420), "Fifty percent off", fill=(150, 150, 150), font=FONT)

    reading = read_text(image, locale="en-GB")
    result = legibility_check(image, boxes=reading.boxes, minimum=4.5)

    by_text = {line["text"]: line for line in result.lines}
    assert set(by_text) == {"Summer sale", "Fifty percent off"}
    assert by_text["Summer sale"]["text_colour"] == "#141828"
    assert by_text["Fifty percent off"]["ratio"] == pytest.approx(
        contrast_ratio((150, 150, 150), (250, 248, 240)), rel=0.03
    )
    assert not result.passed and result.ratio < 3


rgb = st.tuples(*[st.integers(0, 255)] * 3)


@given(first=rgb, second=rgb)
def test_contrast_ratio_is_symmetric_and_between_1_and_21(first, second):
    ratio = contrast_ratio(first, second)
    assert ratio == contrast_ratio(second, first)
    assert 1.0 <= ratio <= 21.0 + 1e-9
    assert contrast_ratio(first, first) == pytest.approx(1.0)
