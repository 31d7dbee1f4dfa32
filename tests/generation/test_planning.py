"""The size planner: legal generation sizes, exact placement derivations, routing, grouping and the plan value."""

from __future__ import annotations

import json
import math
from fractions import Fraction
from functools import cache
from itertools import pairwise

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image

from generation.planning import (
    BUCKET_PIXEL_BUDGET,
    TIER_PIXEL_BUDGET,
    TOKEN_BUCKETS,
    IllegalSizeError,
    PlacementDerivation,
    PlacementTarget,
    PlanningError,
    Routing,
    RoutingError,
    RoutingKind,
    SizePlan,
    StepOrder,
    Tier,
    WarningCode,
    largest_size_of_aspect,
    parse_routing,
    plan_sizes,
)
from generation.sizing import MAX_PIXELS, MIN_PIXELS, Quality, Size, is_legal_size, legal_sizes, output_tokens

REAL_PLACEMENTS = [
    (970, 250),
    (1080, 1920),
    (300, 250),
    (7680, 4320),
    (3840, 2160),
    (2048, 2048),
    (728, 90),
    (160, 600),
    (1200, 628),
    (2160, 3840),
    (1024, 1024),
]
edges = st.integers(min_value=1, max_value=8000)
target_sizes = st.one_of(st.sampled_from(REAL_PLACEMENTS), st.tuples(edges, edges))
placement_lists = st.lists(target_sizes, max_size=4).map(
    lambda sizes: [PlacementTarget(f"p{i}", w, h) for i, (w, h) in enumerate(sizes)]
)
routed = st.one_of(
    st.just(Routing.auto()),
    st.sampled_from(list(Tier)).map(Routing.tier),
    st.sampled_from(TOKEN_BUCKETS).map(Routing.bucket),
)
routings = st.one_of(routed, st.sampled_from(legal_sizes()).map(lambda s: Routing.explicit(s.width, s.height)))
qualities = st.sampled_from(list(Quality))
plans = st.builds(plan_sizes, placements=placement_lists, routing=routings, quality=qualities)
FAST = settings(max_examples=100, deadline=None)


# Independent oracles: written from the definitions, not by calling the planner's helpers.


def generation_aspect(width: int, height: int) -> Fraction:
    return min(max(Fraction(width, height), Fraction(1, 3)), Fraction(3))


def crop_waste(size: Size, aspect: Fraction) -> Fraction:
    """Pixels removed from one edge when `size` is cropped to exactly `aspect`."""
    if Fraction(size.width, size.height) >= aspect:
        return size.width - size.height * aspect
    return size.height - size.width / aspect


@cache
def legal_sizes_of_aspect(aspect: Fraction) -> tuple[Size, ...]:
    near = (s for s in legal_sizes() if abs(s.width / s.height / aspect - 1) < 0.05)
    return tuple(s for s in near if crop_waste(s, aspect) <= 8)


def replay(derivation: PlacementDerivation) -> Size:
    """Apply the steps to a size, checking every crop box lies inside the image it cuts."""
    current = derivation.source
    for step in derivation.steps():
        if step["op"] == "crop":
            box = step["box"]
            assert 0 <= box["left"] < box["right"] <= current.width
            assert 0 <= box["top"] < box["bottom"] <= current.height
            current = Size(box["right"] - box["left"], box["bottom"] - box["top"])
        else:
            assert step["op"] == "scale"
            current = Size(step["size"]["width"], step["size"]["height"])
    return current


def slugs_by_group(plan: SizePlan) -> list[list[str]]:
    return [[p.slug for p in group.placements] for group in plan.groups]


# Properties


@FAST
@given(plan=plans)
def test_every_planned_generation_size_is_legal(plan):
    for group in plan.groups:
        assert is_legal_size(group.size.width, group.size.height)


@FAST
@given(placements=placement_lists, routing=routings, quality=qualities)
def test_every_placement_ends_at_its_target_to_the_pixel(placements, routing, quality):
    plan = plan_sizes(placements=placements, routing=routing, quality=quality)
    derived = {p.slug: p for group in plan.groups for p in group.placements}
    assert sorted(derived) == sorted(p.slug for p in placements)
    for placement in placements:
        derivation = derived[placement.slug]
        assert derivation.source == plan.group_for(placement.slug).size
        assert replay(derivation) == Size(placement.width, placement.height)


