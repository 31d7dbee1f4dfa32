"""A designed, prompt-derived abstract composition: palette, background gradient and shapes.

Everything is drawn from a seed (a hash of the prompt and the image's index), so the same prompt gives the
same picture and two prompts give visibly different ones. Shapes are drawn on a working canvas of about one
megapixel (twice that, then halved, for anti-aliasing) and scaled to the requested size, which keeps a
3840x2160 render fast; text and the emulator mark are drawn later at full resolution so they stay crisp.
"""

from __future__ import annotations

import hashlib
import math
import random
from collections.abc import Callable
from dataclasses import dataclass

from PIL import Image, ImageDraw

RGB = tuple[int, int, int]

# Curated five-colour palettes, dark to light; a hue shift from the seed makes each one a family.
PALETTES: tuple[tuple[str, ...], ...] = (
    ("#1b1f3b", "#53354a", "#903749", "#e84545", "#f9d56e"),
    ("#05445e", "#189ab4", "#75e6da", "#d4f1f4", "#fbe8a6"),
    ("#264653", "#2a9d8f", "#e9c46a", "#f4a261", "#e76f51"),
    ("#2e3440", "#4c566a", "#88c0d0", "#d8dee9", "#ebcb8b"),
    ("#2d1e2f", "#6d3b47", "#c8553d", "#f7c5cc", "#f2d0a4"),
    ("#0b3d20", "#2d6a4f", "#74c69d", "#d8f3dc", "#ffb703"),
    ("#10002b", "#3c096c", "#7b2cbf", "#e0aaff", "#00f5d4"),
    ("#3d2c2e", "#8c4a32", "#d9825b", "#f1c9a5", "#f6efe6"),
    ("#03045e", "#0077b6", "#00b4d8", "#90e0ef", "#caf0f8"),
    ("#111111", "#2b2b2b", "#c9a227", "#e8d8a8", "#faf7f0"),
    ("#2b0f1e", "#6a0f49", "#b5179e", "#f72585", "#ffd6e8"),
    ("#283618", "#606c38", "#bc6c25", "#a3b18a", "#dad7cd"),
)

WORKING_PIXELS = {"low": 400_000, "medium": 700_000, "high": 1_000_000}
SHAPE_COUNT = {"low": (3, 5), "medium": (5, 8), "high": (7, 11)}
SUPERSAMPLE = 2


def seed_for(*parts: object) -> int:
    digest = hashlib.sha256("\x1f".join(map(str, parts)).encode()).digest()
    return int.from_bytes(digest[:8], "big")


def _hex(color: str) -> RGB:
    return int(color[1:3], 16), int(color[3:5], 16), int(color[5:7], 16)


def _shift_hue(color: RGB, degrees: float) -> RGB:
    import colorsys

    h, l_, s = colorsys.rgb_to_hls(*(c / 255 for c in color))
    r, g, b = colorsys.hls_to_rgb((h + degrees / 360) % 1.0, l_, s)
    return round(r * 255), round(g * 255), round(b * 255)


def luminance(color: RGB) -> float:
    r, g, b = (c / 255 for c in color)
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


@dataclass(frozen=True)
class Palette:
    colors: tuple[RGB, ...]  # dark to light

    @property
    def darkest(self) -> RGB:
        return self.colors[0]

    @property
    def lightest(self) -> RGB:
        return self.colors[-1]


def palette_for(rng: random.Random) -> Palette:
    base = rng.choice(PALETTES)
    shift = rng.uniform(-40, 40)
    colors = sorted((_shift_hue(_hex(c), shift) for c in base), key=luminance)
    return Palette(tuple(colors))


def working_size(width: int, height: int, quality: str) -> tuple[int, int]:
    scale = min(1.0, math.sqrt(WORKING_PIXELS.get(quality, WORKING_PIXELS["high"]) / (width * height)))
    return max(16, round(width * scale)), max(16, round(height * scale))


def _gradient(size: tuple[int, int], start: RGB, end: RGB, angle: float) -> Image.Image:
    mask = Image.linear_gradient("L").rotate(angle, resample=Image.Resampling.BICUBIC, expand=False)
    # Crop the rotated square's centre so no corner is left empty, then stretch to the canvas.
    mask = mask.crop((48, 48, 208, 208)).resize(size, Image.Resampling.BILINEAR)
    return Image.composite(Image.new("RGB", size, end), Image.new("RGB", size, start), mask)


GLOW_SCALE = 8  # soft light needs no detail: drawn at 1/8 scale, then stretched


