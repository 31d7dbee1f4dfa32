"""OCR accuracy of the copy check: how often a correct render reads as exactly its copy, and how often a copy
drawn with one letter replaced or dropped is caught, per locale, with the OCR's time per image.

    .venv/bin/python bench/ocr_accuracy.py                                   # 200 strings x 12 locales x 3 variants
    .venv/bin/python bench/ocr_accuracy.py --strings 50 --doc docs/checks-accuracy.md
    .venv/bin/python bench/ocr_accuracy.py --locales hi,bn --strings 100 --examples 10 --rows /tmp/ocr-rows.jsonl
    .venv/bin/python bench/ocr_accuracy.py --smoke                           # 3 locales x 2 strings: the path
    .venv/bin/python bench/ocr_accuracy.py --locales ja,bn --strings 60 --variants correct --cache /tmp/ocrb/cache
    .venv/bin/python bench/ocr_accuracy.py --cpu 5 --workers 1            # read_text CPU s, 5 renders at 2048 px

`--cache DIR` keeps every render as a PNG (with the string as drawn and the render's time) and reads it from there
the next time: a reading change is then measured on the same pictures in a fraction of the time, which is how
changes to dam/checks/ocr.py are compared. The key is the locale, the string's index and text, the placement and
the variant; the pictures are only valid for the emulator's renderer as it was when they were drawn (delete the
folder after changing generation/emulator/). `--variants correct` reads only the correct renders.

Corpus: for each locale, `--strings` distinct headlines of 1-12 words, composed by a seeded draw from the
phrase lists in bench/corpus/<locale>.txt (realistic retail copy written for this benchmark: "Up to 50% off",
"Free delivery", "New collection"... in each language; a CJK "word" is two characters). The same seed gives the
same corpus.

Each headline is drawn three times by the emulator's own renderer (generation.emulator.images.render_generation:
its compositions, Noto faces shaped by raqm, PNG) with the scene picked by the string's index: as written
(`correct`), and with the emulator's text faults `substitute` (one letter replaced by a visually different one
of its script) and `drop` (one letter left out with its marks). Each string gets one placement size in turn:
1024x1024, 1536x1024, 1024x1536, and a leaderboard (a 1536x512 render, centre-cut to 970:250 and scaled to
970x250, what the platform's size plan does for a 970x250 placement). Each picture is read with
`dam.checks.ocr.read_text` and compared with the copy as written by `dam.checks.copy.compare_copy`.

Per locale: exact-match rate on correct renders (target >= 98%), correct renders whose verdict is `mismatch`
(false alarms: the brand policy's action would fire) and `near` (a needless review), detection of
substitutions and drops (detected = the verdict is not `exact`; target >= 99%), and OCR and render time per
image, p50/p95 (wall time in a worker; `--workers` processes share the machine). Exit status 3 when a full run
misses a target; a smoke run judges nothing.
"""

from __future__ import annotations

import argparse
import datetime
import hashlib
import io
import json
import math
import os
import platform
import random
import shlex
import sys
import time
from collections import defaultdict
from collections.abc import Iterable, Sequence
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))  # run as `python bench/ocr_accuracy.py`

from bench.figures import MISSED_TARGET, header, percentile, table, verdict  # noqa: E402

CORPUS_DIR = REPO / "bench" / "corpus"
LOCALES = ("en", "de", "fr", "es", "it", "pt", "ja", "ko", "zh-Hans", "zh-Hant", "hi", "bn")
SMOKE_LOCALES = ("en", "ja", "hi")
# name -> (rendered width, height, placement output size or None for the render itself)
PLACEMENTS: dict[str, tuple[int, int, tuple[int, int] | None]] = {
    "1024x1024": (1024, 1024, None),
    "1536x1024": (1536, 1024, None),
    "1024x1536": (1024, 1536, None),
    "970x250": (1536, 512, (970, 250)),
}
VARIANTS = ("correct", "substitute", "drop")
EXACT_TARGET = 98.0
DETECTION_TARGET = 99.0
MAX_WORDS = 12
# Headline lengths in words: most ad headlines are short, a few run to a full sentence.
LENGTH_WEIGHTS = (6, 10, 10, 9, 8, 7, 5, 4, 3, 2, 2, 2)
SEPARATORS = {
    "latin": (" ", " ", ", ", ": ", " - ", "! "),
    "cjk": (" ", " ", "、", "！"),  # noqa: RUF001 - full-width punctuation on purpose
    "indic": (" ", " ", ", ", "। "),
}
CJK_LOCALES = {"ja", "zh-Hans", "zh-Hant"}


