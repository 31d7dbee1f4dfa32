"""The renditions every version gets up front, besides the tenant's placements."""

from __future__ import annotations

from dam.formats import LOSSY_FORMATS
from dam.renditions.spec import FilterSpec, canonical_spec, parse_spec

# A responsive srcset in WebP (400/800/1600 wide), an AVIF for clients that take it, a
# square grid tile, and a JPEG fallback for clients without WebP. Small on purpose: every
# preset costs CPU on every version of every tenant.
PRESET_SPECS: tuple[str, ...] = tuple(
    canonical_spec(text)
    for text in (
        "fill-400x400|format-webp",
        "width-800|format-webp",
        "width-1600|format-webp",
        "width-800|format-avif",
        "max-1600x1600|format-jpeg",
    )
)
PLACEMENT_PREFIX = "placement:"


def placement_spec_key(slug: str) -> str:
    """The `Rendition.spec` of a placement's rendition (the generation pipeline uses the same)."""
    return f"{PLACEMENT_PREFIX}{slug}"


def placement_quality(*, output_format: str, compression: int) -> int | None:
    """The encoder quality of a placement's files: its compression (0-100), at least 1; none for a lossless format.

    Both ways a placement's rendition is made read it (rendered from the original, cut from a generated output).
    """
    return max(1, compression) if output_format in LOSSY_FORMATS else None


def placement_filter(*, width: int, height: int, output_format: str, compression: int) -> FilterSpec:
    """A placement's exact slot as a spec: fill to its pixels around the focal point, in its encoding."""
    quality = placement_quality(output_format=output_format, compression=compression)
    return parse_spec(f"fill-{width}x{height}|format-{output_format}" + (f"|quality-{quality}" if quality else ""))
