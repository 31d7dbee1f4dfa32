"""Speed of the deterministic brand checks (dam/checks: palette, legibility, logo) at 2048x2048, and how small a
logo the logo check still finds.

    .venv/bin/python bench/brand_checks.py              # 6 emulator renders, 7 timed runs each
    .venv/bin/python bench/brand_checks.py --smoke      # 1 render, 2 runs: the path

Pictures are the emulator's compositions (generation.emulator.composition.compose, 2048x2048, RGB). Timed per
check: CPU time of the process (all threads: OpenCV's too) and wall time, median and max over every run.
Cases: palette against the render's own five colours; legibility of 8 lines of 140 px copy drawn on the render;
logo absent, and a 600x240 logo pasted at 15 % of the width; the logo evidence PNG. Then a sweep: the logo pasted
at 2-10 % of the width on each render, found or not (a share of 0 = pasted nowhere: a finding is a false alarm).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))  # run as `python bench/brand_checks.py`

from PIL import Image, ImageDraw, ImageFont  # noqa: E402

from dam.checks.legibility import legibility_check  # noqa: E402
from dam.checks.logo import logo_check, logo_evidence_png  # noqa: E402
from dam.checks.ocr import TextBox  # noqa: E402
from dam.checks.palette import palette_check  # noqa: E402
from generation.emulator.composition import compose  # noqa: E402

EDGE = 2048
SHARES = (0.0, 0.02, 0.03, 0.04, 0.05, 0.06, 0.08, 0.10)


def logo() -> Image.Image:
    image = Image.new("RGBA", (600, 240), (0, 0, 0, 0))
    draw = ImageDraw.Draw(image)
    draw.rounded_rectangle((4, 4, 596, 236), radius=36, fill=(16, 32, 96, 255))
    draw.polygon([(40, 200), (120, 40), (200, 200)], fill=(255, 196, 0, 255))
    draw.ellipse((90, 120, 150, 180), fill=(16, 32, 96, 255))
    draw.text((230, 55), "ACME", fill=(255, 255, 255, 255), font=ImageFont.load_default(size=110))
    draw.rectangle((230, 185, 560, 200), fill=(255, 196, 0, 255))
    return image


def pasted(picture: Image.Image, mark: Image.Image, share: float) -> Image.Image:
    picture = picture.copy()
    if share:
        width = round(picture.width * share)
        scaled = mark.resize((width, round(width * mark.height / mark.width)), Image.Resampling.LANCZOS)
        picture.paste(scaled, (picture.width // 2, picture.height * 3 // 4), scaled)
    return picture


def with_copy(picture: Image.Image) -> tuple[Image.Image, list[TextBox]]:
    picture = picture.copy()
    draw = ImageDraw.Draw(picture)
    font = ImageFont.load_default(size=140)
    boxes = []
    for row in range(8):
        at = (220, 220 + row * 200)
        draw.text(at, "Fifty percent off", fill=(255, 255, 255), font=font)
        left, top, right, bottom = draw.textbbox(at, "Fifty percent off", font=font)
        boxes.append(TextBox("Fifty percent off", left, top, right - left, bottom - top, 1.0))
    return picture, boxes


def timed(runs: int, call: Callable[[], object], cpu: list[float], wall: list[float]) -> None:
    call()  # warm: imports, OpenCV's first allocations
    for _ in range(runs):
        started_cpu, started_wall = time.process_time(), time.perf_counter()
        call()
        cpu.append(time.process_time() - started_cpu)
        wall.append(time.perf_counter() - started_wall)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--renders", type=int, default=6)
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--smoke", action="store_true")
    args = parser.parse_args()
    renders, runs = (1, 2) if args.smoke else (args.renders, args.runs)

    mark = logo()
    cases = ["palette", "legibility (8 lines)", "logo absent", "logo at 15 %", "logo evidence PNG"]
    times: dict[str, tuple[list[float], list[float]]] = {case: ([], []) for case in cases}
    found: dict[float, int] = dict.fromkeys(SHARES, 0)
    for seed in range(renders):
        composition = compose(seed=seed, width=EDGE, height=EDGE, quality="high", transparent=False)
        picture = composition.image.convert("RGB")
        palette = ["#{:02x}{:02x}{:02x}".format(*c) for c in composition.palette.colors]
        copy_picture, boxes = with_copy(picture)
        logo_picture = pasted(picture, mark, 0.15)
        result = logo_check(logo_picture, logo=mark, min_width_share=0.05)
        calls = {
            "palette": partial(palette_check, picture, palette=palette, max_delta_e=12, min_score=0.6),
            "legibility (8 lines)": partial(legibility_check, copy_picture, boxes=boxes),
            "logo absent": partial(logo_check, picture, logo=mark, min_width_share=0.05),
            "logo at 15 %": partial(logo_check, logo_picture, logo=mark, min_width_share=0.05),
            "logo evidence PNG": partial(logo_evidence_png, logo_picture, result=result),
        }
        for case, call in calls.items():
            timed(runs, call, *times[case])
        for share in SHARES:
            found[share] += logo_check(pasted(picture, mark, share), logo=mark, min_width_share=0.01).found

    print(f"brand checks at {EDGE}x{EDGE}, {renders} emulator renders x {runs} runs (ms)")
    print(f"{'check':24} {'cpu p50':>8} {'cpu max':>8} {'wall p50':>9} {'wall max':>9}")
    for case, (cpu, wall) in times.items():
        print(
            f"{case:24} {statistics.median(cpu) * 1000:8.0f} {max(cpu) * 1000:8.0f}"
            f" {statistics.median(wall) * 1000:9.0f} {max(wall) * 1000:9.0f}"
        )
    print("logo found by width share: " + ", ".join(f"{s:.0%} {found[s]}/{renders}" for s in SHARES))
    return 0


if __name__ == "__main__":
    sys.exit(main())