@FAST
@given(plan=plans)
def test_scaling_is_uniform_up_to_one_pixel(plan):
    for group in plan.groups:
        for derivation in group.placements:
            source, target = derivation.source, derivation.target
            factor = max(Fraction(target.width, source.width), Fraction(target.height, source.height))
            # The image handed to the scale step, and what a perfectly uniform factor would make of it.
            before = derivation.crop_box.size if derivation.order == StepOrder.CROP_THEN_SCALE else source
            assert abs(derivation.scale_to.width - before.width * factor) <= 1
            assert abs(derivation.scale_to.height - before.height * factor) <= 1
            assert derivation.aspect_distortion_px <= 1
            # The crop happens where there are more pixels: before a downscale, after an upscale.
            assert (derivation.order == StepOrder.SCALE_THEN_CROP) == (factor > 1)
            assert derivation.scale_factor == pytest.approx(float(factor))


@FAST
@given(placements=placement_lists.filter(bool), quality=qualities)
def test_auto_is_never_more_expensive_than_any_covering_size_of_the_group_aspect(placements, quality):
    plan = plan_sizes(placements=placements, routing="auto", quality=quality)
    targets = {p.slug: p for p in placements}
    for group in plan.groups:
        members = [targets[d.slug] for d in group.placements]
        assert {generation_aspect(m.width, m.height) for m in members} == {group.aspect}
        same_aspect = legal_sizes_of_aspect(group.aspect)
        assert group.size in same_aspect
        need_w, need_h = max(m.width for m in members), max(m.height for m in members)
        covering = [s for s in same_aspect if s.width >= need_w and s.height >= need_h]
        if covering:
            assert group.size.width >= need_w and group.size.height >= need_h
            assert group.estimated_output_tokens <= min(output_tokens(s.width, s.height, quality) for s in covering)
            assert not any(d.upscaled for d in group.placements)
        else:
            assert group.size.pixels == max(s.pixels for s in same_aspect)


@FAST
@given(placements=placement_lists.filter(bool), quality=qualities, routing=routed)
def test_auto_costs_no_more_than_a_tier_or_bucket_that_also_covers(placements, quality, routing):
    auto = plan_sizes(placements=placements, routing="auto", quality=quality)
    other = plan_sizes(placements=placements, routing=routing, quality=quality)
    assert slugs_by_group(auto) == slugs_by_group(other)
    for auto_group, other_group in zip(auto.groups, other.groups, strict=True):
        if not any(d.upscaled for d in other_group.placements):
            assert auto_group.estimated_output_tokens <= other_group.estimated_output_tokens


@FAST
@given(placements=placement_lists, routing=st.one_of(st.sampled_from(list(Tier)), st.sampled_from(TOKEN_BUCKETS)))
def test_tiers_and_buckets_pick_the_size_of_the_aspect_nearest_their_budget(placements, routing):
    routing = Routing.tier(routing) if isinstance(routing, Tier) else Routing.bucket(routing)
    plan = plan_sizes(placements=placements, routing=routing, quality=Quality.MEDIUM)
    budget = (
        TIER_PIXEL_BUDGET[routing.value] if routing.kind == RoutingKind.TIER else BUCKET_PIXEL_BUDGET[routing.value]
    )
    for group in plan.groups:
        assert group.pixel_budget == budget
        same_aspect = legal_sizes_of_aspect(group.aspect)
        assert group.size in same_aspect
        best = min(abs(math.log(s.pixels / budget)) for s in same_aspect)
        assert abs(math.log(group.size.pixels / budget)) == pytest.approx(best)


@FAST
@given(placements=placement_lists, routing=routed)
def test_placements_share_a_generation_exactly_when_they_share_a_generation_aspect(placements, routing):
    plan = plan_sizes(placements=placements, routing=routing, quality=Quality.LOW)
    aspects = [generation_aspect(p.width, p.height) for p in placements]
    assert len(plan.groups) == (len(set(aspects)) if placements else 1)
    for group in plan.groups:
        assert {generation_aspect(d.target.width, d.target.height) for d in group.placements} <= {group.aspect}


@FAST
@given(width=st.integers(1, 2000), height=st.integers(1, 2000), k=st.integers(2, 4), routing=routed)
def test_multiples_of_a_placement_share_its_generation(width, height, k, routing):
    plan = plan_sizes(placements=[("small", width, height), ("large", k * width, k * height)], routing=routing)
    assert slugs_by_group(plan) == [["small", "large"]]


@FAST
@given(plan=plans)
def test_plans_round_trip_through_json(plan):
    stored = json.loads(json.dumps(plan.to_dict()))
    assert SizePlan.from_dict(stored) == plan
    assert stored["estimated_output_tokens"] == sum(g["estimated_output_tokens"] for g in stored["groups"])


