"""The model's size rules, the output-token formula and explicit-size validation."""

from __future__ import annotations

import json
import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from generation.sizing import (
    MAX_EDIT_INPUT_IMAGE_TOKENS,
    MAX_PIXELS,
    MIN_PIXELS,
    NAMED_SIZES,
    IllegalSizeError,
    Quality,
    Size,
    SizeRule,
    image_input_tokens,
    is_legal_size,
    legal_sizes,
    nearest_legal_sizes,
    output_tokens,
    parse_size,
    size_violations,
    validate_size,
    validate_size_text,
)


@pytest.mark.parametrize(
    ("width", "height", "quality", "tokens"),
    [(1024, 1024, Quality.HIGH, 7024), (1536, 1024, Quality.HIGH, 5488)],
)
def test_output_tokens_match_the_published_examples(width, height, quality, tokens):
    assert output_tokens(width, height, quality) == tokens


def test_output_tokens_grow_with_quality():
    for width, height in NAMED_SIZES:
        low, medium, high = (output_tokens(width, height, q) for q in (Quality.LOW, Quality.MEDIUM, Quality.HIGH))
        assert low < medium < high


def test_named_sizes_are_legal():
    assert all(is_legal_size(w, h) for w, h in NAMED_SIZES)
    assert {Size(w, h) for w, h in NAMED_SIZES} <= set(legal_sizes())


@pytest.mark.parametrize(
    ("width", "height", "rule"),
    [
        (1000, 1000, SizeRule.MULTIPLE_OF_16),
        (3856, 2000, SizeRule.MAX_EDGE),
        (3072, 1008, SizeRule.MAX_ASPECT),
        (512, 512, SizeRule.MIN_PIXELS),
        (3840, 2176, SizeRule.MAX_PIXELS),
        (0, 1024, SizeRule.FORMAT),
    ],
)
def test_validate_size_names_the_one_rule_broken(width, height, rule):
    with pytest.raises(IllegalSizeError) as caught:
        validate_size(width, height)
    assert caught.value.rules == (rule,)
    assert str(rule) in str(caught.value)
    assert caught.value.nearest and all(is_legal_size(s.width, s.height) for s in caught.value.nearest)


def test_1000x1000_suggests_the_grid_neighbours_named_sizes_and_auto():
    with pytest.raises(IllegalSizeError) as caught:
        validate_size(1000, 1000)
    error = caught.value
    assert error.rules == (SizeRule.MULTIPLE_OF_16,)
    assert {Size(1008, 1008), Size(992, 992), Size(1008, 992), Size(992, 1008)} == set(error.nearest)
    body = json.loads(json.dumps(error.to_dict()))
    assert body["violations"][0]["rule"] == "multiple_of_16"
    assert body["nearest"][0] in {"1008x1008", "992x992"}
    assert body["named_sizes"] == [f"{w}x{h}" for w, h in NAMED_SIZES]
    assert "auto" in str(error)
    assert "1024x1024" in str(error)


def test_validate_size_returns_legal_sizes_unchanged():
    for width, height in NAMED_SIZES:
        assert validate_size(width, height) == Size(width, height)


def test_validate_size_text_accepts_named_sizes_and_auto():
    assert validate_size_text("auto") is None
    assert validate_size_text(" AUTO ") is None
    assert validate_size_text("1536x1024") == Size(1536, 1024)
    with pytest.raises(IllegalSizeError):
        validate_size_text("300x250")
    with pytest.raises(ValueError, match="WIDTHxHEIGHT"):
        validate_size_text("large")


def test_parse_size_rejects_malformed_text():
    assert parse_size("1536X1024") == (1536, 1024)
    for text in ("1536", "1536x", "x1024", "-16x16", "1536x1024x3"):
        with pytest.raises(ValueError, match="WIDTHxHEIGHT"):
            parse_size(text)


def test_size_round_trips_through_json():
    size = Size(2048, 1152)
    assert Size.from_dict(json.loads(json.dumps(size.to_dict()))) == size
    assert Size.parse(str(size)) == size


def test_legal_sizes_are_enumerated_once():
    assert legal_sizes() is legal_sizes()


edges = st.integers(min_value=1, max_value=8000)
# Most random edges are off the 16 px grid; mix in grid edges so legal sizes are drawn too.
grid_or_any_edges = st.one_of(edges, st.integers(min_value=1, max_value=260).map(lambda k: 16 * k))
LEGAL = frozenset(legal_sizes())


@settings(max_examples=300)
@given(width=grid_or_any_edges, height=grid_or_any_edges)
def test_legal_size_enumeration_is_exactly_the_rules(width, height):
    assert (Size(width, height) in LEGAL) == is_legal_size(width, height)


def test_every_enumerated_size_obeys_every_rule():
    for size in legal_sizes():
        assert size.width % 16 == 0 and size.height % 16 == 0
        assert max(size.width, size.height) <= 3840
        assert max(size.width, size.height) <= 3 * min(size.width, size.height)
        assert MIN_PIXELS <= size.pixels <= MAX_PIXELS


def _log_distance(size: Size, width: int, height: int) -> float:
    return math.hypot(math.log(size.width / width), math.log(size.height / height))


@settings(max_examples=40, deadline=None)
@given(width=grid_or_any_edges, height=grid_or_any_edges)
def test_validation_either_accepts_or_names_every_broken_rule_and_the_nearest_sizes(width, height):
    if is_legal_size(width, height):
        assert validate_size(width, height) == Size(width, height)
        assert nearest_legal_sizes(width, height, count=1) == (Size(width, height),)
        return
    with pytest.raises(IllegalSizeError) as caught:
        validate_size(width, height)
    assert set(caught.value.rules) == {v.rule for v in size_violations(width, height)}
    nearest = caught.value.nearest
    distances = [_log_distance(s, width, height) for s in nearest]
    assert distances == sorted(distances)
    # Brute force: no legal size is closer than the first suggestion.
    assert min(_log_distance(s, width, height) for s in legal_sizes()) == pytest.approx(distances[0])


# An edit's input image, as OpenAI's vision accounting counts it: the estimator, the submission's cost
# ceiling and the emulator all read this one formula from `generation.sizing`.


@pytest.mark.parametrize(
    ("size", "tokens"),
    # OpenAI's published examples: 1024 square -> 768 square, 4 tiles; 2048x4096 -> 768x1536, 6 tiles.
    [((1024, 1024), 765), ((2048, 4096), 1105), ((512, 512), 85 + 170)],
)
def test_image_input_tokens_follow_the_published_tile_formula(size, tokens):
    assert image_input_tokens(*size) == tokens


def test_the_edit_input_ceiling_is_derived_from_the_formula():
    # 2048-px fit, 768-px short edge: at most 4 x 2 tiles of 512 px, 85 + 170 x 8. Pinned so that a change
    # of the formula's constants shows up here as a changed number, not only as a changed cost ceiling.
    assert MAX_EDIT_INPUT_IMAGE_TOKENS == 1445
    assert image_input_tokens(2048, 768) == MAX_EDIT_INPUT_IMAGE_TOKENS  # reached, so no looser than needed


@settings(max_examples=500, deadline=None)
@given(width=st.integers(1, 20_000), height=st.integers(1, 20_000))
def test_no_input_image_counts_more_than_the_edit_ceiling(width, height):
    assert image_input_tokens(width, height) <= MAX_EDIT_INPUT_IMAGE_TOKENS
