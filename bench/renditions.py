"""Rendition set for one 3840x2160 version: Pillow against pyvips, per operation, then whole pipelines.

    .venv/bin/python bench/renditions.py [--repeat 7] [--threads N]
    .venv/bin/python bench/renditions.py --smoke    # a 1920x1080 source, one run each: the path, not a figure

The source is a synthetic photo-like 4K image (gradients, shapes, blur and sensor-like noise,
so encoders see realistic entropy), stored as PNG (what GPT-image-2 returns) and as JPEG q92
(a typical upload). For every operation of the preset renditions (decode, the fill crop, the
three scales, each encoder) it prints each engine's best time of N runs on identical in-memory
input (the best run is the one least disturbed by other processes), the faster engine, and
for encoders the output sizes (equal settings must give comparable files, or the timing
compares different work). It then times the whole preset set from the PNG source (one decode,
five renditions) with all-Pillow (the baseline), all-pyvips, the per-operation choice measured
now and the table the application uses (`dam.renditions.pipeline.OPERATION_ENGINES`), and says
whether that table matches the measurement. No database, no network.

`--threads N` sets libvips' worker threads (VIPS_CONCURRENCY) and Pillow's AVIF threads; the
default is each library's own (one per core).
"""

from __future__ import annotations

import argparse
import io
import os
import random
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))  # run as `python bench/renditions.py`

WIDTH, HEIGHT = 3840, 2160
# Within this margin the engine that already holds the pixels (pyvips decodes and scales)
# keeps the operation: a hand-over copies the image for no measurable gain.
TIE_MARGIN = 0.05
# An encoder competes only if, at the same settings, its files are this close in size to
# Pillow's: `quality-80` must keep meaning what it means, whichever library encodes it.
COMPARABLE_SIZE = 0.15
ENGINES = ("pillow", "pyvips")


def photo_like_source(seed: int = 7) -> Any:
    from PIL import Image, ImageChops, ImageDraw, ImageFilter

    rng = random.Random(seed)
    base = Image.linear_gradient("L").resize((WIDTH, HEIGHT)).convert("RGB")
    tint = Image.new("RGB", (WIDTH, HEIGHT), (rng.randrange(256), rng.randrange(256), rng.randrange(256)))
    image = ImageChops.blend(base, tint, 0.55)
    draw = ImageDraw.Draw(image)
    for _ in range(60):
        x, y = rng.randrange(WIDTH), rng.randrange(HEIGHT)
        r = rng.randrange(40, 600)
        draw.ellipse((x - r, y - r, x + r, y + r), fill=(rng.randrange(256), rng.randrange(256), rng.randrange(256)))
    image = image.filter(ImageFilter.GaussianBlur(6))
    noise = Image.effect_noise((WIDTH, HEIGHT), 24).convert("RGB")
    return ImageChops.add(image, noise, scale=1.0, offset=-96)


def encoded_sources() -> dict[str, bytes]:
    source = photo_like_source()
    sources = {}
    for name, options in (("png", {"format": "PNG", "compress_level": 6}), ("jpeg", {"format": "JPEG", "quality": 92})):
        buffer = io.BytesIO()
        source.save(buffer, **options)
        sources[name] = buffer.getvalue()
    return sources


def best_seconds(action: Callable[[], Any], repeat: int) -> tuple[float, Any]:
    result = action()  # warm-up: first-call costs (codec set-up, page faults) are not the steady state
    timings = []
    for _ in range(repeat):
        started = time.perf_counter()
        action()
        timings.append(time.perf_counter() - started)
    return min(timings), result