@FAST
@given(plan=plans)
def test_estimates_are_the_output_token_formula_and_warnings_name_every_upscale(plan):
    for group in plan.groups:
        assert group.estimated_output_tokens == output_tokens(group.size.width, group.size.height, plan.quality)
        upscaled = {w.placement for w in group.warnings if w.code == WarningCode.UPSCALED}
        assert upscaled == {d.slug for d in group.placements if d.upscaled}


@FAST
@given(placements=placement_lists, size=st.sampled_from(legal_sizes()))
def test_an_explicit_size_bypasses_routing(placements, size):
    plan = plan_sizes(placements=placements, routing=f"{size.width}x{size.height}", quality=Quality.HIGH)
    assert [g.size for g in plan.groups] == [size]
    assert plan.groups[0].pixel_budget is None
    assert slugs_by_group(plan) == [[p.slug for p in placements]]


# Examples: real placements, auto routing


def auto_plan(*placements: tuple[str, int, int], quality: Quality = Quality.HIGH) -> SizePlan:
    return plan_sizes(placements=placements, routing="auto", quality=quality)


def test_uhd_3840x2160_is_generated_as_is_with_no_steps():
    plan = auto_plan(("uhd", 3840, 2160))
    (group,) = plan.groups
    assert group.size == Size(3840, 2160)
    assert group.placements[0].steps() == []
    assert group.warnings == ()
    assert plan.estimated_output_tokens == output_tokens(3840, 2160, Quality.HIGH)


def test_8k_7680x4320_is_generated_at_the_largest_16_9_size_and_upscaled_with_a_warning():
    plan = auto_plan(("8k", 7680, 4320))
    (group,) = plan.groups
    assert group.size == largest_size_of_aspect(Fraction(16, 9)) == Size(3840, 2160)
    (derivation,) = group.placements
    # An exact 2x: one uniform scale, nothing to crop.
    assert derivation.steps() == [{"op": "scale", "size": {"width": 7680, "height": 4320}}]
    (warning,) = group.warnings
    assert (warning.code, warning.placement) == (WarningCode.UPSCALED, "8k")
    assert "x2.00" in warning.message


def test_story_1080x1920_is_cut_from_a_covering_generation_without_resampling():
    plan = auto_plan(("story", 1080, 1920))
    (group,) = plan.groups
    (derivation,) = group.placements
    # 1080 is not on the 16 px grid but 1920 is: the cheapest covering 9:16 size keeps the height, so a crop of
    # the extra width suffices and the pixels are never resampled.
    assert group.size.height == 1920 and group.size.width - 1080 <= 16
    assert [step["op"] for step in derivation.steps()] == ["crop"]
    assert group.warnings == ()


def test_medium_rectangle_300x250_under_the_floor_is_generated_legal_and_scaled_down():
    plan = auto_plan(("mrec", 300, 250))
    (group,) = plan.groups
    assert group.aspect == Fraction(6, 5)
    assert group.size.pixels >= MIN_PIXELS
    (derivation,) = group.placements
    assert derivation.order == StepOrder.CROP_THEN_SCALE
    assert derivation.scale_factor < 0.5
    assert group.warnings == ()


def test_leaderboard_970x250_beyond_3_to_1_is_generated_at_3_to_1_covering_it_and_cropped():
    plan = auto_plan(("leaderboard", 970, 250))
    (group,) = plan.groups
    assert group.aspect == Fraction(3)
    assert group.size.width >= 970 and group.size.height >= 250
    (derivation,) = group.placements
    assert not derivation.upscaled
    assert [step["op"] for step in derivation.steps()] == ["crop", "scale"]
    assert [w.code for w in group.warnings] == [WarningCode.ASPECT_CLAMPED]


@pytest.mark.parametrize("target", [(970, 250), (300, 250), (1080, 1920), (160, 600)])
def test_steps_applied_with_pillow_give_the_target(target):
    (group,) = auto_plan(("p", *target)).groups
    image = Image.new("RGB", (group.size.width, group.size.height))
    for step in group.placements[0].steps():
        if step["op"] == "crop":
            box = step["box"]
            image = image.crop((box["left"], box["top"], box["right"], box["bottom"]))
        else:
            image = image.resize((step["size"]["width"], step["size"]["height"]), Image.Resampling.LANCZOS)
    assert image.size == target


@pytest.mark.parametrize(("small", "large"), [((1080, 1920), (2160, 3840)), ((1024, 1024), (2048, 2048))])
def test_same_aspect_placements_share_one_generation_covering_the_larger(small, large):
    plan = auto_plan(("small", *small), ("large", *large))
    (group,) = plan.groups
    assert group.size.width >= large[0] and group.size.height >= large[1]


