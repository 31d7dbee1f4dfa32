"""Platform overhead per job: API submit to `succeeded`, minus the time spent in the provider call.

Jobs run one at a time (submit, wait for `succeeded`, next), so the figure is the platform's own cost per job and
not time spent queueing behind other jobs. Per job: overhead = finished_at - submitted_at - provider call time
(the Foundry client's measurement of the HTTP call, recorded on the job's ProviderResponse). Printed with the
split: API answer, dispatch (commit -> Redis -> worker -> claim), and in-worker work (quota, DB writes, storing
the blob, the version rows).

Baseline, in the same run and on the same emulator with the same image size: one script that calls the emulator
with httpx, decodes the image and writes the file (bench/direct.py); its overhead = total - the HTTP call.

    .venv/bin/python bench/overhead.py [--jobs 50] [--latency-ms 0] [--size 1024x1024] [--api client|http]
        [--profile wall|cpu] [--queues Q1,Q2] [--worker-env NAME=VALUE ...] [--debug]
    .venv/bin/python bench/overhead.py --smoke   # 3 jobs after 1 warm-up: the path, not a figure
"""

from __future__ import annotations

import argparse
import os
import signal
import time

from direct import direct_calls
from figures import header, ms, percentile, table
from jobs import (
    TERMINAL_STATES,
    add_api_options,
    bench_tenant_token,
    generation_body,
    job_timings,
    make_submitter,
)
from stack import (
    CpuMeter,
    Stack,
    add_render_processes_option,
    add_worker_options,
    render_processes_label,
    run_main,
    wait_for_quiet_machine,
    worker_env_overrides,
)


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--jobs", type=int, default=50)
    add_render_processes_option(parser)
    parser.add_argument("--latency-ms", type=int, default=0, help="the emulator's fixed latency (default 0)")
    parser.add_argument("--size", default="1024x1024")
    parser.add_argument("--quality", default="low")
    parser.add_argument("--format", default="jpeg", dest="output_format")
    parser.add_argument("--concurrency", type=int, default=8, help="worker threads (jobs run one at a time anyway)")
    parser.add_argument("--warmup", type=int, default=5, help="jobs run (and not measured) first")
    parser.add_argument("--poll", type=float, default=0.01, help="seconds between state checks (default 0.01)")
    parser.add_argument("--timeout", type=float, default=120, help="per job")
    parser.add_argument(
        "--profile", choices=("wall", "cpu"), help="py-spy the worker during the run (collapsed stacks in var/bench/)"
    )
    parser.add_argument("--smoke", action="store_true", help="3 jobs after 1 warm-up: the path only")
    add_api_options(parser)
    add_worker_options(parser)
    args = parser.parse_args()
    if args.smoke:
        args.jobs, args.warmup = 3, 1
    return args


def run_one(submitter, body: dict, *, poll: float, timeout: float):
    from generation.models import Job

    submitted = submitter.submit(body)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if Job.unscoped.filter(pk=submitted.job_id, state__in=TERMINAL_STATES).exists():
            return submitted
        time.sleep(poll)
    raise TimeoutError(f"job {submitted.job_id} did not finish within {timeout}s")


def summary_row(name: str, overheads: list[float], emulator: list[float], totals: list[float]) -> tuple:
    return (
        name,
        len(overheads),
        ms(percentile(overheads, 50)),
        ms(percentile(overheads, 95)),
        ms(percentile(emulator, 50)),
        ms(percentile(totals, 50)),
    )


def main() -> int:
    args = parse_args()
    body = {"size": args.size, "quality": args.quality, "output_format": args.output_format}
    with Stack(name="overhead", debug=args.debug) as stack:
        if args.wait_quiet:
            wait_for_quiet_machine(timeout=args.wait_quiet)
        stack.prepare_data_stores()
        stack.setup_django()
        emulator = stack.start_emulator(latency_ms=str(args.latency_ms), render_processes=args.render_processes)
        worker_env = {**emulator.foundry_env(rpm=1_000_000, tpm=10**12), **worker_env_overrides(args)}
        worker = stack.start_worker(concurrency=args.concurrency, env=worker_env, queues=args.queues)
        submitter = make_submitter(stack, args, token=bench_tenant_token())
        header(
            "platform overhead per job (one job at a time)",
            {
                "jobs": f"{args.jobs} x {args.size} {args.quality} {args.output_format}, via {submitter.via}",
                "worker": worker.describe(),
                "extra worker env": " ".join(args.worker_env) or "none",
                "emulator": f"fixed {args.latency_ms} ms latency (plus rendering), no quota, render processes "
                f"{render_processes_label(args.render_processes)}",
                "settings": stack.settings_label,
                "overhead": "submit -> succeeded minus the provider call (baseline: call + decode + write minus call)",
            },
        )

        direct_bodies = [generation_body(i, label="direct", **body) for i in range(args.warmup + args.jobs)]
        calls = direct_calls(
            emulator=emulator, bodies=direct_bodies, concurrency=1, out_dir=stack.media_root / "direct"
        )[args.warmup :]

        for i in range(args.warmup):
            run_one(submitter, generation_body(i, label="warmup", **body), poll=args.poll, timeout=args.timeout)
        profiler = None
        if args.profile:
            profiler, profile_path = stack.start_profiler(pid=worker.child.pid, name="worker", mode=args.profile)
            time.sleep(1)
        meter = CpuMeter(
            {"worker": worker.child.pid, "emulator": emulator.child.pid, "benchmark": os.getpid()},
            database=stack.database,
        )
        meter.start()
        submitted = [
            run_one(submitter, generation_body(i, label="platform", **body), poll=args.poll, timeout=args.timeout)
            for i in range(args.jobs)
        ]
        cpu = meter.stop()
        timings = job_timings(submitted)
        done = [t for t in timings if t.state == "succeeded"]
        if len(done) != len(timings):
            # A figure over the jobs that happened to succeed would hide a broken platform: fail the run.
            print(f"   {len(timings) - len(done)} jobs did not succeed: {[t.state for t in timings]}")
            return 1

        print()
        table(
            [
                summary_row(
                    "baseline: call + decode + write file",
                    [c.overhead for c in calls],
                    [c.emulator_seconds for c in calls],
                    [c.total_seconds for c in calls],
                ),
                summary_row(
                    "platform: API submit -> succeeded",
                    [t.overhead for t in done],
                    [t.provider_seconds for t in done],
                    [t.total for t in done],
                ),
            ],
            heading=("run", "jobs", "overhead p50", "overhead p95", "emulator p50", "total p50"),
        )
        print("\n   platform overhead split (median / p95; the three parts add up to the overhead):")
        for name, values in (
            ("API: request sent -> job row inserted", [t.api for t in done]),
            ("dispatch: job row -> claimed by the worker", [t.dispatch for t in done]),
            ("worker: claimed -> succeeded, minus the call", [t.run_overhead for t in done]),
            ("(the API's answer as the client saw it)", [t.submit_seconds for t in done]),
        ):
            print(f"     {name:<46} {ms(percentile(values, 50))} / {ms(percentile(values, 95))}")
        if profiler is not None:
            profiler.stop(signum=signal.SIGINT)
            print(f"   worker profile (py-spy, collapsed stacks): {profile_path}")
        print(f"   CPU during the platform run: {CpuMeter.describe(cpu)}")
        CpuMeter.warn_if_contended(cpu)
        print(f"   logs: {stack.run_dir}")
    return 0


if __name__ == "__main__":
    run_main(main)
