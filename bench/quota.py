"""Staying inside a 60 RPM deployment quota: few 429s, and the quota still used.

The emulator enforces 60 requests per sliding minute (its own `rpm`), the worker's deployment is configured to 60
RPM (FOUNDRY_RPM=60), and N jobs (300, about five minutes by nature) are submitted at once to one worker with 50
threads. Read at the emulator:

- 429 share: 429 answers / all image calls (target < 1%).
- quota utilisation: for every second from one window after the first request to the last, the admitted requests
  in the trailing 60 s (what the quota counts) / 60, averaged (target >= 90%). A run shorter than one window
  (`--jobs 60` or fewer) has no sustained period and prints n/a.
- makespan: the last request's arrival after the first, against the least a sliding 60 RPM window allows
  (60 s x (ceil(N / 60) - 1)).

Transit: the worker logs when each call's quota slot starts (its restamp as the call leaves, Redis clock;
LOG_LEVELS=generation.services.calls=debug) and the emulator records each call's arrival with its
x-ms-client-request-id;
the script prints how long after its slot started each call was counted, against the limiter's margin
(FOUNDRY_QUOTA_WINDOW_SECONDS - 60 = 1 s). A call counted later than that may still be in the emulator's window when
the limiter has let its slot go, and the call sent into that slot is answered 429.

That is what gave an earlier run 5 429s at the 62nd second: the emulator drew its designed pictures (~40 ms of CPU
each, mostly holding the GIL) in threads of its server's process, which starved the event loop that stamps
arrivals. With `--render-processes 0` (those threads) the run is reproduced: 5 calls of the first minute counted
1.8-1.9 s after their slots started, while the first round's answers were being drawn, and 5 429s at the 62nd
second; an httpcore trace showed the worker writing each request 1-17 ms after its slot started, the rest spent
before the emulator read it. The emulator now draws them in render processes (`foundry_emulator
--render-processes`, one per CPU up to 4 by default): transits p50 3-4 ms, max 84-110 ms, no 429 (three runs).
Designed pictures (`--render full`) are the default again; `--render plain` is what bench/throughput.py uses.

Baseline, in the same run and on the same emulator quota (reset afterwards): the same number of callers with no
shared limiter, each honouring the 429's retry-after, for `--baseline-seconds` (90; 0 skips it).

    .venv/bin/python bench/quota.py [--jobs 300] [--rpm 60] [--latency-ms 2000] [--baseline-seconds 90]
        [--render full|plain] [--render-processes N] [--api client|http] [--queues Q1,Q2]
        [--worker-env NAME=VALUE ...] [--debug]
    .venv/bin/python bench/quota.py --smoke   # 6 jobs at 60 RPM, 2 s of baseline: the path, not a figure

Exit status: 0 targets met, 3 (MISSED_TARGET) a target missed, 1 jobs left unfinished.
"""

from __future__ import annotations

import argparse
import json
import math
import re
from collections import Counter
from pathlib import Path

from direct import naive_quota_client
from figures import MISSED_TARGET, header, percentile, share, table, trailing_window_utilisation, verdict
from jobs import (
    add_api_options,
    bench_tenant_token,
    generation_body,
    job_timings,
    make_submitter,
    report_unfinished,
    wait_until_finished,
)
from stack import (
    Stack,
    add_render_processes_option,
    add_worker_options,
    render_processes_label,
    run_main,
    wait_for_quiet_machine,
    worker_env_overrides,
)

DEFAULT_TPM = 600_000  # the platform's default FOUNDRY_TPM: far above what these small images need


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--jobs", type=int, default=300)
    parser.add_argument("--rpm", type=int, default=60, help="emulator quota and FOUNDRY_RPM (default 60)")
    parser.add_argument("--latency-ms", type=int, default=2000, help="the emulator's fixed latency (default 2000)")
    parser.add_argument("--concurrency", type=int, default=50, help="worker threads (default 50)")
    parser.add_argument(
        "--render", choices=("plain", "full"), default="full", help="the emulator's pictures (default full)"
    )
    add_render_processes_option(parser)
    parser.add_argument("--size", default="1024x1024")
    parser.add_argument("--quality", default="low")
    parser.add_argument("--format", default="jpeg", dest="output_format")
    parser.add_argument("--submit-threads", type=int, default=8)
    parser.add_argument("--baseline-seconds", type=float, default=90, help="naive-client baseline length (0: skip)")
    parser.add_argument("--timeout", type=float, default=None, help="default: the ideal makespan + 5 minutes")
    parser.add_argument(
        "--smoke", action="store_true", help="6 jobs, 4 threads, 0.2 s calls, 2 s of baseline: the path only"
    )
    add_worker_options(parser)
    add_api_options(parser)
    args = parser.parse_args()
    if args.smoke:
        args.jobs, args.concurrency, args.latency_ms, args.baseline_seconds = 6, 4, 200, 2.0
        args.render, args.timeout = "plain", 120.0
    return args