class Canvas:
    """Where a style draws: crisp shapes on a supersampled layer, soft light on a small one."""

    def __init__(self, size: tuple[int, int]) -> None:
        self.size = size
        self.shapes = Image.new("RGBA", size, (0, 0, 0, 0))
        self.draw = ImageDraw.Draw(self.shapes, "RGBA")
        self.light = Image.new("RGBA", (max(1, size[0] // GLOW_SCALE), max(1, size[1] // GLOW_SCALE)), (0, 0, 0, 0))
        self.has_light = False

    def glow(self, center: tuple[float, float], radius: float, color: RGB, strength: int) -> None:
        """A soft radial light: Pillow's radial gradient as an alpha mask."""
        radius /= GLOW_SCALE
        diameter = max(2, int(radius * 2))
        alpha = Image.radial_gradient("L").resize((diameter, diameter), Image.Resampling.BILINEAR)
        alpha = alpha.point(lambda v: max(0, 255 - v * 255 // 180) * strength // 255)
        spot = Image.new("RGBA", (diameter, diameter), (*color, 0))
        spot.putalpha(alpha)
        x, y = int(center[0] / GLOW_SCALE - radius), int(center[1] / GLOW_SCALE - radius)
        # alpha_composite refuses negative offsets: crop the spot instead.
        crop = (max(0, -x), max(0, -y), diameter, diameter)
        self.light.alpha_composite(spot.crop(crop), (max(0, x), max(0, y)))
        self.has_light = True


def _style_orbs(canvas: Canvas, rng: random.Random, pal: Palette, count: int) -> None:
    draw = canvas.draw
    w, h = canvas.size
    unit = min(w, h)
    for _ in range(count // 2 + 1):
        canvas.glow((rng.uniform(0, w), rng.uniform(0, h)), unit * rng.uniform(0.3, 0.7), rng.choice(pal.colors), 170)
    for _ in range(count):
        r = unit * rng.uniform(0.05, 0.28)
        x, y = rng.uniform(0, w), rng.uniform(0, h)
        color = rng.choice(pal.colors[1:])
        if rng.random() < 0.35:
            draw.ellipse((x - r, y - r, x + r, y + r), outline=(*color, 230), width=max(2, int(r * 0.12)))
        else:
            draw.ellipse((x - r, y - r, x + r, y + r), fill=(*color, rng.randint(150, 235)))


def _style_bands(canvas: Canvas, rng: random.Random, pal: Palette, count: int) -> None:
    draw = canvas.draw
    w, h = canvas.size
    angle = math.radians(rng.choice((-1, 1)) * rng.uniform(15, 35))
    dx, dy = math.cos(angle), math.sin(angle)
    span = w + h
    r = min(w, h) * rng.uniform(0.18, 0.3)
    sx, sy = rng.uniform(0.2, 0.8) * w, rng.uniform(0.15, 0.45) * h
    draw.ellipse((sx - r, sy - r, sx + r, sy + r), fill=(*pal.lightest, 235))
    offset = -span / 2
    for i in range(count + 2):
        thickness = span / (count + 2) * rng.uniform(0.4, 1.1)
        color = pal.colors[(i + 1) % len(pal.colors)]
        cx, cy = w / 2 - dy * offset, h / 2 + dx * offset
        pts = [
            (cx - dx * span - dy * 0, cy - dy * span),
            (cx + dx * span, cy + dy * span),
            (cx + dx * span - dy * thickness, cy + dy * span + dx * thickness),
            (cx - dx * span - dy * thickness, cy - dy * span + dx * thickness),
        ]
        draw.polygon(pts, fill=(*color, rng.randint(120, 200)))
        offset += span / (count + 2)


def _style_landscape(canvas: Canvas, rng: random.Random, pal: Palette, count: int) -> None:
    draw = canvas.draw
    w, h = canvas.size
    r = min(w, h) * rng.uniform(0.1, 0.2)
    sx, sy = rng.uniform(0.2, 0.8) * w, rng.uniform(0.18, 0.4) * h
    canvas.glow((sx, sy), r * 3.2, pal.lightest, 200)
    draw.ellipse((sx - r, sy - r, sx + r, sy + r), fill=(*pal.colors[-2], 255))
    ridges = max(3, count // 2)
    for i in range(ridges):
        base = h * (0.45 + 0.5 * i / ridges)
        amplitude = h * rng.uniform(0.05, 0.14)
        steps = rng.randint(5, 9)
        points = [(0.0, float(h))]
        for k in range(steps + 1):
            x = w * k / steps
            points.append((x, base - amplitude * rng.uniform(0.2, 1.0) * (1 if k % 2 else 0.35)))
        points.append((float(w), float(h)))
        color = pal.colors[max(0, len(pal.colors) - 2 - i) % len(pal.colors)]
        draw.polygon(points, fill=(*color, 255))


def _style_bauhaus(canvas: Canvas, rng: random.Random, pal: Palette, count: int) -> None:
    draw = canvas.draw
    w, h = canvas.size
    cols = rng.randint(3, 5) if w >= h else rng.randint(2, 4)
    cell = w / cols
    rows = max(1, math.ceil(h / cell))
    for row in range(rows):
        for col in range(cols):
            x0, y0 = col * cell, row * cell
            x1, y1 = x0 + cell, y0 + cell
            back, front = rng.sample(pal.colors, 2)
            draw.rectangle((x0, y0, x1, y1), fill=(*back, 255))
            kind = rng.randrange(5)
            if kind == 0:
                draw.ellipse((x0 + cell * 0.12, y0 + cell * 0.12, x1 - cell * 0.12, y1 - cell * 0.12), fill=front)
            elif kind == 1:
                # A quarter disc from one corner; Pillow's angles run clockwise from three o'clock.
                corner = rng.randrange(4)
                cx, cy = (x0, x1, x1, x0)[corner], (y0, y0, y1, y1)[corner]
                start = 90 * corner
                draw.pieslice((cx - cell, cy - cell, cx + cell, cy + cell), start, start + 90, fill=front)
            elif kind == 2:
                draw.pieslice((x0, y1 - cell / 2, x1, y1 + cell / 2), 180, 360, fill=front)
            elif kind == 3:
                draw.polygon([(x0, y1), (x1, y1), (x0 + cell / 2, y0 + cell * 0.1)], fill=front)
            else:
                for k in range(3):
                    stripe = y0 + cell * (0.2 + 0.25 * k)
                    draw.rectangle((x0 + cell * 0.15, stripe, x1 - cell * 0.15, stripe + cell * 0.1), fill=front)


def _style_waves(canvas: Canvas, rng: random.Random, pal: Palette, count: int) -> None:
    draw = canvas.draw
    w, h = canvas.size
    layers = max(3, count // 2 + 1)
    for i in range(layers):
        base = h * (0.3 + 0.7 * (i + 1) / (layers + 1))
        amplitude = h * rng.uniform(0.03, 0.09)
        frequency = rng.uniform(1.0, 2.6)
        phase = rng.uniform(0, math.tau)
        points = [(0.0, float(h))]
        for k in range(65):
            x = w * k / 64
            points.append((x, base + amplitude * math.sin(phase + frequency * math.tau * k / 64)))
        points.append((float(w), float(h)))
        draw.polygon(points, fill=(*pal.colors[(i + 1) % len(pal.colors)], 215))


STYLES: dict[str, Callable[[Canvas, random.Random, Palette, int], None]] = {
    "orbs": _style_orbs,
    "bands": _style_bands,
    "landscape": _style_landscape,
    "bauhaus": _style_bauhaus,
    "waves": _style_waves,
}


@dataclass(frozen=True)
class Composition:
    image: Image.Image  # RGBA at the requested size
    palette: Palette
    style: str


def compose(*, seed: int, width: int, height: int, quality: str, transparent: bool) -> Composition:
    """The picture for one output image. Transparent: shapes on a clear background (for PNG/WebP alpha)."""
    rng = random.Random(seed)
    palette = palette_for(rng)
    style = rng.choice(sorted(STYLES))
    low, high = SHAPE_COUNT.get(quality, SHAPE_COUNT["high"])
    count = rng.randint(low, high)

    work = working_size(width, height, quality)
    if transparent:
        picture = Image.new("RGBA", work, (0, 0, 0, 0))
    else:
        start, end = (
            rng.sample(palette.colors[:3], 2) if style != "landscape" else (palette.colors[1], palette.lightest)
        )
        angle = rng.uniform(0, 360) if style != "landscape" else 0
        picture = _gradient(work, start, end, angle).convert("RGBA")
    canvas = Canvas((work[0] * SUPERSAMPLE, work[1] * SUPERSAMPLE))
    STYLES[style](canvas, rng, palette, count)
    if canvas.has_light:
        picture.alpha_composite(canvas.light.resize(work, Image.Resampling.BILINEAR))
    picture.alpha_composite(canvas.shapes.resize(work, Image.Resampling.BOX))
    if work != (width, height):
        picture = picture.resize((width, height), Image.Resampling.BICUBIC)
    return Composition(picture, palette, style)