def operation_rows(sources: dict[str, bytes]) -> list[tuple[str, str, Callable[[Any, str], Any]]]:
    """(operation, label, action(engine, engine name)) for every operation the preset set performs."""
    from dam.renditions.engines import engine
    from dam.renditions.geometry import fill_box

    def held(e: Any, image: Any) -> Any:
        # libvips is lazy: inputs are held in memory and outputs computed (to_pixels), so no
        # operation's time hides inside the next one.
        return e.from_pixels(e.to_pixels(image))

    engines = {name: engine(name) for name in ENGINES}
    decoded = {name: e.decode(sources["png"]) for name, e in engines.items()}
    box = fill_box((WIDTH, HEIGHT), (400, 400))
    cropped = {name: held(e, e.crop(decoded[name], box)) for name, e in engines.items()}
    scaled = {
        size: {
            name: held(e, e.resize(cropped[name] if size == (400, 400) else decoded[name], size))
            for name, e in engines.items()
        }
        for size in ((1600, 900), (800, 450), (400, 400))
    }

    def encode(size: tuple[int, int], image_format: str, quality: int | None) -> Callable[[Any, str], Any]:
        return lambda e, n: e.encode(scaled[size][n], image_format=image_format, quality=quality)

    return [
        ("decode", f"decode PNG {WIDTH}x{HEIGHT}", lambda e, n: e.decode(sources["png"])),
        ("decode", f"decode JPEG {WIDTH}x{HEIGHT}", lambda e, n: e.decode(sources["jpeg"])),
        ("crop", f"crop {HEIGHT}x{HEIGHT} (fill box)", lambda e, n: e.to_pixels(e.crop(decoded[n], box))),
        ("resize", f"scale {WIDTH}x{HEIGHT} -> 1600x900", lambda e, n: e.to_pixels(e.resize(decoded[n], (1600, 900)))),
        ("resize", f"scale {WIDTH}x{HEIGHT} -> 800x450", lambda e, n: e.to_pixels(e.resize(decoded[n], (800, 450)))),
        ("resize", f"scale {HEIGHT}x{HEIGHT} -> 400x400", lambda e, n: e.to_pixels(e.resize(cropped[n], (400, 400)))),
        ("encode:webp", "encode WebP q80 1600x900", encode((1600, 900), "webp", 80)),
        ("encode:webp", "encode WebP q80 800x450", encode((800, 450), "webp", 80)),
        ("encode:webp", "encode WebP q80 400x400", encode((400, 400), "webp", 80)),
        ("encode:avif", "encode AVIF q60 800x450", encode((800, 450), "avif", 60)),
        ("encode:jpeg", "encode JPEG q85 1600x900", encode((1600, 900), "jpeg", 85)),
        ("encode:png", "encode PNG 1600x900", encode((1600, 900), "png", None)),
    ]


def measure_operations(sources: dict[str, bytes], repeat: int) -> tuple[dict, dict]:
    """Summed seconds and summed output bytes per operation and engine."""
    from dam.renditions.engines import engine

    per_operation: dict[str, dict[str, float]] = {}
    output_bytes: dict[str, dict[str, int]] = {}
    print(f"{'operation':<30}{'Pillow ms':>11}{'pyvips ms':>11}  faster         output (Pillow / pyvips)")
    for operation, label, action in operation_rows(sources):
        runs = {
            name: best_seconds(lambda name=name, action=action: action(engine(name), name), repeat) for name in ENGINES
        }
        times = {name: seconds for name, (seconds, _) in runs.items()}
        totals = per_operation.setdefault(operation, dict.fromkeys(ENGINES, 0.0))
        for name, seconds in times.items():
            totals[name] += seconds
        winner = min(times, key=times.get)
        ratio = max(times.values()) / max(min(times.values()), 1e-9)
        sizes = ""
        if operation.startswith("encode:"):
            sizes = f"{len(runs['pillow'][1]) / 1024:.0f} KB / {len(runs['pyvips'][1]) / 1024:.0f} KB"
            summed = output_bytes.setdefault(operation, dict.fromkeys(ENGINES, 0))
            for name, (_, data) in runs.items():
                summed[name] += len(data)
        pillow_ms, vips_ms = times["pillow"] * 1000, times["pyvips"] * 1000
        print(f"{label:<30}{pillow_ms:>11.1f}{vips_ms:>11.1f}  {winner:<7}{ratio:5.1f}x  {sizes}")
    return per_operation, output_bytes


def choose(totals: dict[str, float], sizes: dict[str, int] | None) -> tuple[str, str]:
    """(engine, reason) for one operation."""
    if sizes and abs(sizes["pyvips"] / sizes["pillow"] - 1) > COMPARABLE_SIZE:
        return "pillow", f"pyvips files {sizes['pyvips'] / sizes['pillow'] - 1:+.0%} in size: not the same work"
    if totals["pillow"] < totals["pyvips"] * (1 - TIE_MARGIN):
        return "pillow", "faster"
    return "pyvips", "faster" if totals["pyvips"] < totals["pillow"] * (1 - TIE_MARGIN) else "tie"