def _family(locale: str) -> str:
    if locale in CJK_LOCALES:
        return "cjk"
    return "indic" if locale in ("hi", "bn") else "latin"


def phrases(locale: str) -> list[str]:
    """The phrase list of a locale: one phrase per line, `#` comments and blank lines left out."""
    lines = (CORPUS_DIR / f"{locale}.txt").read_text(encoding="utf-8").splitlines()
    return [line.strip() for line in lines if line.strip() and not line.lstrip().startswith("#")]


def words(value: str, locale: str) -> int:
    """Words of a headline; in Chinese and Japanese, which do not space words, two characters count as one."""
    if locale in CJK_LOCALES:
        return sum(math.ceil(len(chunk) / 2) for chunk in value.split())
    return len(value.split())


def corpus(locale: str, count: int, *, seed: int = 0) -> list[str]:
    """`count` distinct headlines of 1-12 words, the same for the same seed."""
    pool = phrases(locale)
    rng = random.Random(f"ocr-accuracy:{locale}:{seed}")
    singles = [p for p in pool if words(p, locale) == 1]
    separators = SEPARATORS[_family(locale)]
    found: dict[str, None] = {}
    attempts = 0
    while len(found) < count:
        attempts += 1
        if attempts > count * 50:
            raise ValueError(f"{locale}: the phrase list gives fewer than {count} distinct headlines")
        target = rng.choices(range(1, MAX_WORDS + 1), weights=LENGTH_WEIGHTS)[0]
        if target == 1:
            found.setdefault(rng.choice(singles), None)
            continue
        headline = rng.choice(pool)
        for _ in range(20):
            if words(headline, locale) >= target:
                break
            extra = rng.choice(pool)
            candidate = headline + rng.choice(separators) + extra
            if extra not in headline and words(candidate, locale) <= MAX_WORDS:
                headline = candidate
        found.setdefault(headline, None)
    return list(found)


def _prompt(locale: str, index: int, copy: str) -> str:
    # The index makes the scene: the emulator seeds the picture from the prompt without its quoted text.
    return f'Retail campaign visual {index} for the {locale} market, headline "{copy}"'


def render(locale: str, index: int, copy: str, placement: str, fault: str | None):
    """(picture as the platform would read it, seconds the emulator took to draw and encode it, copy as drawn)."""
    from PIL import Image

    from generation.emulator.images import RenderSpec, quotes_as_drawn, render_generation

    width, height, output = PLACEMENTS[placement]
    spec = RenderSpec(_prompt(locale, index, copy), width, height, "medium", "png", None, False, fault)
    started = time.perf_counter()
    data = render_generation(spec, 0)
    seconds = time.perf_counter() - started
    image = Image.open(io.BytesIO(data)).convert("RGB")
    if output is not None:  # a centre cut to the placement's aspect, scaled: the size plan's crop + scale
        out_w, out_h = output
        cut_h = round(width * out_h / out_w)
        top = (height - cut_h) // 2
        image = image.crop((0, top, width, top + cut_h)).resize(output, Image.Resampling.LANCZOS)
    (drawn,) = quotes_as_drawn(spec)
    return image, seconds, drawn


