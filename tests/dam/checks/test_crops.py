"""Text-safe crops: a placement's window keeps every line of copy whole, moves when it can, says cut when it cannot."""

from __future__ import annotations

import io
import json
import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image, ImageChops, ImageDraw, ImageFont

from dam.checks.crops import (
    ADJUSTED_COLOUR,
    CUT_LINE_COLOUR,
    LINE_COLOUR,
    MARGIN_SHARE,
    ORIGINAL_COLOUR,
    CropVerdict,
    crop_evidence_png,
    crop_fit,
    fill_steps,
    recut_steps,
)
from dam.checks.ocr import TextBox, read_text
from dam.imaging import apply_steps
from dam.renditions.pipeline import render_spec
from dam.renditions.spec import parse_spec
from generation.planning.derivation import derive_placement
from generation.sizing import Size

SOURCE = (1536, 1024)


def line_box(text: str, left: int, top: int, width: int, height: int) -> TextBox:
    return TextBox(text, left, top, width, height, 0.95)


def steps_for(target: tuple[int, int], source: tuple[int, int] = SOURCE) -> list[dict]:
    return derive_placement(slug="p", source=Size(*source), target=Size(*target)).steps()


def fit(target, boxes, *, source=SOURCE, focal=None, min_text_height=12, steps=None):
    return crop_fit(
        source_size=source,
        steps=steps if steps is not None else steps_for(target, source),
        boxes=boxes,
        focal=focal,
        min_text_height=min_text_height,
        placement=f"{target[0]}x{target[1]}",
    )


def crop_box(steps: list[dict]) -> dict:
    (box,) = [step["box"] for step in steps if step["op"] == "crop"]
    return box


def margin(box: TextBox) -> int:
    return max(2, math.ceil(MARGIN_SHARE * box.height))


# A 1024x1024 square from 1536x1024 is a centred crop (256..1280) with no scale.
SQUARE = (1024, 1024)


def test_centred_text_is_ok_and_keeps_the_planned_steps():
    result = fit(SQUARE, [line_box("SUMMER SALE", 600, 450, 336, 80)])
    assert result.verdict == CropVerdict.OK
    assert result.steps == steps_for(SQUARE)
    assert result.adjusted_box is None and result.cut_boxes == ()
    assert result.original_box == {"left": 256, "top": 0, "right": 1280, "bottom": 1024}
    assert result.text_height == 80


def test_text_at_the_left_edge_moves_the_square_left_by_the_least_that_keeps_it_whole_with_a_margin():
    line = line_box("SUMMER SALE", 40, 100, 400, 60)
    result = fit(SQUARE, [line])
    assert result.verdict == CropVerdict.ADJUSTED
    left = line.left - margin(line)
    assert result.adjusted_box == {"left": left, "top": 0, "right": left + 1024, "bottom": 1024}
    assert crop_box(result.steps) == result.adjusted_box
    assert result.cut_boxes == (line,)
    data = result.to_dict()
    assert data["cut_boxes"][0]["kept_share"] == round((440 - 256) / 400, 4)
    assert data["adjusted"] is True and data["original_box"]["left"] == 256
    json.dumps(data)


def test_a_line_wider_than_the_window_is_cut_and_the_planned_steps_are_kept():
    line = line_box("A VERY LONG HEADLINE ACROSS THE WHOLE PICTURE", 100, 400, 1300, 80)
    result = fit(SQUARE, [line])
    assert result.verdict == CropVerdict.CUT
    assert result.needs_review
    assert result.steps == steps_for(SQUARE)
    assert result.adjusted_box is None
    assert result.cut_boxes == (line,)


def test_lines_further_apart_than_the_window_are_cut_even_when_one_is_dropped_entirely():
    left, right = line_box("LEFT", 20, 100, 150, 40), line_box("RIGHT", 1380, 100, 140, 40)
    result = fit(SQUARE, [left, right])
    assert result.verdict == CropVerdict.CUT
    assert set(result.cut_boxes) == {left, right}
    assert {entry["kept_share"] for entry in result.to_dict()["cut_boxes"]} == {0.0}


