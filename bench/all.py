"""Every benchmark, one after the other: what `make bench` runs.

    .venv/bin/python bench/all.py            # the full runs (about 20 minutes on 2 CPUs)
    .venv/bin/python bench/all.py --smoke    # each one's smoke mode: tiny sizes, the same code path (~3 minutes)
    .venv/bin/python bench/all.py --only quota,plan

Each benchmark runs to its end whatever the others did; at the end a table gives each one's exit status and time.
A benchmark that completed but missed its target (exit status 3, `figures.MISSED_TARGET`: a figure, on a shared
machine maybe not this code's fault) is reported and does not fail the run; any other failure (a crash, jobs left
unfinished, an unanswered request) does: the exit status is 1 if any benchmark broke.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from bench.figures import MISSED_TARGET  # noqa: E402  (after the path: run as `python bench/all.py`)

# name -> the full run's arguments (README: bench/README.md). Cheapest first, so a broken stack shows early.
BENCHMARKS: dict[str, list[str]] = {
    "renditions": ["bench/renditions.py"],
    "c2pa_signing": ["bench/c2pa_signing.py"],
    "brand_checks": ["bench/brand_checks.py"],
    "bulk_operations": ["bench/bulk_operations.py"],
    "exports": ["bench/exports.py"],
    "ledger_reports": ["-m", "bench.ledger_reports"],
    "audit_verify": ["bench/audit_verify.py"],
    # The pool dispatcher alone on Redis (about 30 s): utilisation, Redis commands per call, interactive waits.
    "dispatch_smoke": ["bench/dispatch_smoke.py"],
    # 10,000 then 100,000 assets (about 5 minutes); the 1,000,000 of the issue: --sizes 10000,100000,1000000.
    "data_scale": ["bench/data_scale.py"],
    "job_sql": ["bench/job_sql.py", "--quiet"],
    "campaign_grid": ["bench/campaign_grid.py"],
    "overhead": ["bench/overhead.py"],
    "storefront": ["bench/storefront.py"],
    "plan": ["bench/plan.py"],
    "throughput": ["bench/throughput.py"],
    "quota": ["bench/quota.py", "--jobs", "120"],
    # 25 headlines per locale here (about 10 minutes); the accuracy table in docs/ comes from a longer run.
    "ocr_accuracy": ["bench/ocr_accuracy.py", "--strings", "25"],
    # The Capacity issue's five runs on a deployment pool (about 25 minutes; `--runs` picks some).
    "pool": ["bench/pool.py"],
}


def command(name: str, *, smoke: bool) -> list[str]:
    arguments = BENCHMARKS[name]
    if smoke:  # the smoke mode's own sizes replace the full run's
        arguments = [arguments[0]] if arguments[0] != "-m" else arguments[:2]
        arguments = [*arguments, "--smoke"]
    return [sys.executable, *arguments]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--smoke", action="store_true", help="each benchmark's smoke mode")
    parser.add_argument("--only", help=f"comma-separated names out of {', '.join(BENCHMARKS)}")
    args = parser.parse_args()
    names = args.only.split(",") if args.only else list(BENCHMARKS)
    unknown = set(names) - set(BENCHMARKS)
    if unknown:
        parser.error(f"unknown benchmarks: {', '.join(sorted(unknown))}")
    results = []
    for name in names:
        argv = command(name, smoke=args.smoke)
        print(f"\n##### {name}: {' '.join(argv[1:])}", flush=True)
        started = time.monotonic()
        code = subprocess.run(argv, cwd=REPO, check=False).returncode
        results.append((name, code, time.monotonic() - started))
    print("\n##### summary" + (" (smoke)" if args.smoke else ""))
    broken = False
    for name, code, seconds in results:
        outcome = "ok" if code == 0 else "target missed" if code == MISSED_TARGET else f"BROKEN (exit {code})"
        broken |= code not in (0, MISSED_TARGET)
        print(f"   {name:<16} {outcome:<20} {seconds:7.1f} s")
    return 1 if broken else 0


if __name__ == "__main__":
    raise SystemExit(main())