def cached_render(locale: str, index: int, copy: str, placement: str, variant: str, *, cache: Path | None):
    """render(), kept in `cache` (a PNG and a JSON sidecar per picture) when a folder is given."""
    from PIL import Image

    fault = None if variant == "correct" else variant
    if cache is None:
        return render(locale, index, copy, placement, fault)
    digest = hashlib.sha256(_prompt(locale, index, copy).encode()).hexdigest()[:12]
    stem = cache / locale / f"{index:04d}-{placement}-{variant}-{digest}"
    picture, sidecar = stem.with_suffix(".png"), stem.with_suffix(".json")
    if picture.exists() and sidecar.exists():
        meta = json.loads(sidecar.read_text(encoding="utf-8"))
        with Image.open(picture) as stored:
            return stored.convert("RGB"), meta["render_s"], meta["drawn"]
    image, seconds, drawn = render(locale, index, copy, placement, fault)
    stem.parent.mkdir(parents=True, exist_ok=True)
    image.save(picture, "PNG", compress_level=1)
    sidecar.write_text(json.dumps({"render_s": seconds, "drawn": drawn}, ensure_ascii=False), encoding="utf-8")
    return image, seconds, drawn


def measure(task: tuple[str, int, str, str, Sequence[str], Path | None]) -> list[dict]:
    """Render (or load from the cache) and read one headline in each variant (runs in a worker process)."""
    from dam.checks.charset import unreadable_characters
    from dam.checks.copy import compare_copy
    from dam.checks.ocr import read_text, tessdata_path

    locale, index, copy, placement, variants, cache = task
    rows = []
    for variant in variants:
        image, render_s, drawn = cached_render(locale, index, copy, placement, variant, cache=cache)
        started = time.perf_counter()
        reading = read_text(image, locale=locale)
        ocr_s = time.perf_counter() - started
        comparison = compare_copy(expected=copy, reading=reading, locale=locale)
        rows.append(
            {
                "locale": locale,
                "index": index,
                "placement": placement,
                "variant": variant,
                "expected": copy,
                "drawn": drawn,
                "read": reading.text,
                "matched": comparison.read,
                "verdict": str(comparison.verdict),
                "cer": comparison.cer,
                # Characters of the copy no model of the reading can write (dam.checks.charset): never exact.
                "unwritable": "".join(
                    unreadable_characters(copy, languages=reading.languages, tessdata=tessdata_path())
                ),
                "ocr_s": ocr_s,
                "render_s": render_s,
            }
        )
    return rows


def cpu_seconds(task: tuple[str, int]) -> list[tuple[str, float]]:
    """CPU seconds of read_text (OcrReading.seconds, the engine warm) on `count` 2048x2048 correct renders of a
    locale's first headlines: the figure the issue's 1.5 s budget per output is about (runs in a worker)."""
    from PIL import Image

    from dam.checks.ocr import read_text
    from generation.emulator.images import RenderSpec, render_generation

    locale, count = task
    out = []
    for index, copy in enumerate(corpus(locale, count)):
        spec = RenderSpec(_prompt(locale, index, copy), 2048, 2048, "medium", "png", None, False, None)
        image = Image.open(io.BytesIO(render_generation(spec, 0))).convert("RGB")
        if index == 0:
            read_text(image, locale=locale)  # loads the engines: a worker keeps them
        out.append((locale, read_text(image, locale=locale).seconds))
    return out


def tasks(
    locales: Iterable[str], strings: int, seed: int, variants: Sequence[str], cache: Path | None = None
) -> list[tuple]:
    names = list(PLACEMENTS)
    return [
        (locale, index, copy, names[index % len(names)], variants, cache)
        for locale in locales
        for index, copy in enumerate(corpus(locale, strings, seed=seed))
    ]


def _rate(part: int, whole: int) -> float:
    return 100.0 * part / whole if whole else math.nan


def _pct(value: float) -> str:
    return "n/a" if math.isnan(value) else f"{value:.1f}%"