def test_leaderboard_with_text_in_the_middle_is_ok():
    steps = steps_for((970, 250))
    assert crop_box(steps) == {"left": 0, "top": 314, "right": 1536, "bottom": 710}
    result = fit((970, 250), [line_box("SALE", 400, 460, 700, 90)])
    assert result.verdict == CropVerdict.OK
    assert result.text_height == round(90 * 250 / 396)


def test_leaderboard_with_text_above_the_band_moves_it_up_keeping_its_size():
    line = line_box("SALE", 400, 200, 700, 90)
    result = fit((970, 250), [line])
    assert result.verdict == CropVerdict.ADJUSTED
    top = line.top - margin(line)
    assert result.adjusted_box == {"left": 0, "top": top, "right": 1536, "bottom": top + 396}
    assert result.steps[1] == {"op": "scale", "size": {"width": 970, "height": 250}}


def test_leaderboard_with_two_lines_taller_together_than_the_band_is_cut():
    result = fit((970, 250), [line_box("SALE", 400, 100, 700, 90), line_box("NOW", 400, 600, 700, 90)])
    assert result.verdict == CropVerdict.CUT


def test_an_upscaled_placement_moves_its_window_in_the_scaled_space():
    # 1080x1080 from 1536x1024 scales up to 1620x1080 first, then crops; the window is in that space.
    steps = steps_for((1080, 1080))
    assert steps[0] == {"op": "scale", "size": {"width": 1620, "height": 1080}}
    line = line_box("SALE", 40, 100, 400, 60)
    result = fit((1080, 1080), [line])
    assert result.verdict == CropVerdict.ADJUSTED
    window = crop_box(result.steps)
    assert window["right"] - window["left"] == 1080 and window["bottom"] - window["top"] == 1080
    scale = 1620 / 1536
    assert window["left"] <= line.left * scale and (line.left + line.width) * scale <= window["right"]
    assert result.adjusted_box["left"] <= line.left
    assert apply_steps(Image.new("RGB", SOURCE), result.steps).size == (1080, 1080)


def test_the_focal_point_stays_inside_when_the_window_must_move():
    line = line_box("SALE", 1200, 100, 250, 60)  # cut by the right edge (1280)
    plain = fit(SQUARE, [line])
    assert plain.adjusted_box["left"] == line.left + line.width + margin(line) - 1024
    # A focal point near the right edge pulls the window further than the text alone needs.
    focal = fit(SQUARE, [line], focal=(0.99, 0.5))
    assert focal.verdict == CropVerdict.ADJUSTED and focal.focal_kept is True
    assert focal.adjusted_box["left"] == math.ceil(0.99 * 1536 - 1024)
    assert focal.adjusted_box["left"] <= 0.99 * 1536 <= focal.adjusted_box["right"]


def test_the_focal_point_gives_way_to_the_copy():
    line = line_box("SALE", 1200, 100, 250, 60)
    result = fit(SQUARE, [line], focal=(0.1, 0.5))  # x=153.6: no 1024 window holds it and the line
    assert result.verdict == CropVerdict.ADJUSTED
    assert result.focal_kept is False
    assert result.adjusted_box["right"] >= line.left + line.width
    assert result.to_dict()["focal_kept"] is False
    assert result.to_dict()["focal"] == {"x": 0.1, "y": 0.5}


def test_the_margin_gives_way_to_the_focal_point():
    line = line_box("SALE", 1200, 100, 250, 60)
    # The bare line needs left >= 426, with its margin >= 441; the focal point at 430 needs left <= 430.
    result = fit(SQUARE, [line], focal=(430 / 1536, 0.5))
    assert result.focal_kept is True
    assert result.adjusted_box["left"] == 426


def test_scaling_20px_text_to_8px_is_too_small():
    source = (1500, 1000)
    steps = steps_for((600, 400), source)
    assert steps == [{"op": "scale", "size": {"width": 600, "height": 400}}]
    result = fit((600, 400), [line_box("small print", 100, 100, 300, 20)], source=source)
    assert result.verdict == CropVerdict.TOO_SMALL and result.needs_review
    assert result.text_height == 8
    assert result.to_dict()["text_too_small"] is True
    at_limit = fit((600, 400), [line_box("small print", 100, 100, 300, 30)], source=source)
    assert (at_limit.verdict, at_limit.text_height) == (CropVerdict.OK, 12)