def measure_pipelines(sources: dict[str, bytes], measured: dict[str, str], repeat: int) -> dict[str, float]:
    from dam.renditions.pipeline import OPERATION_ENGINES, OPERATIONS, Renderer
    from dam.renditions.presets import PRESET_SPECS
    from dam.renditions.spec import parse_spec

    specs = [parse_spec(text) for text in PRESET_SPECS]
    xmp = b'<x:xmpmeta xmlns:x="adobe:ns:meta/"/>'

    def pipeline(choices: dict[str, str]) -> Callable[[], None]:
        def run() -> None:
            renderer = Renderer(choices)
            decoded = renderer.decode(sources["png"])
            for spec in specs:
                renderer.render(decoded, spec, focal=(0.3, 0.4), xmp=xmp)

        return run

    print(f"\nwhole preset set from the PNG source (1 decode + {len(specs)} renditions, best of {repeat}):")
    results = {}
    for label, choices in (
        ("all Pillow (baseline)", dict.fromkeys(OPERATIONS, "pillow")),
        ("all pyvips", dict.fromkeys(OPERATIONS, "pyvips")),
        ("measured choice", measured),
        ("application table", dict(OPERATION_ENGINES)),
    ):
        results[label] = best_seconds(pipeline(choices), repeat)[0]
        print(f"  {label:<24}{results[label] * 1000:9.0f} ms")
    return results


def main() -> None:
    global WIDTH, HEIGHT
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeat", type=int, default=7, help="timed runs per measurement (the best is shown)")
    parser.add_argument("--threads", type=int, default=0, help="libvips and AVIF threads; 0: library defaults")
    parser.add_argument("--smoke", action="store_true", help="a 1920x1080 source, one run each: the path only")
    args = parser.parse_args()
    if args.smoke:
        # Still larger than every rendition, so the same crops and downscales run on a quarter of the pixels.
        WIDTH, HEIGHT, args.repeat = 1920, 1080, 1
    if args.threads:
        os.environ["VIPS_CONCURRENCY"] = str(args.threads)  # read when libvips starts, so before the import
    import PIL
    import pyvips
    from PIL import features

    from dam.renditions import engines
    from dam.renditions.pipeline import OPERATION_ENGINES, OPERATIONS
    from dam.renditions.presets import PRESET_SPECS

    if args.threads:
        engines.AVIF_THREADS = args.threads
    sources = encoded_sources()
    print(
        f"source {WIDTH}x{HEIGHT}: PNG {len(sources['png']) / 1e6:.1f} MB, JPEG q92 {len(sources['jpeg']) / 1e6:.1f} MB"
    )
    print(
        f"Pillow {PIL.__version__} (libjpeg-turbo {features.version_feature('libjpeg_turbo')}, libwebp "
        f"{features.version('webp')}, libavif {features.version('avif')}); libvips "
        f"{pyvips.version(0)}.{pyvips.version(1)}.{pyvips.version(2)} (pyvips {pyvips.__version__}); "
        f"threads: {args.threads or 'library defaults'}; cpus: {os.cpu_count()}"
    )
    print(f"preset set: {', '.join(PRESET_SPECS)}\n")

    per_operation, output_bytes = measure_operations(sources, args.repeat)
    choices = {op: choose(totals, output_bytes.get(op)) for op, totals in per_operation.items()}
    measured = {operation: engine_name for operation, (engine_name, _) in choices.items()}
    print(
        f"\nper-operation choice (sums of the rows above; within {TIE_MARGIN:.0%} is a tie and stays with pyvips; "
        f"an encoder whose files differ by more than {COMPARABLE_SIZE:.0%} in size does not compete):"
    )
    for operation in OPERATIONS:
        totals = per_operation[operation]
        configured = OPERATION_ENGINES[operation]
        note = "" if configured == measured[operation] else f"   <- the application uses {configured}"
        print(
            f"  {operation:<12} pillow {totals['pillow'] * 1000:8.1f} ms  pyvips {totals['pyvips'] * 1000:8.1f} ms"
            f"  -> {measured[operation]} ({choices[operation][1]}){note}"
        )

    results = measure_pipelines(sources, measured, args.repeat)
    chosen, baseline = results["application table"], results["all Pillow (baseline)"]
    print(
        f"\nchosen pipeline (application table): {chosen * 1000:.0f} ms for the preset set, "
        f"{baseline / chosen:.2f}x faster than all-Pillow; the table "
        f"{'matches' if measured == OPERATION_ENGINES else 'differs from'} this run's measurement"
    )


if __name__ == "__main__":
    main()