def summarise(rows: list[dict], group: str) -> dict[str, dict]:
    """Figures per `group` value (locale or placement)."""
    by: dict[str, list[dict]] = defaultdict(list)
    for row in rows:
        by[row[group]].append(row)
    out = {}
    for key, items in by.items():
        correct = [r for r in items if r["variant"] == "correct"]
        faulted = {
            v: [r for r in items if r["variant"] == v and r["drawn"] != r["expected"]] for v in ("substitute", "drop")
        }
        # A fault is caught "for its own sake" only where the same headline's correct render read exact: elsewhere
        # the reading was already off, and a not-exact verdict says nothing about the fault.
        clean = {(r["locale"], r["index"]) for r in correct if r["verdict"] == "exact"}
        attributable = [r for v in faulted.values() for r in v if (r["locale"], r["index"]) in clean]
        out[key] = {
            "attributable": _rate(sum(r["verdict"] != "exact" for r in attributable), len(attributable)),
            "attributable_n": len(attributable),
            "strings": len(correct),
            "exact": _rate(sum(r["verdict"] == "exact" for r in correct), len(correct)),
            # The same rate over the headlines whose every character the models can write (rows of older runs
            # without the field count as writable).
            "writable": _rate(
                sum(r["verdict"] == "exact" for r in correct if not r.get("unwritable")),
                sum(not r.get("unwritable") for r in correct),
            ),
            "writable_n": sum(not r.get("unwritable") for r in correct),
            "near": sum(r["verdict"] == "near" for r in correct),
            "mismatch": sum(r["verdict"] == "mismatch" for r in correct),
            "substitute": _rate(
                sum(r["verdict"] != "exact" for r in faulted["substitute"]), len(faulted["substitute"])
            ),
            "drop": _rate(sum(r["verdict"] != "exact" for r in faulted["drop"]), len(faulted["drop"])),
            "faulted": len(faulted["substitute"]) + len(faulted["drop"]),
            "ocr": [r["ocr_s"] for r in items],
            "render": [r["render_s"] for r in items],
        }
    return out


def _row(key: str, s: dict) -> list[str]:
    return [
        key,
        str(s["strings"]),
        _pct(s["exact"]),
        f"{_pct(s['writable'])} of {s['writable_n']}",
        str(s["near"]),
        str(s["mismatch"]),
        _pct(s["substitute"]),
        _pct(s["drop"]),
        f"{_pct(s['attributable'])} of {s['attributable_n']}",
        f"{percentile(s['ocr'], 50):.2f} / {percentile(s['ocr'], 95):.2f}",
        f"{percentile(s['render'], 50):.2f} / {percentile(s['render'], 95):.2f}",
    ]


HEADING = (
    "locale",
    "strings",
    "exact (correct)",
    "exact where every character is writable",
    "near",
    "mismatch",
    "substitute caught",
    "drop caught",
    "caught where correct read exact",
    "OCR s p50 / p95",
    "render s p50 / p95",
)


def misreads(rows: list[dict], per_locale: int) -> list[dict]:
    """Correct renders not read exactly, and faults that passed as exact: the first few per locale."""
    picked, seen = [], defaultdict(int)
    for row in rows:
        wrong = (row["variant"] == "correct" and row["verdict"] != "exact") or (
            row["variant"] != "correct" and row["drawn"] != row["expected"] and row["verdict"] == "exact"
        )
        if wrong and seen[row["locale"]] < per_locale:
            seen[row["locale"]] += 1
            picked.append(row)
    return picked


def _one_line(value: str) -> str:
    return " / ".join(part for part in value.splitlines() if part.strip())