def test_one_generation_per_aspect_group_and_the_estimate_sums_them():
    plan = auto_plan(("leaderboard", 970, 250), ("skyscraper", 728, 90), ("story", 1080, 1920), ("uhd", 3840, 2160))
    assert slugs_by_group(plan) == [["leaderboard", "skyscraper"], ["story"], ["uhd"]]
    assert plan.estimated_output_tokens == sum(g.estimated_output_tokens for g in plan.groups)


def test_lower_quality_never_costs_more_for_the_same_placements():
    placements = [("leaderboard", 970, 250), ("story", 1080, 1920), ("mrec", 300, 250), ("uhd", 3840, 2160)]
    costs = [auto_plan(*placements, quality=q).estimated_output_tokens for q in (Quality.LOW, Quality.MEDIUM)]
    assert costs[0] < costs[1] < auto_plan(*placements, quality=Quality.HIGH).estimated_output_tokens


# Bare requests, routing vocabulary, budgets


def test_a_bare_request_is_one_group_without_placements():
    for routing in ("auto", "image", "36", "1536x1024"):
        plan = plan_sizes(routing=routing, quality=Quality.MEDIUM)
        (group,) = plan.groups
        assert group.placements == () and group.warnings == ()
    assert plan.groups[0].size == Size(1536, 1024)


def test_a_bare_request_takes_an_aspect_and_auto_takes_its_cheapest_size():
    (group,) = plan_sizes(routing="auto", aspect="16:9", quality=Quality.HIGH).groups
    same_aspect = legal_sizes_of_aspect(Fraction(16, 9))
    assert group.size in same_aspect
    assert group.estimated_output_tokens == min(output_tokens(s.width, s.height, Quality.HIGH) for s in same_aspect)


def test_aspect_is_refused_where_placements_or_an_explicit_size_fix_it():
    with pytest.raises(PlanningError):
        plan_sizes(placements=[("story", 1080, 1920)], aspect="16:9")
    with pytest.raises(PlanningError):
        plan_sizes(routing="1024x1024", aspect="16:9")
    with pytest.raises(PlanningError, match="3:1"):
        plan_sizes(aspect="4:1")


def test_bad_placements_are_refused():
    with pytest.raises(PlanningError, match="twice"):
        plan_sizes(placements=[("a", 100, 100), ("a", 200, 200)])
    with pytest.raises(PlanningError, match="positive"):
        plan_sizes(placements=[("a", 0, 100)])


def test_routing_vocabulary():
    assert parse_routing("auto") == Routing.auto()
    assert parse_routing("XLIMAGE") == Routing.tier(Tier.XLIMAGE)
    assert parse_routing("48") == parse_routing("bucket:48") == Routing.bucket(48)
    assert parse_routing("2048x1152") == Routing.explicit(2048, 1152)
    with pytest.raises(IllegalSizeError) as caught:
        parse_routing("1000x1000")
    assert Size(1008, 1008) in caught.value.nearest
    for text in ("huge", "bucket:20", "20"):
        with pytest.raises(RoutingError):
            parse_routing(text)
    for routing in (Routing.auto(), Routing.tier("image"), Routing.bucket(16), Routing.explicit(1024, 1536)):
        assert Routing.from_dict(json.loads(json.dumps(routing.to_dict()))) == routing


def test_bucket_budgets_span_floor_to_ceiling_in_equal_ratios_and_land_near_the_tiers():
    budgets = [BUCKET_PIXEL_BUDGET[b] for b in TOKEN_BUCKETS]
    assert budgets[0] == MIN_PIXELS == TIER_PIXEL_BUDGET[Tier.SMIMAGE]
    assert budgets[-1] == MAX_PIXELS == TIER_PIXEL_BUDGET[Tier.XLIMAGE]
    ratios = [b / a for a, b in pairwise(budgets)]
    assert max(ratios) == pytest.approx(min(ratios), rel=1e-5)
    # The 1 MP tier sits within half a bucket step of a bucket.
    step = ratios[0]
    assert min(abs(math.log(b / TIER_PIXEL_BUDGET[Tier.IMAGE])) for b in budgets) < math.log(step) / 2


def test_a_stored_plan_of_another_version_is_refused():
    stored = auto_plan(("story", 1080, 1920)).to_dict()
    stored["version"] = 99
    with pytest.raises(PlanningError, match="version"):
        SizePlan.from_dict(stored)