def quota_figures(calls: list[dict], *, rpm: int) -> dict:
    """Figures from the emulator's records of image calls (`at`: arrival, unix seconds; `status`)."""
    statuses = Counter(call["status"] for call in calls)
    admitted = sorted(call["at"] for call in calls if call["status"] != 429)
    utilisation = trailing_window_utilisation(admitted, rpm=rpm)
    span = admitted[-1] - admitted[0] if admitted else 0.0
    least_span = 60.0 * (math.ceil(len(admitted) / rpm) - 1)
    return {
        "calls": len(calls),
        "429": statuses.get(429, 0),
        "statuses": dict(statuses),
        "admitted": len(admitted),
        "utilisation": utilisation,
        "span": span,
        "least_span": least_span,
    }


def refusal_times(calls: list[dict]) -> str:
    """When the 429s arrived, grouped by second ("60 s: 4"): clustered at window edges means the limiter's window
    and the provider's are out of step (a request's grant and its arrival are not the same instant)."""
    if not calls:
        return ""
    start = min(call["at"] for call in calls)
    seconds = Counter(int(call["at"] - start) for call in calls if call["status"] == 429)
    return ", ".join(f"{second} s: {count}" for second, count in sorted(seconds.items()))


def arrival_timeline(calls: list[dict], *, step: int = 5) -> str:
    """Admitted calls per `step` seconds from the first: where the quota went unused shows as gaps."""
    if not calls:
        return ""
    start = min(call["at"] for call in calls)
    buckets = Counter(int((call["at"] - start) // step) for call in calls if call["status"] != 429)
    return " ".join(str(buckets.get(index, 0)) for index in range(max(buckets) + 1))


_LEAVES = re.compile(r"quota: call (\S+) leaves at ([0-9.]+)")


def departures(log_path: Path) -> dict[str, float]:
    """Each call's restamp (the moment its quota slot starts, Redis clock) from the worker's debug log."""
    return {m[1]: float(m[2]) for m in _LEAVES.finditer(log_path.read_text(errors="replace"))}


def transit_report(calls: list[dict], left: dict[str, float], window_margin: float) -> list[str]:
    """How long after its slot started each call was counted by the emulator's quota, and which calls were counted
    later than the limiter's margin (the emulator still counts them when the limiter has let their slot go).

    A call retried by the client keeps its x-ms-client-request-id: its first arrival is the restamped one."""
    first: dict[str, dict] = {}
    for call in sorted(calls, key=lambda call: call["at"]):
        first.setdefault(call.get("client_request_id") or "", call)
    first.pop("", None)
    start = min(call["at"] for call in calls)
    transits = sorted((call["at"] - left[cid], cid, call["at"] - start) for cid, call in first.items() if cid in left)
    if not transits:
        return ["no departures traced (is LOG_LEVELS=generation.services.calls=debug reaching the worker?)"]
    values = [transit for transit, _, _ in transits]
    p50, p95 = percentile(values, 50), percentile(values, 95)
    lines = [
        f"{len(transits)} of {len(first)} calls traced; slot start -> emulator arrival: p50 {p50 * 1000:.0f} ms, "
        f"p95 {p95 * 1000:.0f} ms, max {values[-1] * 1000:.0f} ms (window margin {window_margin * 1000:.0f} ms)",
        "slowest: " + ", ".join(f"{transit * 1000:.0f} ms at {at:.1f} s" for transit, _, at in transits[-5:][::-1]),
    ]
    over = [(transit, at) for transit, _, at in transits if transit > window_margin]
    if over:
        lines.append(
            f"calls over the margin (each can cost a 429 one window later): {len(over)}, at "
            + ", ".join(f"{at:.1f} s" for _, at in over)
        )
    return lines


def print_details(
    timings: list, stats: dict, calls: list[dict], *, departures: dict[str, float], window_margin: float
) -> None:
    states = Counter(t.state for t in timings)
    retried = sum(1 for t in timings if t.attempts > 1)
    print(f"\n   job states: {dict(states)}; jobs claimed more than once: {retried}")
    print(f"   emulator statuses: {stats['by_status']}, faults: {stats['faults']}")
    print(f"   429s by arrival, seconds after the first call: {refusal_times(calls) or 'none'}")
    print(f"   admitted calls per 5 s from the first: {arrival_timeline(calls)}")
    print("\n".join(f"   {line}" for line in transit_report(calls, departures, window_margin)))
    first = min(t.submitted_at for t in timings)
    last = max(t.finished_at or 0 for t in timings)
    print(f"   first submit -> last job finished: {last - first:.1f} s")


def row(name: str, figures: dict, *, rpm: int) -> tuple:
    utilisation = figures["utilisation"]
    return (
        name,
        figures["calls"],
        figures["429"],
        share(figures["429"], figures["calls"]),
        f"{utilisation * rpm:.1f}" if utilisation is not None else "n/a",
        f"{100 * utilisation:.1f}%" if utilisation is not None else "n/a",
        f"{figures['span']:.1f} s / {figures['least_span']:.0f} s",
    )


def main() -> int:
    args = parse_args()
    body = {"size": args.size, "quality": args.quality, "output_format": args.output_format}
    timeout = args.timeout or 60.0 * math.ceil(args.jobs / args.rpm) + 300
    with Stack(name="quota", debug=args.debug) as stack:
        if args.wait_quiet:
            wait_for_quiet_machine(timeout=args.wait_quiet)
        stack.prepare_data_stores()
        stack.setup_django()
        emulator = stack.start_emulator(
            latency_ms=str(args.latency_ms),
            rpm=args.rpm,
            recent_limit=20 * args.jobs,
            render=args.render,
            render_processes=args.render_processes,
        )
        worker_env = emulator.foundry_env(rpm=args.rpm, tpm=DEFAULT_TPM)
        worker_env["LOG_LEVELS"] = "generation.services.calls=debug"  # each call's slot start, for the transit figures
        worker_env.update(worker_env_overrides(args))
        worker = stack.start_worker(concurrency=args.concurrency, env=worker_env, queues=args.queues)
        submitter = make_submitter(stack, args, token=bench_tenant_token())
        header(
            "quota: a 60 RPM deployment",
            {
                "jobs": f"{args.jobs} x {args.size} {args.quality} {args.output_format}, submitted at once via "
                f"{submitter.via}",
                "worker": f"{worker.describe()}, FOUNDRY_RPM={args.rpm} FOUNDRY_TPM={DEFAULT_TPM}",
                "emulator": f"quota {args.rpm} RPM (sliding 60 s), fixed {args.latency_ms} ms latency, "
                f"{args.render} pictures, render processes {render_processes_label(args.render_processes)}",
                "settings": stack.settings_label,
                "extra worker env": " ".join(args.worker_env) or "none",
            },
        )

        rows = []
        if args.baseline_seconds > 0:
            naive = naive_quota_client(
                emulator=emulator,
                body=generation_body(0, label="naive", **body),
                concurrency=args.concurrency,
                seconds=args.baseline_seconds,
            )
            baseline = quota_figures([{"at": a.at, "status": a.status} for a in naive], rpm=args.rpm)
            rows.append(row(f"baseline: {args.concurrency} callers, no limiter", baseline, rpm=args.rpm))
            emulator.reset()  # clears the emulator's quota window too

        bodies = [generation_body(i, label="quota", **body) for i in range(args.jobs)]
        submitted = submitter.submit_many(bodies, threads=args.submit_threads)
        # The limiter can hold a job back for up to a window (60 s): only a longer silence means stranded jobs.
        unfinished = wait_until_finished([s.job_id for s in submitted], timeout=timeout, stall=180, poll=1.0)
        stats = emulator.stats()
        calls = [call for call in stats["recent"] if call["kind"] in ("generations", "edits")]
        if len(calls) < stats["image_calls"]:
            print(f"   WARNING: the emulator kept {len(calls)} of {stats['image_calls']} call records")
        (stack.run_dir / "calls.json").write_text(json.dumps(calls))  # for a closer look after the run
        platform = quota_figures(calls, rpm=args.rpm)
        rows.append(row("platform: jobs through the worker", platform, rpm=args.rpm))

        print()
        table(
            rows,
            heading=("run", "calls", "429s", "429 share", "RPM used", "utilisation", "span / least span"),
        )
        timings = job_timings(submitted)
        report_unfinished(unfinished, total=len(timings), log_path=worker.child.log_path)
        margin = float(worker_env.get("FOUNDRY_QUOTA_WINDOW_SECONDS", "61")) - 60.0
        print_details(timings, stats, calls, departures=departures(worker.child.log_path), window_margin=margin)
        met = verdict("429 share", 100 * platform["429"] / max(1, platform["calls"]), target=1, higher_is_better=False)
        if platform["utilisation"] is not None:
            met &= verdict("quota utilisation", 100 * platform["utilisation"], target=90)
        else:
            print("   quota utilisation: n/a (the run is shorter than one 60 s window; use --jobs > rpm)")
        print(f"   logs: {stack.run_dir}")
        if unfinished:
            return 1
        return 0 if met or args.smoke else MISSED_TARGET


if __name__ == "__main__":
    run_main(main)