def test_the_smallest_line_decides_the_text_height():
    result = fit(SQUARE, [line_box("BIG", 600, 300, 300, 100), line_box("tiny", 600, 500, 100, 10)])
    assert result.text_height == 10 and result.verdict == CropVerdict.TOO_SMALL


def test_cut_outranks_too_small_and_both_facts_are_reported():
    result = fit((970, 250), [line_box("a", 400, 100, 200, 10), line_box("b", 400, 750, 200, 10)])
    assert result.verdict == CropVerdict.CUT
    data = result.to_dict()
    assert data["text_too_small"] is True and data["adjusted"] is False and len(data["cut_boxes"]) == 2


def test_too_small_outranks_adjusted_but_keeps_the_moved_steps():
    result = fit(SQUARE, [line_box("tiny", 40, 100, 100, 8)])
    assert result.verdict == CropVerdict.TOO_SMALL
    assert result.adjusted and crop_box(result.steps)["left"] < 256


def test_no_copy_is_ok_with_no_text_height():
    result = fit(SQUARE, [])
    assert result.verdict == CropVerdict.OK and result.text_height is None
    assert result.to_dict()["text_too_small"] is False


def test_a_degenerate_box_is_ignored():
    result = fit(SQUARE, [line_box("", 10, 10, 0, 30), line_box("SALE", 600, 450, 300, 60)])
    assert result.verdict == CropVerdict.OK and result.lines == 1


def test_steps_without_a_crop_keep_the_whole_image():
    result = fit((1536, 1024), [line_box("edge", 0, 0, 200, 40)], steps=[])
    assert result.verdict == CropVerdict.OK
    assert result.original_box == {"left": 0, "top": 0, "right": 1536, "bottom": 1024}


@pytest.mark.parametrize(
    "steps",
    [
        [{"op": "crop", "box": {"left": 0, "top": 0, "right": 10, "bottom": 10}}] * 2,
        [{"op": "rotate", "degrees": 90}],
        [{"op": "crop", "box": {"left": 600, "top": 0, "right": 1600, "bottom": 1024}}],
    ],
    ids=["two-crops", "unknown-op", "crop-outside"],
)
def test_steps_that_are_not_a_size_plans_are_refused(steps):
    with pytest.raises(ValueError):
        fit(SQUARE, [], steps=steps)


def test_a_focal_point_outside_the_image_is_refused():
    with pytest.raises(ValueError):
        fit(SQUARE, [], focal=(1.2, 0.5))


def test_recut_steps_replaces_the_crop_and_refuses_another_size():
    steps = steps_for((970, 250))
    moved = recut_steps(steps, {"left": 0, "top": 0, "right": 1536, "bottom": 396})
    assert moved == [{"op": "crop", "box": {"left": 0, "top": 0, "right": 1536, "bottom": 396}}, steps[1]]
    assert steps[0]["box"]["top"] == 314  # the input is not changed
    with pytest.raises(ValueError):
        recut_steps(steps, {"left": 0, "top": 0, "right": 1536, "bottom": 400})
    with pytest.raises(ValueError):
        recut_steps([], {"left": 0, "top": 0, "right": 1, "bottom": 1})


# --- properties ---------------------------------------------------------------------------------------------


@st.composite
def cases(draw):
    source = (draw(st.integers(64, 2048)), draw(st.integers(64, 2048)))
    target = (draw(st.integers(16, 2400)), draw(st.integers(16, 2400)))
    lines = []
    for _ in range(draw(st.integers(0, 4))):
        left = draw(st.integers(0, source[0] - 1))
        top = draw(st.integers(0, source[1] - 1))
        width = draw(st.integers(1, source[0] - left))
        height = draw(st.integers(1, min(200, source[1] - top)))
        lines.append(line_box("x", left, top, width, height))
    focal = draw(st.none() | st.tuples(st.floats(0, 1), st.floats(0, 1)))
    return source, target, lines, focal


