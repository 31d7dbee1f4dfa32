"""The filter-spec language and the crop geometry: pure functions, so properties more than examples."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from dam.renditions.geometry import fill_box, plan_for
from dam.renditions.presets import PRESET_SPECS, placement_filter
from dam.renditions.spec import MAX_EDGE, SpecError, parse_spec


@pytest.mark.parametrize(
    ("text", "canonical"),
    [
        ("fill-800x600-c50", "fill-800x600-c50"),
        ("fill-800x600-c0", "fill-800x600"),
        ("format-webp|width-400", "width-400|format-webp"),
        ("WIDTH-400 | FORMAT-JPG | quality-70", "width-400|format-jpeg|quality-70"),
        ("max-1600x1600", "max-1600x1600"),
        ("original|format-avif", "format-avif"),
        ("original", "original"),
        ("height-300|quality-80", "height-300|quality-80"),
    ],
)
def test_specs_parse_to_one_canonical_text(text, canonical):
    assert parse_spec(text).canonical == canonical
    assert parse_spec(canonical).canonical == canonical


@pytest.mark.parametrize(
    ("text", "complaint"),
    [
        ("", "empty"),
        ("fill-800", "unknown operation"),
        ("resize-800x600", "unknown operation"),
        ("width-0", "width must be from 1"),
        (f"width-{MAX_EDGE + 1}", "width must be from 1"),
        ("width-400|max-800x800", "only one resize operation"),
        ("format-webp|format-png", "only one format"),
        ("format-gif", "unknown format"),
        ("format-svg", "unknown format"),
        ("quality-0", "quality must be from 1 to 100"),
        ("quality-101", "quality must be from 1 to 100"),
        ("fill-10x10-c101", "closeness must be from 0 to 100"),
        ("format-png|quality-80", "PNG is lossless"),
        ("fill-16384x16384", "output pixels"),
        ("width-400|", "(empty)"),
        ("w" * 300, "at most 200 characters"),
    ],
)
def test_bad_specs_are_refused_naming_the_rule(text, complaint):
    with pytest.raises(SpecError, match=complaint.replace("(", r"\(").replace(")", r"\)")):
        parse_spec(text)


def test_defaults_follow_the_source_and_the_format():
    spec = parse_spec("width-400")
    assert (spec.output_format("png"), spec.output_quality("png")) == ("png", None)
    assert (spec.output_format("jpeg"), spec.output_quality("jpeg")) == ("jpeg", 85)
    assert parse_spec("width-400|format-avif").output_quality("png") == 60
    assert parse_spec("width-400|format-webp|quality-55").output_quality("png") == 55
    # Format negotiation keeps the geometry and drops a quality that belonged to the other format.
    assert parse_spec("fill-400x300-c20|format-jpeg|quality-70").with_format("avif").canonical == (
        "fill-400x300-c20|format-avif"
    )


def test_presets_are_canonical_and_placements_become_exact_fills():
    assert all(parse_spec(text).canonical == text for text in PRESET_SPECS)
    spec = placement_filter(width=970, height=250, output_format="jpeg", compression=82)
    assert spec.canonical == "fill-970x250|format-jpeg|quality-82"
    assert placement_filter(width=64, height=64, output_format="png", compression=85).canonical == (
        "fill-64x64|format-png"
    )


sizes = st.tuples(st.integers(1, 5000), st.integers(1, 5000))
fractions = st.tuples(st.floats(0, 1), st.floats(0, 1))


@given(source=sizes, target=sizes, focal=fractions, closeness=st.integers(0, 100))
def test_a_fill_box_lies_inside_the_image_has_the_target_aspect_and_holds_the_focal_point(
    source, target, focal, closeness
):
    box = fill_box(source, target, focal=focal, closeness=closeness)
    assert 0 <= box.left < box.right <= source[0]
    assert 0 <= box.top < box.bottom <= source[1]
    # Whole pixels: the box's aspect is the target's up to the rounding of each edge (half a pixel),
    # unless an edge had to be kept at one pixel.
    aspect = target[0] / target[1]
    if box.width > 1 and box.height > 1:
        assert abs(box.width - aspect * box.height) <= 0.5 + 0.5 * aspect + 1e-9
    fx, fy = focal[0] * source[0], focal[1] * source[1]
    assert box.left - 1 <= fx <= box.right + 1
    assert box.top - 1 <= fy <= box.bottom + 1


@given(source=sizes, target=sizes, focal=fractions)
def test_closeness_only_ever_zooms_in(source, target, focal):
    widths = [fill_box(source, target, focal=focal, closeness=c).width for c in (0, 25, 50, 75, 100)]
    assert widths == sorted(widths, reverse=True)


def test_closeness_100_keeps_the_targets_own_pixels_when_the_source_is_larger():
    box = fill_box((4000, 3000), (400, 300), focal=(0.5, 0.5), closeness=100)
    assert (box.width, box.height) == (400, 300)
    assert (box.left, box.top) == (1800, 1350)


def test_a_centred_fill_without_focal_point_is_the_classic_centre_crop():
    box = fill_box((3840, 2160), (1000, 1000))
    assert (box.left, box.top, box.right, box.bottom) == (840, 0, 3000, 2160)


@given(source=sizes, spec=st.sampled_from(["width-800", "height-600", "max-1600x1600", "min-400x400"]))
def test_resizing_operations_never_enlarge_and_keep_the_aspect(source, spec):
    plan = plan_for(parse_spec(spec), source)
    assert plan.box is None
    assert plan.size[0] <= source[0] and plan.size[1] <= source[1]
    # One scale factor for both edges, as the operation defines it; each edge is the exact scaled
    # length rounded to whole pixels (at least one), so the aspect is kept up to that rounding.
    (kind, size) = spec.split("-")
    w, h = (int(n) for n in size.split("x")) if "x" in size else (int(size), int(size))
    factor = {
        "width": w / source[0],
        "height": h / source[1],
        "max": min(w / source[0], h / source[1]),
        "min": max(w / source[0], h / source[1]),
    }[kind]
    if factor >= 1:
        assert plan.size == source
    else:
        for edge, length in zip(plan.size, source, strict=True):
            assert abs(edge - max(1.0, length * factor)) <= 0.5 + 1e-9


def test_fill_always_yields_exactly_the_requested_size_even_from_a_smaller_source():
    assert plan_for(parse_spec("fill-2048x2048"), (1024, 768)).size == (2048, 2048)
    assert plan_for(parse_spec("width-800"), (3840, 2160)).size == (800, 450)
    assert plan_for(parse_spec("max-1600x1600"), (3840, 2160)).size == (1600, 900)
    assert plan_for(parse_spec("min-400x400"), (3840, 2160)).size == (711, 400)
