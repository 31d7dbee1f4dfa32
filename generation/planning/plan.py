"""The size plan of a job: one generation per aspect group, and how each placement is cut from it.

A plan is a value: it is computed before anything is spent, returned by the API as an estimate, stored on the
job (`to_dict()` / `from_dict()`), and replayed by the workers that make renditions.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from enum import StrEnum
from fractions import Fraction

from generation.planning.aspects import (
    TALLEST,
    WIDEST,
    aspect_of,
    clamp_aspect,
    format_aspect,
    is_of_aspect,
    parse_aspect,
)
from generation.planning.derivation import PlacementDerivation, derive_placement
from generation.planning.routing import (
    Routing,
    RoutingKind,
    cheapest_covering_size,
    largest_size_of_aspect,
    parse_routing,
    size_for_budget,
)
from generation.sizing import MAX_EDGE, MAX_PIXELS, Quality, Size, output_tokens

PLAN_VERSION = 1


class PlanningError(ValueError):
    pass


@dataclass(frozen=True)
class PlacementTarget:
    """A tenant's output format: a slug and the exact size the storefront needs."""

    slug: str
    width: int
    height: int

    @property
    def size(self) -> Size:
        return Size(self.width, self.height)


class WarningCode(StrEnum):
    UPSCALED = "upscaled"
    ASPECT_CLAMPED = "aspect_clamped"
    ASPECT_MISMATCH = "aspect_mismatch"


@dataclass(frozen=True)
class PlanWarning:
    code: WarningCode
    message: str
    placement: str | None = None

    def to_dict(self) -> dict:
        return {"code": str(self.code), "message": self.message, "placement": self.placement}

    @classmethod
    def from_dict(cls, data: dict) -> PlanWarning:
        return cls(WarningCode(data["code"]), str(data["message"]), data.get("placement"))


@dataclass(frozen=True)
class GenerationGroup:
    """One generation (per locale, per image) and the placements derived from it."""

    aspect: Fraction
    size: Size
    routing: Routing
    pixel_budget: int | None
    quality: Quality
    estimated_output_tokens: int
    placements: tuple[PlacementDerivation, ...] = ()
    warnings: tuple[PlanWarning, ...] = ()

    def to_dict(self) -> dict:
        return {
            "aspect": format_aspect(self.aspect),
            "size": self.size.to_dict(),
            "routing": self.routing.to_dict(),
            "pixel_budget": self.pixel_budget,
            "quality": str(self.quality),
            "estimated_output_tokens": self.estimated_output_tokens,
            "placements": [p.to_dict() for p in self.placements],
            "warnings": [w.to_dict() for w in self.warnings],
        }

    @classmethod
    def from_dict(cls, data: dict) -> GenerationGroup:
        return cls(
            aspect=parse_aspect(data["aspect"]),
            size=Size.from_dict(data["size"]),
            routing=Routing.from_dict(data["routing"]),
            pixel_budget=data.get("pixel_budget"),
            quality=Quality(data["quality"]),
            estimated_output_tokens=int(data["estimated_output_tokens"]),
            placements=tuple(PlacementDerivation.from_dict(p) for p in data.get("placements", ())),
            warnings=tuple(PlanWarning.from_dict(w) for w in data.get("warnings", ())),
        )


@dataclass(frozen=True)
class SizePlan:
    """Estimated output tokens are per image: a job multiplies by locales and `n`."""

    routing: Routing
    quality: Quality
    groups: tuple[GenerationGroup, ...]
    version: int = PLAN_VERSION

    @property
    def estimated_output_tokens(self) -> int:
        return sum(g.estimated_output_tokens for g in self.groups)

    @property
    def warnings(self) -> tuple[PlanWarning, ...]:
        return tuple(w for g in self.groups for w in g.warnings)

    def group_for(self, slug: str) -> GenerationGroup:
        for group in self.groups:
            if any(p.slug == slug for p in group.placements):
                return group
        raise KeyError(slug)

    def to_dict(self) -> dict:
        return {
            "version": self.version,
            "routing": self.routing.to_dict(),
            "quality": str(self.quality),
            "estimated_output_tokens": self.estimated_output_tokens,
            "groups": [g.to_dict() for g in self.groups],
        }

    @classmethod
    def from_dict(cls, data: dict) -> SizePlan:
        if data.get("version") != PLAN_VERSION:
            raise PlanningError(f"size plan version {data.get('version')!r} is not {PLAN_VERSION}")
        return cls(
            routing=Routing.from_dict(data["routing"]),
            quality=Quality(data["quality"]),
            groups=tuple(GenerationGroup.from_dict(g) for g in data["groups"]),
        )


def group_placements(placements: Iterable[PlacementTarget]) -> dict[Fraction, list[PlacementTarget]]:
    """Placements by the aspect they are generated at, in order of first appearance.

    Equal aspects share a generation (1080x1920 and 2160x3840; 1024x1024 and 2048x2048); everything wider than
    3:1 (taller than 1:3) shares the 3:1 (1:3) generation, since that is the aspect each would get alone.
    """
    groups: dict[Fraction, list[PlacementTarget]] = {}
    for placement in placements:
        groups.setdefault(clamp_aspect(aspect_of(placement.width, placement.height)), []).append(placement)
    return groups


