"""A job request, normalised and checked before anything is stored or spent.

Pure functions over plain values (the placements and policy are passed in), so the same
rules serve the API, the admin's generate form and the cost estimator.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import asdict, dataclass, field
from typing import Any

from django.core.exceptions import ValidationError

from dam.formats import GENERATED_FORMATS
from generation.planning import (
    IllegalSizeError,
    PlacementTarget,
    PlanningError,
    Routing,
    RoutingError,
    RoutingKind,
    SizePlan,
    Tier,
    aspect_of,
    cheapest_covering_size,
    clamp_aspect,
    largest_size_of_aspect,
    plan_sizes,
)
from generation.sizing import Quality, Size, is_legal_size
from governance.safety.screening import bidi_control_in
from tenants.errors import ServiceError

MAX_N = 10
MAX_LOCALES = 20
MAX_PROMPT_CHARS = 32_000
MAX_COPY_CHARS = 500
OUTPUT_FORMATS = GENERATED_FORMATS
BACKGROUNDS = ("auto", "opaque", "transparent")
_LOCALE = re.compile(r"^[a-z]{2,3}(-[A-Za-z0-9]{2,8})*$")


@dataclass(frozen=True)
class PlacementSpec:
    slug: str
    width: int
    height: int
    output_format: str
    compression: int


@dataclass(frozen=True)
class JobSpec:
    """Everything a job needs, resolved: defaults applied, placements looked up, sizes planned."""

    prompt: str
    quality: str
    n: int
    output_format: str
    output_compression: int | None
    background: str
    routing: Routing
    plan: SizePlan
    placements: tuple[PlacementSpec, ...]
    locales: dict[str, str]
    tags: tuple[str, ...] = ()
    collection: str | None = None
    priority: str | None = None  # the scheduler's lane; None: the submitter's default
    body: dict[str, Any] = field(default_factory=dict)

    @property
    def units(self) -> int:
        """Provider calls: one per locale per aspect group."""
        return max(1, len(self.locales)) * len(self.plan.groups)

    @property
    def estimated_output_tokens(self) -> int:
        return self.plan.estimated_output_tokens * self.n * max(1, len(self.locales))


def request_fingerprint(body: dict[str, Any], *, mask_sha256: str = "") -> str:
    canonical = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(f"{canonical}|{mask_sha256}".encode()).hexdigest()


def _routing_from(body: dict[str, Any], *, edit_size: Size | None, quality: str) -> Routing:
    size, routing = body.get("size"), body.get("routing")
    if size is not None and routing is not None:
        raise ServiceError("give either size or routing, not both", field="size")
    if routing is not None:
        if not isinstance(routing, dict):
            raise ServiceError(
                'must be {"mode": "tier", "tier": ...} or {"mode": "bucket", "bucket": ...}', field="routing"
            )
        mode = routing.get("mode")
        try:
            if mode == "tier":
                return Routing.tier(routing.get("tier"))
            if mode == "bucket":
                return Routing.bucket(int(routing.get("bucket")))
            if mode == "auto":
                return Routing.auto()
        except (RoutingError, ValueError, TypeError) as exc:
            raise ServiceError(str(exc), field="routing") from None
        raise ServiceError(f"mode must be tier, bucket or auto; tiers {', '.join(Tier)}", field="routing")
    if size is None and edit_size is not None:
        # An edit keeps its source's size unless told otherwise, or the cheapest legal size of
        # its aspect that still covers it (an uploaded photo's size is rarely legal).
        if is_legal_size(edit_size.width, edit_size.height):
            return Routing.explicit(edit_size.width, edit_size.height)
        aspect = clamp_aspect(aspect_of(edit_size.width, edit_size.height))
        legal = cheapest_covering_size(aspect=aspect, cover=edit_size, quality=quality) or largest_size_of_aspect(
            aspect
        )
        return Routing.explicit(legal.width, legal.height)
    if size is None or size == "auto":
        return Routing.auto()
    if not isinstance(size, str):
        raise ServiceError("must be WIDTHxHEIGHT or auto", field="size")
    try:
        parsed = Size.parse(size)
    except ValueError as exc:
        raise ServiceError(str(exc), field="size") from None
    try:
        return Routing.explicit(parsed.width, parsed.height)
    except IllegalSizeError as exc:
        raise ServiceError(str(exc), field="size", code="illegal_size") from None


def _locales_from(raw: Any) -> dict[str, str]:
    if raw in (None, {}):
        return {}
    if not isinstance(raw, dict):
        raise ServiceError("must be an object mapping locale codes to the in-image copy", field="locales")
    if len(raw) > MAX_LOCALES:
        raise ServiceError(f"at most {MAX_LOCALES} locales per job", field="locales")
    locales: dict[str, str] = {}
    for code, copy in raw.items():
        if not isinstance(code, str) or not _LOCALE.match(code):
            raise ServiceError(f"{code!r} is not a BCP 47 language tag (e.g. ja, zh-Hant, en-GB)", field="locales")
        if not isinstance(copy, str) or not copy.strip():
            raise ServiceError(f"the copy for {code!r} must be non-empty text", field="locales")
        if len(copy) > MAX_COPY_CHARS:
            raise ServiceError(f"the copy for {code!r} is longer than {MAX_COPY_CHARS} characters", field="locales")
        _refuse_bidi_controls(copy, field=f"locales.{code}", label=f"the copy for {code!r}")
        locales[code] = copy.strip()
    return locales


def _refuse_bidi_controls(text: str, *, field: str, label: str) -> None:
    # An override or isolate makes a reader (a reviewer, the brand's staff) see the text in another order
    # than the model reads it; no prompt or in-image copy needs one, so it is refused rather than stripped.
    if control := bidi_control_in(text):
        raise ServiceError(
            f"{label} contains the bidirectional control {control} (embeddings, overrides and isolates are refused)",
            field=field,
            code="bidi_control",
        )


# Every key a job request may carry; any other is a 400 naming it (a misspelt `collecton` did nothing).
REQUEST_FIELDS = frozenset(
    {
        "prompt",
        "placements",
        "locales",
        "quality",
        "n",
        "size",
        "routing",
        "output_format",
        "output_compression",
        "background",
        "source_version",
        "collection",
        "tags",
        "priority",
    }
)
PRIORITIES = ("interactive", "bulk")


def refuse_unknown_fields(body: Any) -> None:
    if not isinstance(body, dict):
        raise ServiceError("the request must be a JSON object", field="non_field_errors")
    unknown = sorted(str(key) for key in body if key not in REQUEST_FIELDS)
    if unknown:
        message = f"unknown field; a job request takes {', '.join(sorted(REQUEST_FIELDS))}"
        raise ValidationError({key: ValidationError(message, code="unknown_field") for key in unknown})


def build_job_spec(
    *,
    body: dict[str, Any],
    placements: list[PlacementSpec],
    default_quality: str,
    default_output_format: str,
    edit_size: Size | None = None,
) -> JobSpec:
    """Validate and resolve a request. Raises ServiceError naming the field and the rule."""
    prompt = body.get("prompt")
    if not isinstance(prompt, str) or not prompt.strip():
        raise ServiceError("a non-empty prompt is required", field="prompt")
    if len(prompt) > MAX_PROMPT_CHARS:
        raise ServiceError(f"at most {MAX_PROMPT_CHARS} characters", field="prompt")
    _refuse_bidi_controls(prompt, field="prompt", label="the prompt")
    quality = body.get("quality") or default_quality
    if quality not in Quality.__members__.values():
        raise ServiceError(f"must be one of {', '.join(Quality)}", field="quality")
    n = body.get("n", 1)
    if not isinstance(n, int) or isinstance(n, bool) or not 1 <= n <= MAX_N:
        raise ServiceError(f"must be an integer from 1 to {MAX_N}", field="n")
    output_format = body.get("output_format") or default_output_format
    if output_format not in OUTPUT_FORMATS:
        raise ServiceError(f"must be one of {', '.join(OUTPUT_FORMATS)}", field="output_format")
    compression = body.get("output_compression")
    if compression is not None and (not isinstance(compression, int) or not 0 <= compression <= 100):
        raise ServiceError("must be an integer from 0 to 100", field="output_compression")
    background = body.get("background") or "auto"
    if background not in BACKGROUNDS:
        raise ServiceError(f"must be one of {', '.join(BACKGROUNDS)}", field="background")
    if background == "transparent" and output_format == "jpeg":
        raise ServiceError("a transparent background needs png or webp", field="background")
    locales = _locales_from(body.get("locales"))
    routing = _routing_from(body, edit_size=edit_size, quality=quality)
    targets = [PlacementTarget(p.slug, p.width, p.height) for p in placements]
    # A bare edit at a routed size keeps the source's aspect ratio.
    aspect = (
        clamp_aspect(aspect_of(edit_size.width, edit_size.height))
        if edit_size is not None and not targets and routing.kind != RoutingKind.EXPLICIT
        else None
    )
    try:
        plan = plan_sizes(placements=targets, routing=routing, quality=quality, aspect=aspect)
    except (PlanningError, RoutingError, IllegalSizeError) as exc:
        raise ServiceError(str(exc), field="placements" if targets else "size") from None
    tags = body.get("tags") or []
    if not isinstance(tags, list) or not all(isinstance(t, str) for t in tags):
        raise ServiceError("must be a list of strings", field="tags")
    collection = body.get("collection")
    if collection is not None and not isinstance(collection, str):
        raise ServiceError("must be a collection slug", field="collection")
    priority = body.get("priority")
    if priority is not None and priority not in PRIORITIES:
        raise ServiceError(f"must be one of {', '.join(PRIORITIES)}", field="priority")
    return JobSpec(
        prompt=prompt.strip(),
        quality=str(quality),
        n=n,
        output_format=output_format,
        output_compression=compression,
        background=background,
        routing=routing,
        plan=plan,
        placements=tuple(placements),
        locales=locales,
        tags=tuple(tags),
        collection=collection,
        priority=priority,
        body=body,
    )


def placement_snapshot(spec: JobSpec) -> list[dict[str, Any]]:
    return [asdict(p) for p in spec.placements]
