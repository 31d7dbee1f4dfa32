"""Palette check on real pictures: flat synthetic ones built with Pillow and emulator renders."""

import json
import time

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image, ImageDraw

from dam.checks.palette import delta_e, palette_check, parse_hex
from generation.emulator.composition import PALETTES, compose

NAVY, GOLD, CREAM = "#14213d", "#fca311", "#f5f0e6"
BRAND = [NAVY, GOLD, CREAM]


def _bands(size: tuple[int, int], bands: list[tuple[tuple[int, int, int], float]]) -> Image.Image:
    """Horizontal bands of flat colour, each taking its share of the height."""
    image = Image.new("RGB", size)
    draw = ImageDraw.Draw(image)
    top = 0
    for colour, share in bands:
        bottom = top + round(size[1] * share)
        draw.rectangle((0, top, size[0], bottom), fill=colour)
        top = bottom
    return image


def test_delta_e_is_ciede2000():
    assert delta_e((0, 0, 0), (255, 255, 255)) == pytest.approx(100.0, abs=0.01)
    assert delta_e(parse_hex(NAVY), parse_hex(NAVY)) == 0.0
    # Sharma et al.'s pair 1 (Lab 50/2.6772/-79.7751 vs 50/0/-82.7485: 2.0425) is Lab, not sRGB; a visible
    # lightness step in sRGB must land in the single digits, not be computed as CIE76's raw Euclidean distance.
    assert 1.0 < delta_e((120, 120, 120), (130, 130, 130)) < 5.0


def test_brand_coloured_picture_passes_with_shares():
    image = _bands((1200, 800), [(parse_hex(NAVY), 0.6), (parse_hex(GOLD), 0.3), (parse_hex(CREAM), 0.1)])

    result = palette_check(image, palette=BRAND, max_delta_e=12, min_score=0.6)

    assert result.passed
    assert result.score == pytest.approx(1.0, abs=0.01)
    share = {value: sum(c["share"] for c in result.colours if c["nearest"] == value) for value in BRAND}
    assert share == pytest.approx({NAVY: 0.6, GOLD: 0.3, CREAM: 0.1}, abs=0.02)
    assert result.colours[0]["delta_e"] < 1
    assert result.colours[0]["nearest"] == NAVY  # largest share first


def test_off_brand_picture_fails_with_the_brand_share_as_score():
    green, purple = (40, 170, 60), (120, 40, 160)
    image = _bands((1000, 1000), [(green, 0.5), (purple, 0.3), (parse_hex(GOLD), 0.2)])

    result = palette_check(image, palette=BRAND, max_delta_e=12, min_score=0.6)

    assert not result.passed
    assert result.score == pytest.approx(0.2, abs=0.02)
    off = [c for c in result.colours if c["delta_e"] > 12]
    assert sum(c["share"] for c in off) == pytest.approx(0.8, abs=0.02)


def test_max_delta_e_decides_whether_a_near_colour_counts():
    near = (30, 45, 85)  # a shade off the brand navy
    distance = delta_e(near, parse_hex(NAVY))
    assert 4 < distance < 12
    image = Image.new("RGB", (400, 400), near)

    assert palette_check(image, palette=[NAVY], max_delta_e=12, min_score=0.9).passed
    strict = palette_check(image, palette=[NAVY], max_delta_e=3, min_score=0.9)
    assert not strict.passed and strict.score == 0.0
    assert strict.colours[0]["delta_e"] == pytest.approx(distance, abs=0.5)


def test_transparent_pixels_do_not_count():
    image = Image.new("RGBA", (600, 600), (0, 255, 0, 0))  # invisible bright green
    image.paste((*parse_hex(GOLD), 255), (0, 0, 600, 200))

    result = palette_check(image, palette=BRAND, max_delta_e=10, min_score=0.9)

    assert result.passed and result.score == pytest.approx(1.0)
    assert len(result.colours) == 1


def test_emulator_render_passes_its_own_palette_and_fails_another():
    composition = compose(seed=0, width=1024, height=1024, quality="high", transparent=False)
    image = composition.image.convert("RGB")
    own = ["#{:02x}{:02x}{:02x}".format(*c) for c in composition.palette.colors]
    other = list(PALETTES[5])  # greens and amber; seed 0 draws a blue-violet family

    matching = palette_check(image, palette=own, max_delta_e=12, min_score=0.6)
    foreign = palette_check(image, palette=other, max_delta_e=12, min_score=0.6)

    assert matching.passed, matching.to_dict()
    assert not foreign.passed, foreign.to_dict()
    assert foreign.score < 0.2
    assert sum(c["share"] for c in matching.colours) == pytest.approx(1.0, abs=0.001)


def test_bad_palette_is_refused():
    image = Image.new("RGB", (10, 10))
    with pytest.raises(ValueError, match="empty"):
        palette_check(image, palette=[], max_delta_e=10, min_score=0.5)
    with pytest.raises(ValueError, match="hex"):
        palette_check(image, palette=["navy"], max_delta_e=10, min_score=0.5)
    assert parse_hex("#abc") == (0xAA, 0xBB, 0xCC)


def test_evidence_is_json_safe_and_rounded():
    image = _bands((300, 300), [((10, 20, 30), 0.333), (parse_hex(GOLD), 0.667)])
    data = palette_check(image, palette=BRAND, max_delta_e=12, min_score=0.5).to_dict()

    assert json.loads(json.dumps(data)) == data
    assert set(data["colours"][0]) == {"hex", "share", "nearest", "delta_e"}
    assert all(len(str(c["share"]).split(".")[-1]) <= 4 for c in data["colours"])


def test_a_2048_square_picture_is_checked_well_inside_the_time_budget():
    image = compose(seed=3, width=2048, height=2048, quality="high", transparent=False).image.convert("RGB")
    palette_check(image, palette=BRAND, max_delta_e=12, min_score=0.6)  # warm caches and imports
    started = time.process_time()
    palette_check(image, palette=list(PALETTES[3]), max_delta_e=12, min_score=0.6)
    assert time.process_time() - started < 0.3


@settings(max_examples=40, deadline=None)
@given(colour=st.tuples(*[st.integers(0, 255)] * 3), size=st.tuples(st.integers(1, 400), st.integers(1, 400)))
def test_a_picture_in_one_palette_colour_scores_one(colour, size):
    hex_colour = "#{:02x}{:02x}{:02x}".format(*colour)
    result = palette_check(Image.new("RGB", size, colour), palette=[hex_colour], max_delta_e=1, min_score=1.0)

    assert result.passed and result.score == pytest.approx(1.0)
    assert [(c["hex"], c["nearest"]) for c in result.colours] == [(hex_colour, hex_colour)]
    assert result.colours[0]["delta_e"] == pytest.approx(0.0, abs=1e-6)