def plan_sizes(
    *,
    placements: Sequence[PlacementTarget | tuple[str, int, int]] = (),
    routing: Routing | str = "auto",
    quality: Quality | str = Quality.HIGH,
    aspect: Fraction | str | None = None,
) -> SizePlan:
    """Plan the generations of a job and the exact derivation of every placement.

    With no placements (a bare size request) the plan has one group without derived placements, at `aspect`
    (default 1:1) unless the size is explicit. An explicit size is one generation for all placements.
    """
    routing = parse_routing(routing) if isinstance(routing, str) else routing
    quality = Quality(quality)
    targets = _checked_targets(placements)
    if aspect is not None and (targets or routing.kind == RoutingKind.EXPLICIT):
        raise PlanningError("aspect applies only to a bare request: placements and explicit sizes fix it")

    if routing.kind == RoutingKind.EXPLICIT:
        size = routing.value
        groups = [_group(aspect_of(size.width, size.height), size, targets, routing, quality)]
    elif not targets:
        wanted = _bare_aspect(aspect)
        groups = [_group(wanted, _routed_size(wanted, [], routing, quality), [], routing, quality)]
    else:
        groups = [
            _group(key, _routed_size(key, members, routing, quality), members, routing, quality)
            for key, members in group_placements(targets).items()
        ]
    return SizePlan(routing=routing, quality=quality, groups=tuple(groups))


def _checked_targets(placements: Sequence[PlacementTarget | tuple[str, int, int]]) -> list[PlacementTarget]:
    targets = [p if isinstance(p, PlacementTarget) else PlacementTarget(*p) for p in placements]
    seen: set[str] = set()
    for target in targets:
        if target.slug in seen:
            raise PlanningError(f"placement {target.slug!r} appears twice")
        seen.add(target.slug)
        if not (isinstance(target.width, int) and isinstance(target.height, int)):
            raise PlanningError(f"placement {target.slug!r}: width and height must be integers")
        if target.width <= 0 or target.height <= 0:
            raise PlanningError(f"placement {target.slug!r}: {target.width}x{target.height} must be positive")
    return targets


def _bare_aspect(aspect: Fraction | str | None) -> Fraction:
    wanted = Fraction(1) if aspect is None else parse_aspect(aspect) if isinstance(aspect, str) else Fraction(aspect)
    if not TALLEST <= wanted <= WIDEST:
        raise PlanningError(f"aspect {format_aspect(wanted)} is beyond the model's 3:1 limit")
    return wanted


def _routed_size(aspect: Fraction, members: list[PlacementTarget], routing: Routing, quality: Quality) -> Size:
    if routing.kind == RoutingKind.AUTO:
        # Covering the largest edge of each direction covers every member: a group's members share an aspect,
        # or are all beyond 3:1 and share the clamped one.
        cover = Size(max((m.width for m in members), default=1), max((m.height for m in members), default=1))
        cheapest = cheapest_covering_size(aspect=aspect, cover=cover, quality=quality)
        return cheapest or largest_size_of_aspect(aspect)
    return size_for_budget(aspect=aspect, pixel_budget=routing.pixel_budget)


def _group(
    aspect: Fraction, size: Size, members: list[PlacementTarget], routing: Routing, quality: Quality
) -> GenerationGroup:
    derivations, warnings = [], []
    for member in members:
        derivation = derive_placement(slug=member.slug, source=size, target=member.size)
        derivations.append(derivation)
        warnings.extend(_warnings(derivation, routing))
    return GenerationGroup(
        aspect=aspect,
        size=size,
        routing=routing,
        pixel_budget=routing.pixel_budget,
        quality=quality,
        estimated_output_tokens=output_tokens(size.width, size.height, quality),
        placements=tuple(derivations),
        warnings=tuple(warnings),
    )


def _warnings(derivation: PlacementDerivation, routing: Routing) -> list[PlanWarning]:
    slug, target, source = derivation.slug, derivation.target, derivation.source
    found = []
    if derivation.upscaled:
        if routing.kind == RoutingKind.AUTO:
            reason = f"no legal size of its aspect covers it (ceiling {MAX_PIXELS:,} px, edge {MAX_EDGE} px)"
        elif routing.kind == RoutingKind.EXPLICIT:
            reason = "the explicit size is smaller than the placement"
        else:
            reason = f"the {routing} budget of {routing.pixel_budget:,} px is too small for it"
        found.append(
            PlanWarning(
                WarningCode.UPSCALED,
                f"{slug} ({target}) is upscaled x{derivation.scale_factor:.2f} from the {source} generation: {reason}",
                slug,
            )
        )
    placement_aspect = aspect_of(target.width, target.height)
    if not is_of_aspect(source, placement_aspect):
        kept = target.pixels / (derivation.scale_factor**2 * source.pixels)
        clamped = placement_aspect != clamp_aspect(placement_aspect)
        code = WarningCode.ASPECT_CLAMPED if clamped else WarningCode.ASPECT_MISMATCH
        why = "is beyond the model's 3:1 limit" if clamped else f"does not match the {source} generation"
        found.append(
            PlanWarning(
                code,
                f"{slug} ({target}, {float(placement_aspect):.2f}:1) {why}: the crop discards {1 - kept:.0%} of it",
                slug,
            )
        )
    return found
