"""The "published" latency model: how long gpt-image-2 takes to answer, from published measurements.

Figures (1024x1024, one image), as quoted in the product brief (docs/emulator.md, Latency model):
low 16-22 s, medium 39-43 s, high 120-180 s ("often over 2 minutes"). A call's latency is drawn
uniformly in its quality's range with the emulator's seeded rng, then scaled:
- by output pixels relative to 1024x1024, sub-linearly: (pixels / 1048576) ** 0.5. Larger images take
  longer, but not proportionally (the brief's "up to ~4 min at 1536x1024" for high fits 147-220 s);
- by 1 + 0.1 * (n - 1): the service generates the n images of one request in parallel;
- by the deployment's `slow_factor` and the config's `time_scale` (tests use 0.001, benchmarks 0.05-0.1).
`quality=auto` is priced and timed as high, as everywhere in the emulator.
"""

from __future__ import annotations

PUBLISHED_LATENCY_MODEL = "published"
REFERENCE_PIXELS = 1024 * 1024

# Seconds at 1024x1024, n=1, by quality.
PUBLISHED_SECONDS: dict[str, tuple[float, float]] = {
    "low": (16.0, 22.0),
    "medium": (39.0, 43.0),
    "high": (120.0, 180.0),
}


def size_factor(width: int, height: int) -> float:
    return (width * height / REFERENCE_PIXELS) ** 0.5


def n_factor(n: int) -> float:
    return 1 + 0.1 * (max(1, n) - 1)


def published_range(*, quality: str, width: int, height: int, n: int) -> tuple[float, float]:
    """The range (seconds, before slow_factor and time_scale) a call of this shape is drawn from."""
    low, high = PUBLISHED_SECONDS.get(quality, PUBLISHED_SECONDS["high"])
    factor = size_factor(width, height) * n_factor(n)
    return low * factor, high * factor


def published_seconds(
    *, quality: str, width: int, height: int, n: int, draw: float, slow_factor: float = 1.0, time_scale: float = 1.0
) -> float:
    """`draw` is a uniform number in [0, 1) from the emulator's seeded rng."""
    low, high = published_range(quality=quality, width=width, height=height, n=n)
    return (low + (high - low) * draw) * slow_factor * time_scale