def crop_space(source, steps):
    """The size the crop applies to, and the source -> crop-space scale."""
    width, height = source
    for step in steps:
        if step["op"] == "crop":
            return (width, height), (width / source[0], height / source[1])
        width, height = step["size"]["width"], step["size"]["height"]
    return source, (1.0, 1.0)  # no crop: the window is the whole source


@settings(max_examples=300, deadline=None)
@given(case=cases())
def test_verdicts_agree_with_the_geometry(case):
    source, target, lines, focal = case
    planned = steps_for(target, source)
    result = fit(target, lines, source=source, focal=focal, steps=planned)
    (space_w, space_h), (sx, sy) = crop_space(source, planned)

    spans = [
        (
            math.floor(line.left * sx + 1e-6),
            math.floor(line.top * sy + 1e-6),
            math.ceil((line.left + line.width) * sx - 1e-6),
            math.ceil((line.top + line.height) * sy - 1e-6),
        )
        for line in lines
    ]

    def holds_all(window):
        return all(
            window["left"] <= left and window["top"] <= top and right <= window["right"] and bottom <= window["bottom"]
            for left, top, right, bottom in spans
        )

    original = result.window
    width, height = original["right"] - original["left"], original["bottom"] - original["top"]
    if result.adjusted:
        window = crop_box(result.steps)
        assert window == result.adjusted_window
        # Inside the image, the original's size, every line whole: the scale step and output size stay exact.
        assert window["left"] >= 0 and window["right"] <= space_w
        assert window["top"] >= 0 and window["bottom"] <= space_h
        assert (window["right"] - window["left"], window["bottom"] - window["top"]) == (width, height)
        assert holds_all(window)
        assert result.cut_boxes
        # Source boxes: the window mapped back holds every line too.
        box = result.adjusted_box
        assert all(
            box["left"] <= line.left
            and box["top"] <= line.top
            and line.left + line.width <= box["right"]
            and line.top + line.height <= box["bottom"]
            for line in lines
        )
        assert apply_steps(Image.new("L", source), result.steps).size == target
        if focal is None:
            # The smallest move: at most a margin beyond the nearest window that holds the bare lines.
            for axis, (low, high, extent, size) in enumerate(((0, 2, space_w, width), (1, 3, space_h, height))):
                start = original["left" if axis == 0 else "top"]
                need_low = min(span[low] for span in spans)
                need_high = max(span[high] for span in spans)
                bare = min(max(start, 0, need_high - size), extent - size, need_low)
                pad = max(max(2, math.ceil(MARGIN_SHARE * line.height * (sx, sy)[axis])) for line in lines)
                assert abs(window["left" if axis == 0 else "top"] - bare) <= pad
        if result.focal_kept:
            assert window["left"] <= focal[0] * space_w <= window["right"]
            assert window["top"] <= focal[1] * space_h <= window["bottom"]
    elif result.verdict == CropVerdict.CUT:
        # No window of this size could have held them: the lines span more than it on some axis.
        too_wide = max(span[2] for span in spans) - min(span[0] for span in spans) > width
        too_tall = max(span[3] for span in spans) - min(span[1] for span in spans) > height
        assert too_wide or too_tall
        assert result.steps == planned
    else:
        assert result.steps == planned
        assert holds_all(original)
        assert result.cut_boxes == ()
    if lines:
        assert (result.verdict == CropVerdict.TOO_SMALL) == (
            result.verdict != CropVerdict.CUT and result.text_height < result.min_text_height
        )


# --- end to end: real pixels --------------------------------------------------------------------------------


def picture_with_copy(text: str, at: tuple[int, int], size: int = 64) -> tuple[Image.Image, TextBox]:
    image = Image.new("RGB", SOURCE, (235, 225, 200))
    draw = ImageDraw.Draw(image)
    font = ImageFont.load_default(size=size)
    draw.text(at, text, fill=(20, 20, 60), font=font)
    left, top, right, bottom = draw.textbbox(at, text, font=font)
    return image, line_box(text, left, top, right - left, bottom - top)


