"""Data scale: what the storefront, the staff UI, spend reports, the sweeps and `audit_verify` cost as a tenant grows.

    .venv/bin/python bench/data_scale.py                              # 10,000 then 100,000 assets
    .venv/bin/python bench/data_scale.py --sizes 10000,100000,1000000 # the issue's curve (1M: ~15 min to seed)
    .venv/bin/python bench/data_scale.py --smoke                      # 1,000 and 2,000 assets: the path, seconds
    .venv/bin/python bench/data_scale.py --sizes 1000000 --keep       # keep dam_scale_1000000 for later runs
    .venv/bin/python bench/data_scale.py --sizes 1000000 --reuse      # measure it again without seeding

For each size, in a process of its own: a database of its own (`dam_scale_<size>_<run id>`, dropped at the end;
with --keep or --reuse `dam_scale_<size>`, kept), migrated, seeded fast by set-based SQL (bench/data_scale_seed.py:
100 tenants, the big one with N assets, 1.5 versions and ~5.3 renditions per version, 50 collections, a ledger
charge and a webhook delivery per asset, two audit events per asset in a valid hash chain), with progress in
rows/s; then every figure of bench/data_scale_measure.py for the big tenant, in process through the whole Django
stack: the never-cached storefront list (first page, a cursor 90% deep, each filter, full-text search of 1-3
terms), an asset's detail, beside the in-memory baseline view of bench/storefront.py in the same run; the staff
asset browser, its search and the review board; the spend reports; the webhook and checks sweeps' backlog queries;
`audit_verify`'s full walk. Each with its SQL query count and the EXPLAIN (ANALYZE, BUFFERS) of its main query
(artifacts/data_scale/<size>/, printed with --verbose).

Then the curve: each figure's p50 at every size, the ratio largest / smallest size (target <= 2x), and the issue's
targets at the largest size: storefront lists p50 <= 10 ms and >= 30% of the baseline's requests/s; search p95 <=
50 ms; browser and board <= 150 ms with the same SQL count at every size; spend reports < 20 ms; audit_verify >=
50,000 events/s. Exit status 3 (figures.MISSED_TARGET) when a target is missed; a smoke run judges nothing.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))  # run as `python bench/data_scale.py`

from bench.figures import MISSED_TARGET, header, table  # noqa: E402

SMOKE_SIZES = (1_000, 2_000)
DEFAULT_SIZES = (10_000, 100_000)
LIST_P50_MS = 10.0
LIST_SHARE = 0.30
SEARCH_P95_MS = 50.0
PAGE_MS = 150.0
REPORT_MS = 20.0
AUDIT_RATE = 50_000
RATIO = 2.0
ONLY = ("storefront", "staff", "reports", "backlogs", "audit", "http")


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default=",".join(map(str, DEFAULT_SIZES)), help="assets of the big tenant")
    parser.add_argument("--repeat", type=int, default=30, help="timed requests per figure (after 2 warm-ups)")
    parser.add_argument("--http-seconds", type=float, default=4.0, help="load per path over HTTP (gunicorn)")
    parser.add_argument("--keep", action="store_true", help="keep each size's database, dam_scale_<size>")
    parser.add_argument("--reuse", action="store_true", help="measure dam_scale_<size> if seeded (implies --keep)")
    parser.add_argument(
        "--only", default=",".join(ONLY), help=f"comma-separated steps out of {', '.join(ONLY)} (http needs storefront)"
    )
    parser.add_argument(
        "--plan-cache-mode",
        default="settings",
        choices=("settings", "auto", "force_custom_plan", "force_generic_plan"),
        help="PostgreSQL's plan_cache_mode for the measured connections (DB_PLAN_CACHE_MODE; default: the settings')",
    )
    parser.add_argument("--verbose", action="store_true", help="print every main query's plan")
    parser.add_argument("--smoke", action="store_true", help="1,000 and 2,000 assets, 3 requests per figure")
    parser.add_argument("--one", type=int, help=argparse.SUPPRESS)  # a child: measure one size
    parser.add_argument("--json", help=argparse.SUPPRESS)  # where the child writes its figures
    args = parser.parse_args()
    args.sizes = SMOKE_SIZES if args.smoke else tuple(int(size) for size in args.sizes.split(","))
    if args.smoke:
        args.repeat, args.http_seconds = 3, 0.5
    args.keep = args.keep or args.reuse
    args.only = set(args.only.split(","))
    if args.only - set(ONLY):
        parser.error(f"--only: unknown steps {', '.join(sorted(args.only - set(ONLY)))}")
    if "http" in args.only:
        args.only.add("storefront")  # the pages it loads and the baseline's bytes come from the storefront step
    if min(args.sizes) < 500:
        parser.error("sizes start at 500 assets (the storefront's filters must fill a page of 24)")
    return args


def main() -> int:
    args = parse_args()
    if args.one:
        return one_size(args)
    results = []
    for size in args.sizes:
        with tempfile.NamedTemporaryFile(suffix=".json") as out:
            argv = [sys.executable, __file__, "--one", str(size), "--json", out.name, "--repeat", str(args.repeat)]
            argv += ["--http-seconds", str(args.http_seconds), "--plan-cache-mode", args.plan_cache_mode]
            argv += ["--only", ",".join(sorted(args.only))]
            argv += [flag for flag in ("--keep", "--reuse", "--verbose", "--smoke") if getattr(args, flag[2:])]
            sys.stdout.flush()
            done = subprocess.run(argv, cwd=REPO, check=False)
            if done.returncode:
                print(f"   size {size:,}: the run broke (exit {done.returncode})")
                return 1
            results.append(json.loads(Path(out.name).read_text()))
    missed = curve(results)
    # A smoke run's figures mean nothing (tiny sizes, 3 requests): it shows the path works and judges no target.
    return MISSED_TARGET if missed and not args.smoke else 0


def one_size(args: argparse.Namespace) -> int:
    from bench.stack import Stack

    size = args.one
    if args.plan_cache_mode != "settings":  # every connection of this process and of gunicorn's (config/settings.py)
        os.environ["DB_PLAN_CACHE_MODE"] = args.plan_cache_mode
    with Stack("data_scale") as stack:
        stack.database = f"dam_scale_{size}" if args.keep else f"dam_scale_{size}_{stack.run_id}"
        stack.prepare_data_stores()
        if args.keep:
            stack._database_created = False  # kept: __exit__ must not drop it
        os.environ.update(stack.env(DJANGO_SETTINGS_MODULE="bench.data_scale_settings"))
        import django

        django.setup()
        from bench import data_scale_seed
        from bench.data_scale_measure import Context, measure_all, over_http

        kept = "kept" if args.keep else "this run's, dropped at the end"
        header(
            f"Data scale: {size:,} assets in the big tenant" + (" (smoke)" if args.smoke else ""),
            {
                "database": f"{stack.database} ({kept})",
                "tenants": f"{data_scale_seed.TENANTS} (the 99 others with {data_scale_seed.SMALL_ASSETS} assets each)",
                "timing": f"in process (Django test client), {args.repeat} requests per figure after 2 warm-ups",
                "plan_cache_mode": os.environ.get("DB_PLAN_CACHE_MODE", "force_custom_plan (the settings' default)"),
            },
        )

        def log(line: str) -> None:
            print(line, flush=True)

        started = time.perf_counter()
        seeded = data_scale_seed.seeded(assets=size, log=log) if args.reuse else None
        if seeded is None:
            seeded = data_scale_seed.seed(database_url=stack.database_url, assets=size, log=log)
        seed_seconds = time.perf_counter() - started
        log(f"   seeded in {seed_seconds:.1f} s")
        started = time.perf_counter()
        ctx = Context(
            size=size,
            tenant_id=seeded.tenant_id,
            token=seeded.token,
            staff_username=seeded.staff_username,
            repeat=args.repeat,
            plans_dir=REPO
            / "artifacts"
            / "data_scale"
            / (str(size) + ("" if args.plan_cache_mode == "settings" else f"-{args.plan_cache_mode}")),
            verbose=args.verbose,
        )
        measure_all(ctx, only=args.only)
        if "http" in args.only:
            over_http(
                ctx,
                start_web=lambda body: stack.start_web(
                    workers=3,
                    threads=4,
                    env={"DJANGO_SETTINGS_MODULE": "bench.data_scale_settings", "BENCH_BASELINE_JSON": str(body)},
                ),
                seconds=args.http_seconds,
                concurrency=2 if args.smoke else 16,
            )
        figures = [asdict(figure) for figure in ctx.figures]
        measure_seconds = time.perf_counter() - started
        print_size(size, figures)
        plans = ctx.plans_dir.relative_to(REPO)
        print(f"   plans: {plans}/; seeding {seed_seconds:.0f} s, measuring {measure_seconds:.0f} s")
        Path(args.json).write_text(
            json.dumps(
                {
                    "size": size,
                    "seed_seconds": seed_seconds,
                    "measure_seconds": measure_seconds,
                    "seed": {name: list(value) for name, value in seeded.timings.items()},
                    "figures": figures,
                }
            )
        )
    return 0


def _baseline_rps(figures: list[dict], kind: str = "baseline") -> float | None:
    return next((f["rps"] for f in figures if f["kind"] == kind), None)


def print_size(size: int, figures: list[dict]) -> None:
    baseline = _baseline_rps(figures)
    rows = []
    for f in figures:
        if f["kind"].startswith("http"):
            continue
        share = f"{f['rps'] / baseline:.0%}" if baseline and f["name"].startswith(("storefront", "baseline")) else ""
        rate = f"{f['rps']:,.0f} ev/s" if f["kind"] == "audit" else f"{f['rps']:,.0f}"
        main = f"{f['main_ms']:.1f}" if f["main_ms"] is not None else ""
        rows.append(
            (f["name"], f"{f['p50_ms']:.1f}", f"{f['p95_ms']:.1f}", rate, share, f["queries"], main, f["plan_top"])
        )
    print(f"\n   -- figures at {size:,} assets (in process) --")
    table(rows, heading=("figure", "p50 ms", "p95 ms", "req/s", "of baseline", "SQL", "main ms", "main plan"))
    http_baseline = _baseline_rps(figures, "http-baseline")
    if http_baseline is None:
        return
    rows = [
        (
            f["name"],
            f"{f['p50_ms']:.1f}",
            f"{f['extra']['p99_ms']:.1f}",
            f"{f['rps']:,.0f}",
            f"{f['rps'] / http_baseline:.0%}",
        )
        for f in figures
        if f["kind"].startswith("http")
    ]
    print(f"\n   -- over HTTP at {size:,} assets (gunicorn gthread 3x4, keep-alive clients) --")
    table(rows, heading=("figure", "p50 ms", "p99 ms", "req/s", "of baseline"))


def _cost(figure: dict) -> float:
    """What grows when a figure gets worse: p50, or for audit_verify the time per event."""
    if figure["kind"] == "audit":
        return 1e6 / figure["rps"]
    return figure["p50_ms"]


def _verdicts(figure: dict, *, largest: dict, queries: set[int], baseline: float | None) -> list[str]:
    kind, missed = figure["kind"], []
    if kind == "storefront" and largest["p50_ms"] > LIST_P50_MS:
        missed.append(f"p50 > {LIST_P50_MS:g} ms")
    elif kind == "http" and baseline and largest["rps"] < LIST_SHARE * baseline:
        missed.append(f"< {LIST_SHARE:.0%} of baseline ({largest['rps'] / baseline:.0%})")
    elif kind == "search" and largest["p95_ms"] > SEARCH_P95_MS:
        missed.append(f"p95 > {SEARCH_P95_MS:g} ms")
    if kind == "page" or figure["name"].startswith("UI:"):
        if largest["p50_ms"] > PAGE_MS:
            missed.append(f"p50 > {PAGE_MS:g} ms")
        if len(queries) > 1:
            missed.append("SQL reads grow")
    elif kind == "report" and largest["p50_ms"] >= REPORT_MS:
        missed.append(f"p50 >= {REPORT_MS:g} ms")
    elif kind == "audit" and largest["rps"] < AUDIT_RATE:
        missed.append(f"< {AUDIT_RATE:,} events/s")
    return missed


def curve(results: list[dict]) -> bool:
    """The curve over the sizes run and the targets' verdicts at the largest; True when a target was missed."""
    sizes = [r["size"] for r in results]
    first, last = results[0], results[-1]
    by_name = [{f["name"]: f for f in r["figures"]} for r in results]
    header(
        "Data scale: the curve",
        {
            "sizes": ", ".join(f"{s:,}" for s in sizes),
            "seeding": ", ".join(f"{r['size']:,}: {r['seed_seconds']:.0f} s" for r in results),
            "ratio": f"cost at {last['size']:,} / cost at {first['size']:,} (p50 ms; audit_verify: µs per event)",
            "verdicts": f"the issue's targets at {last['size']:,} assets, ratio <= {RATIO:g}x",
        },
    )
    baseline = _baseline_rps(last["figures"], "http-baseline")
    rows, missed_any = [], False
    for figure in first["figures"]:
        name = figure["name"]
        series = [figures.get(name) for figures in by_name]
        if any(f is None for f in series):
            continue
        ratio = _cost(series[-1]) / _cost(series[0]) if _cost(series[0]) else float("nan")
        is_baseline = figure["kind"] in ("baseline", "http-baseline")
        missed = (
            []
            if is_baseline
            else _verdicts(
                figure,
                largest=series[-1],
                queries={f["extra"].get("reads", f["queries"]) for f in series},
                baseline=baseline,
            )
        )
        if not is_baseline and len(results) > 1 and ratio > RATIO:
            missed.append(f"ratio > {RATIO:g}x")
        missed_any |= bool(missed)
        verdict = "baseline" if is_baseline else ("MISSED: " + ", ".join(missed) if missed else "MET")
        queries = "/".join(str(f["queries"]) for f in series)
        rows.append((name, *(f"{_cost(f):.1f}" for f in series), f"{ratio:.2f}x", queries, verdict))
    table(rows, heading=("figure", *(f"{s:,}" for s in sizes), "ratio", "SQL", "verdict"))
    return missed_any


if __name__ == "__main__":
    raise SystemExit(main())