def write_doc(path: Path, *, command: str, rows: list[dict], settings: dict, examples: list[dict]) -> None:
    locales, placements = summarise(rows, "locale"), summarise(rows, "placement")
    order = [loc for loc in LOCALES if loc in locales]

    def md_table(heading: Sequence[str], body: list[list[str]]) -> list[str]:
        lines = ["| " + " | ".join(heading) + " |", "|" + "|".join(" --- " for _ in heading) + "|"]
        return lines + ["| " + " | ".join(cells) + " |" for cells in body]

    lines = [
        "# Copy check: OCR accuracy",
        "",
        "Measured by `bench/ocr_accuracy.py` (the method is in its header): headlines of 1-12 words composed from",
        "the phrase lists in `bench/corpus/`, drawn by the emulator's renderer as written and with its `substitute`",
        "and `drop` text faults, read by `dam.checks.ocr.read_text`, compared by `dam.checks.copy.compare_copy`.",
        "",
        "Reproduce:",
        "",
        f"    {command}",
        "",
        *[f"- {key}: {value}" for key, value in settings.items()],
        "",
        f"Targets: exact match on correct renders >= {EXACT_TARGET:g}%; substitutions and drops caught (verdict not",
        f"exact) >= {DETECTION_TARGET:g}%. `near` and `mismatch` count correct renders given those verdicts",
        "(`mismatch` is a false alarm that fires the brand policy's action; `near` sends a good image to review).",
        'Where correct renders are misread, faulted ones are too, for the same reasons: "caught where correct read',
        'exact" counts only faulted renders of headlines whose correct render read exact, the figure that shows',
        "the check sees the one-letter change itself. Times are wall seconds in a worker, on a machine shared with",
        "other work: compare rows of one run, not runs.",
        "",
        "## By locale",
        "",
        *md_table(HEADING, [_row(loc, locales[loc]) for loc in order]),
        "",
        "## By placement (all locales)",
        "",
        *md_table(("placement", *HEADING[1:]), [_row(p, placements[p]) for p in PLACEMENTS if p in placements]),
        "",
        "## Misreads (the first few per locale)",
        "",
    ]
    if examples:
        lines += md_table(
            ("locale", "placement", "variant", "copy", "drawn", "verdict", "read"),
            [
                [
                    r["locale"],
                    r["placement"],
                    r["variant"],
                    r["expected"],
                    r["drawn"] if r["drawn"] != r["expected"] else "(as written)",
                    r["verdict"],
                    "`" + _one_line(r["read"]).replace("|", "\\|").replace("`", "'") + "`",
                ]
                for r in examples
            ],
        )
    else:
        lines.append("None.")
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--locales", default=",".join(LOCALES), help="comma-separated, from: " + ", ".join(LOCALES))
    parser.add_argument("--strings", type=int, default=200, help="headlines per locale")
    parser.add_argument("--seed", type=int, default=0, help="corpus seed")
    parser.add_argument("--workers", type=int, default=2, help="processes rendering and reading")
    parser.add_argument("--examples", type=int, default=3, help="misreads shown per locale")
    parser.add_argument("--doc", type=Path, help="also write the tables as Markdown to this file")
    parser.add_argument("--rows", type=Path, help="also write every image's result as JSON lines to this file")
    parser.add_argument("--variants", default=",".join(VARIANTS), help="comma-separated, from: " + ", ".join(VARIANTS))
    parser.add_argument("--cache", type=Path, help="keep the renders in this folder and read them from it")
    parser.add_argument(
        "--cpu", type=int, metavar="N", help="only measure read_text's CPU seconds on N 2048x2048 renders per locale"
    )
    parser.add_argument("--smoke", action="store_true", help=f"{', '.join(SMOKE_LOCALES)} x 2 strings; no targets")
    args = parser.parse_args()
    if args.smoke:
        args.locales, args.strings = ",".join(SMOKE_LOCALES), 2
    args.locale_list = [loc.strip() for loc in args.locales.split(",") if loc.strip()]
    args.variant_list = [v.strip() for v in args.variants.split(",") if v.strip()]
    if "correct" not in args.variant_list or set(args.variant_list) - set(VARIANTS):
        parser.error(f"--variants: 'correct' and any of {', '.join(VARIANTS[1:])}")
    unknown = [loc for loc in args.locale_list if loc not in LOCALES]
    if unknown:
        parser.error(f"--locales: unknown {', '.join(unknown)}; known: {', '.join(LOCALES)}")
    return args