def dark_pixels(image: Image.Image) -> int:
    return sum(image.convert("L").point(lambda value: 255 if value < 100 else 0).histogram()[255:])


@pytest.mark.parametrize("target", [SQUARE, (1080, 1080), (970, 250), (300, 250)])
def test_the_moved_steps_cut_a_real_picture_to_the_placement_size_with_the_copy_whole(target):
    image, line = picture_with_copy("SUMMER SALE", (30, 120))
    result = fit(target, [line], min_text_height=1)
    assert result.verdict == CropVerdict.ADJUSTED
    output = apply_steps(image, result.steps)
    assert output.size == target
    if target == SQUARE:
        # No scale: the copy's pixels are in the cut exactly, shifted by the window.
        window = crop_box(result.steps)
        shifted = (line.left - window["left"], line.top - window["top"])
        placed = output.crop((*shifted, shifted[0] + line.width, shifted[1] + line.height))
        original = image.crop((line.left, line.top, line.left + line.width, line.top + line.height))
        assert ImageChops.difference(placed, original).getbbox() is None
        assert dark_pixels(output) == dark_pixels(image)
        # The planned (centred) cut loses part of it.
        assert dark_pixels(apply_steps(image, steps_for(SQUARE))) < dark_pixels(image)


def test_evidence_draws_both_windows_and_the_cut_line():
    image, line = picture_with_copy("SUMMER SALE", (30, 120))
    other = line_box("inside", 700, 700, 200, 50)
    noise = line_box("", 5, 5, 0, 12)
    result = fit(SQUARE, [line, other, noise])
    png = crop_evidence_png(image, fit=result, boxes=[line, other, noise])
    drawn = Image.open(io.BytesIO(png))
    assert drawn.format == "PNG" and drawn.size == SOURCE
    assert drawn.getpixel((256, 600)) == ORIGINAL_COLOUR
    assert drawn.getpixel((result.adjusted_box["left"], 600)) == ADJUSTED_COLOUR
    assert drawn.getpixel((line.left + line.width // 2, line.top)) == CUT_LINE_COLOUR
    assert drawn.getpixel((other.left + other.width // 2, other.top)) == LINE_COLOUR


@pytest.mark.parametrize("target", [SQUARE, (970, 250)])
def test_fill_steps_are_the_window_a_re_render_around_the_focal_point_cuts(target):
    image, line = picture_with_copy("SUMMER SALE", (30, 120))
    focal = (0.1, 0.3)
    steps = fill_steps(source_size=SOURCE, target=target, focal=focal)
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    rendered = Image.open(
        io.BytesIO(
            render_spec(buffer.getvalue(), parse_spec(f"fill-{target[0]}x{target[1]}|format-png"), focal=focal).data
        )
    )
    assert rendered.size == target == apply_steps(image, steps).size
    if target == SQUARE:  # no scale: the same pixels exactly
        assert crop_box(steps) == {"left": 0, "top": 0, "right": 1024, "bottom": 1024}
        assert ImageChops.difference(rendered.convert("RGB"), apply_steps(image, steps)).getbbox() is None

    # Checked like the plan's steps: around this focal point the window already holds the copy the centred one cuts.
    def verdict(steps):
        return crop_fit(
            source_size=SOURCE, steps=steps, boxes=[line], focal=focal, min_text_height=1, placement="p"
        ).verdict

    assert verdict(steps) == CropVerdict.OK
    assert verdict(steps_for(target)) == CropVerdict.ADJUSTED


def test_lines_read_by_ocr_move_the_window_and_the_moved_cut_reads_the_whole_copy():
    image, _ = picture_with_copy("SUMMER SALE", (30, 120), size=72)
    reading = read_text(image, locale="en-GB")
    assert "SUMMER SALE" in reading.text
    result = fit((970, 250), list(reading.boxes))
    assert result.verdict == CropVerdict.ADJUSTED
    planned = apply_steps(image, steps_for((970, 250)))
    moved = apply_steps(image, result.steps)
    assert moved.size == (970, 250)
    assert "SUMMER SALE" not in read_text(planned, locale="en-GB").text
    assert "SUMMER SALE" in read_text(moved, locale="en-GB").text