def main() -> int:
    args = parse_args()
    if args.cpu:
        return cpu_main(args)
    variants = tuple(v for v in VARIANTS if v in args.variant_list)
    work = tasks(args.locale_list, args.strings, args.seed, variants, args.cache)
    settings = {
        "sample": f"{args.strings} strings x {len(args.locale_list)} locales x {len(variants)} variants "
        f"= {len(work) * len(variants)} images",
        "placements": ", ".join(PLACEMENTS) + " (one per string, in turn; 970x250 cut from a 1536x512 render)",
        "workers": f"{args.workers} processes",
        "machine": f"{platform.node()}, {len(os.sched_getaffinity(0))} CPUs, Python {platform.python_version()}",
    }
    header("copy check: OCR accuracy per locale", settings)
    started = time.perf_counter()
    rows: list[dict] = []
    with ProcessPoolExecutor(args.workers) as pool:
        for done, result in enumerate(pool.map(measure, work, chunksize=2), start=1):
            rows.extend(result)
            if done % 25 == 0 or done == len(work):
                print(f"   {done}/{len(work)} strings, {time.perf_counter() - started:.0f} s", file=sys.stderr)
    wall = time.perf_counter() - started
    settings["took"] = f"{wall / 60:.1f} min"
    settings["date"] = datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC")

    locales, placements = summarise(rows, "locale"), summarise(rows, "placement")
    print()
    table([_row(loc, locales[loc]) for loc in LOCALES if loc in locales], heading=HEADING)
    print()
    table(
        [_row(p, placements[p]) for p in PLACEMENTS if p in placements],
        heading=("placement", *HEADING[1:]),
    )
    examples = misreads(rows, args.examples)
    if examples:
        print("\n   misreads:")
        for r in examples:
            drawn = f" drawn {r['drawn']!r}" if r["drawn"] != r["expected"] else ""
            print(
                f"   {r['locale']:8} {r['placement']:9} {r['variant']:10} {r['verdict']:8} "
                f"copy {r['expected']!r}{drawn} read {_one_line(r['read'])!r}"
            )
    print(f"\n   took {wall:.0f} s")
    met = True
    for loc in LOCALES:
        if loc not in locales:
            continue
        s = locales[loc]
        met &= verdict(f"{loc} exact on correct renders", s["exact"], target=EXACT_TARGET)
        for fault in ("substitute", "drop"):
            if not math.isnan(s[fault]):
                met &= verdict(f"{loc} {fault} caught", s[fault], target=DETECTION_TARGET)
    if args.rows:
        args.rows.write_text("".join(json.dumps(row, ensure_ascii=False) + "\n" for row in rows), encoding="utf-8")
        print(f"   wrote {args.rows}")
    if args.doc and not args.smoke:
        command = shlex.join([".venv/bin/python", "bench/ocr_accuracy.py", *sys.argv[1:]])
        write_doc(args.doc, command=command, rows=rows, settings=settings, examples=examples)
        print(f"   wrote {args.doc}")
    # A smoke run's figures mean nothing (two strings per locale): it shows the path works and judges no target.
    return 0 if met or args.smoke else MISSED_TARGET


def cpu_main(args: argparse.Namespace) -> int:
    header(
        "copy check: read_text CPU seconds at 2048x2048",
        {"sample": f"{args.cpu} renders x {len(args.locale_list)} locales", "workers": f"{args.workers} processes"},
    )
    seconds: dict[str, list[float]] = defaultdict(list)
    with ProcessPoolExecutor(args.workers) as pool:
        for result in pool.map(cpu_seconds, [(loc, args.cpu) for loc in args.locale_list]):
            for locale, value in result:
                seconds[locale].append(value)
    every = [value for values in seconds.values() for value in values]
    table(
        [
            [
                key,
                str(len(values)),
                f"{percentile(values, 50):.2f}",
                f"{percentile(values, 95):.2f}",
                f"{max(values):.2f}",
            ]
            for key, values in [*seconds.items(), ("all", every)]
        ],
        heading=("locale", "renders", "CPU s p50", "p95", "max"),
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
