"""Throughput of one worker node against a 2 s provider.

One worker node runs N jobs (200) submitted through the REST API; the emulator answers every call in a fixed 2 s
with no quota, and the deployment's own limiter is set far above what the run needs. The ideal is in-flight
concurrency / latency (50 calls / 2 s = 25 jobs/s); the figure is N divided by the time the worker node took (first
claim to last `succeeded`), as a share of that ideal (target >= 90%). The emulator's `max in flight` column shows
that the node never had more than 50 calls out.

The node is laid out as README "Running workers" advises: one Celery worker process per CPU (`--processes`, here
the machine's CPU count), threads pool, twice as many threads as calls (`--threads`, 100 for 50 calls), each
process capped at its share of the calls (JOB_CALLS_IN_FLIGHT = 50 / processes), the default connection pool
(DB_POOL_MAX_SIZE 20). `--processes 1 --threads 50` is the plain layout: one process, one call per thread.

By default the N jobs are queued first, with the worker paused (Celery remote control), and the worker's time runs
from resuming it to the last `succeeded`: the node's own throughput. The submission rate of the API is another
figure (printed too, and measured by bench/overhead.py): with N / concurrency = 4 rounds of 2 s, jobs that trickle
in over a few seconds leave the last round's threads late whatever the worker does. `--no-prefill` submits while the
worker runs and measures from the first submit.

The emulator runs on the machine it measures; Azure does not. By default it answers with `--render plain`
images (a flat colour and the mark, encoded once per colour and size, the prompt's seed in the file's metadata:
~0.1 ms of CPU for a 1024x1024 JPEG instead of ~35 ms for the designed picture), so its drawing is not charged to
the worker node; `--render full` measures with the designed pictures.

Baseline, measured in the same run on the same emulator: the same N calls made directly with 50 in flight, each
decoding its image and writing the file (bench/direct.py), which shows what this machine and emulator allow at all.
Also printed: the worker's peak RSS, the CPU each process used per job, and the CPU other processes on the machine
took meanwhile (a shared machine's load shows up there).

    .venv/bin/python bench/throughput.py [--jobs 200] [--concurrency 50] [--latency-ms 2000] [--api client|http]
        [--submit-threads 8] [--warmup 10] [--profile wall|cpu] [--no-baseline] [--queues Q1,Q2] [--render plain|full]
        [--worker-env NAME=VALUE ...] [--debug]
    .venv/bin/python bench/throughput.py --smoke   # 8 jobs, 4 calls of 0.2 s: the path, not a figure

Exit status: 0 target met, 3 (MISSED_TARGET) target missed, 1 jobs left unfinished or none succeeded.
"""

from __future__ import annotations

import argparse
import os
import signal
import threading
import time
from collections import Counter

from direct import direct_calls
from figures import MISSED_TARGET, header, percentile, share, table, verdict
from jobs import (
    JobTiming,
    add_api_options,
    bench_tenant_token,
    generation_body,
    job_timings,
    make_submitter,
    report_unfinished,
    wait_until_finished,
)
from stack import (
    CpuMeter,
    Emulator,
    Stack,
    Worker,
    add_worker_options,
    resume_workers,
    run_main,
    wait_for_quiet_machine,
    worker_env_overrides,
)


def node_memory_kib(workers: list[Worker]) -> dict[str, int]:
    """The node's worker processes together (VmRSS, VmHWM summed)."""
    totals: dict[str, int] = {}
    for worker in workers:
        for name, value in worker.memory_kib().items():
            totals[name] = totals.get(name, 0) + value
    return totals


class MemorySampler(threading.Thread):
    """The worker's resident set every 100 ms while the measured jobs run (VmHWM covers start-up too)."""

    def __init__(self, workers: list[Worker]) -> None:
        super().__init__(daemon=True, name="rss-sampler")
        self.workers = workers
        self.peak_kib = 0
        self._done = threading.Event()

    def run(self) -> None:
        while not self._done.wait(0.1) and all(worker.child.alive() for worker in self.workers):
            self.peak_kib = max(self.peak_kib, node_memory_kib(self.workers).get("VmRSS", 0))

    def stop(self) -> int:
        self._done.set()
        self.join()
        return self.peak_kib


SHOWN_ENV = ("DB_POOL_MAX_SIZE", "JOB_CALLS_IN_FLIGHT")


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--jobs", type=int, default=200)
    parser.add_argument(
        "--concurrency", type=int, default=50, help="provider calls the node keeps in flight (default 50)"
    )
    parser.add_argument(
        "--threads",
        type=int,
        help="worker threads of the node (default: twice --concurrency); more threads than calls set "
        "JOB_CALLS_IN_FLIGHT so the node still has at most --concurrency calls in flight",
    )
    parser.add_argument(
        "--processes",
        type=int,
        default=os.cpu_count() or 1,
        help="worker processes of the node, sharing its threads and calls (default: one per CPU; the GIL serialises "
        "one process's Python)",
    )
    parser.add_argument("--latency-ms", type=int, default=2000, help="the emulator's fixed latency (default 2000)")
    parser.add_argument("--size", default="1024x1024")
    parser.add_argument("--quality", default="low")
    parser.add_argument("--format", default="jpeg", dest="output_format")
    parser.add_argument("--submit-threads", type=int, default=8, help="concurrent API clients submitting (default 8)")
    parser.add_argument(
        "--warmup",
        type=int,
        help="jobs run (and not measured) before the run; default: one per thread, so every thread, pooled "
        "connection and HTTP connection is open, as on a node that has been running",
    )
    parser.add_argument(
        "--profile", choices=("wall", "cpu"), help="py-spy the worker during the run (collapsed stacks in var/bench/)"
    )
    parser.add_argument(
        "--render", choices=("plain", "full"), default="plain", help="the emulator's pictures (default plain)"
    )
    parser.add_argument(
        "--no-prefill", action="store_true", help="submit while the worker runs; measure from the first submit"
    )
    parser.add_argument("--no-baseline", action="store_true", help="skip the direct-call baseline")
    parser.add_argument("--timeout", type=float, default=600)
    parser.add_argument(
        "--smoke", action="store_true", help="8 jobs, 4 calls in flight of 0.2 s, 2 warm-up jobs: the path only"
    )
    add_worker_options(parser)
    add_api_options(parser)
    args = parser.parse_args()
    if args.smoke:
        args.jobs, args.concurrency, args.latency_ms, args.warmup, args.timeout = 8, 4, 200, 2, 120
        args.processes = 2 if (os.cpu_count() or 1) > 1 else 1  # two processes: the default layout's path
    return args


def baseline_row(args: argparse.Namespace, emulator: Emulator, stack: Stack, ideal: float) -> tuple:
    body = {"size": args.size, "quality": args.quality, "output_format": args.output_format}
    bodies = [generation_body(i, label="direct", **body) for i in range(args.jobs)]
    calls = direct_calls(
        emulator=emulator, bodies=bodies, concurrency=args.concurrency, out_dir=stack.media_root / "direct"
    )
    span = max(c.started_at + c.total_seconds for c in calls) - min(c.started_at for c in calls)
    ok = sum(1 for c in calls if c.status == 200)
    rate = ok / span
    in_flight = emulator.stats()["max_in_flight"]
    return (
        f"baseline: direct calls, {args.concurrency} in flight",
        ok,
        f"{span:.2f} s",
        f"{rate:.2f}",
        share(rate, ideal),
        in_flight,
    )


def report_details(
    timings: list[JobTiming],
    calls: list[dict],
    *,
    ideal: float,
    latency: float,
    cpu: dict,
    memory: dict,
    threads: int,
    concurrency: int,
) -> None:
    done = [t for t in timings if t.state == "succeeded"]
    first_submit = min(t.submitted_at for t in timings)
    submit_end = max(t.submitted_at + t.submit_seconds for t in timings)
    worker_span = max(t.finished_at or 0 for t in done) - min(t.started_at or 0 for t in done)
    totals = [t.total for t in done]
    provider = [t.provider_seconds for t in done]
    print(
        f"   submitting {len(timings)} jobs took {submit_end - first_submit:.2f} s "
        f"({len(timings) / (submit_end - first_submit):.1f} jobs/s; API answer median "
        f"{percentile([t.submit_seconds for t in timings], 50) * 1000:.0f} ms)"
    )
    print(
        f"   worker window (first claim -> last succeeded): {worker_span:.2f} s = "
        f"{len(done) / worker_span:.2f} jobs/s ({share(len(done) / worker_span, ideal).strip()} of ideal)"
    )
    busy = sum((t.finished_at or 0) - (t.started_at or 0) for t in done)
    print(
        f"   worker threads busy (claim -> succeeded) {busy / (worker_span * threads):.0%} of the window "
        f"({threads} threads); the rest: each job's terminal transaction after its finish time, the task's "
        "bookkeeping, and threads idle at the start and the end"
    )
    first_claim = min(t.started_at or 0 for t in done)
    ticks = [first_claim + step / 2 for step in range(int(worker_span * 2) + 1)]
    running = [sum(1 for t in done if (t.started_at or 0) <= at < (t.finished_at or 0)) for at in ticks]
    print(f"   jobs between claim and succeeded, every 0.5 s: {' '.join(map(str, running))}")
    spans = [(call["at"], call["at"] + call["duration_ms"] / 1000) for call in calls]
    calling = [sum(1 for begin, end in spans if begin <= at < end) for at in ticks]
    print(f"   calls in flight at the emulator, every 0.5 s: {' '.join(map(str, calling))}")
    arrivals = sorted(begin for begin, _ in spans)
    claims = sorted(t.started_at or 0 for t in done)
    if len(arrivals) >= concurrency:
        last_answer = max(end for _, end in spans)
        print(
            f"   from the first claim: claim {concurrency} at +{claims[concurrency - 1] - first_claim:.2f} s, "
            f"claim {min(threads, len(claims))} at +{claims[min(threads, len(claims)) - 1] - first_claim:.2f} s; "
            f"call 1 sent at +{arrivals[0] - first_claim:.2f} s, call {concurrency} at "
            f"+{arrivals[concurrency - 1] - first_claim:.2f} s; the last answer at +{last_answer - first_claim:.2f} s, "
            f"the last job succeeded at +{worker_span:.2f} s"
        )
    provider_busy = sum(end - begin for begin, end in spans) / (worker_span * concurrency)
    print(
        f"   the {concurrency} call slots were busy with the provider {provider_busy:.0%} of the window "
        "(the rest: waiting for a thread to bring the next call, and the last answers' work after the last call)"
    )
    print(
        f"   per job, submit -> succeeded: median {percentile(totals, 50):.2f} s, "
        f"p95 {percentile(totals, 95):.2f} s (includes waiting for a free thread)"
    )
    print(
        f"   provider call as the worker saw it: median {percentile(provider, 50):.2f} s, "
        f"p95 {percentile(provider, 95):.2f} s (emulator latency {latency:g} s); in-worker time besides it: "
        f"median {percentile([t.run_overhead for t in done], 50) * 1000:.0f} ms (with spare threads, mostly waiting "
        "for a call slot)"
    )
    print(
        f"   worker memory: peak RSS {memory['VmHWM'] / 1024:.0f} MiB (VmHWM, whole life), "
        f"{memory['peak during'] / 1024:.0f} MiB peak during the run, "
        f"{memory['before'] / 1024:.0f} MiB before it, {memory['VmRSS'] / 1024:.0f} MiB after"
    )
    print(f"   CPU during the run: {CpuMeter.describe(cpu)}")
    jobs = len(timings)
    print(
        f"   CPU per job: worker {1000 * cpu['worker'] / jobs:.0f} ms, "
        f"emulator {1000 * cpu['emulator'] / jobs:.0f} ms, postgres {1000 * cpu['postgres'] / jobs:.0f} ms"
    )
    CpuMeter.warn_if_contended(cpu)


def warm_up(args: argparse.Namespace, submitter, worker: Worker, body: dict) -> None:
    warm = submitter.submit_many(
        [generation_body(i, label="warmup", **body) for i in range(args.warmup)], threads=args.submit_threads
    )
    unfinished = wait_until_finished([s.job_id for s in warm], timeout=args.timeout)
    report_unfinished(unfinished, total=len(warm), log_path=worker.child.log_path)


def measured_run(
    args: argparse.Namespace, *, stack: Stack, emulator: Emulator, workers: list[Worker], submitter, body: dict
):
    """The N jobs, with the workers' memory, everyone's CPU and (optionally) a py-spy profile recorded meanwhile."""
    emulator.reset()
    memory_before = node_memory_kib(workers)["VmRSS"]
    profiler = None
    if args.profile:
        profiler, profile_path = stack.start_profiler(pid=workers[0].child.pid, name="worker", mode=args.profile)
        time.sleep(1)
    pids = {f"worker{index or ''}": worker.child.pid for index, worker in enumerate(workers)}
    meter = CpuMeter({**pids, "emulator": emulator.child.pid, "benchmark": os.getpid()}, database=stack.database)
    sampler = MemorySampler(workers)
    sampler.start()
    bodies = [generation_body(i, label="platform", **body) for i in range(args.jobs)]
    if args.no_prefill:
        meter.start()
    else:
        for worker in workers:
            worker.pause()
    submitted = submitter.submit_many(bodies, threads=args.submit_threads)
    if not args.no_prefill:
        meter.start()  # the worker's window: the submissions before it are not its work
        resume_workers(workers)
    unfinished = wait_until_finished([s.job_id for s in submitted], timeout=args.timeout)
    memory = {**node_memory_kib(workers), "peak during": sampler.stop(), "before": memory_before}
    cpu = meter.stop()
    # The node's processes as one "worker" figure; the per-process ones stay in the CPU line.
    cpu["worker"] = sum(cpu.pop(name) for name in pids)
    if profiler is not None:
        profiler.stop(signum=signal.SIGINT)
        print(f"   worker profile (py-spy of the first process, collapsed stacks): {profile_path}")
    return job_timings(submitted), unfinished, memory, cpu


def main() -> int:
    args = parse_args()
    args.threads = args.threads or 2 * args.concurrency
    if args.threads < args.concurrency:
        raise SystemExit("--threads must be at least --concurrency: each call in flight needs a thread")
    if args.concurrency % args.processes or args.threads % args.processes:
        raise SystemExit(f"--concurrency and --threads must divide among the {args.processes} processes (--processes)")
    if args.warmup is None:
        args.warmup = args.threads
    latency = args.latency_ms / 1000
    ideal = args.concurrency / latency
    body = {"size": args.size, "quality": args.quality, "output_format": args.output_format}
    with Stack(name="throughput", debug=args.debug) as stack:
        if args.wait_quiet:
            wait_for_quiet_machine(timeout=args.wait_quiet)
        stack.prepare_data_stores()
        stack.setup_django()
        emulator = stack.start_emulator(latency_ms=str(args.latency_ms), render=args.render)
        worker_env = emulator.foundry_env(rpm=1_000_000, tpm=10**12)
        # Paced threads (generation.pacing) share the default pool of 20; fewer threads need no more than one each.
        threads = args.threads // args.processes
        worker_env["DB_POOL_MAX_SIZE"] = str(min(threads, 20))
        if args.threads > args.concurrency:
            worker_env["JOB_CALLS_IN_FLIGHT"] = str(args.concurrency // args.processes)
        worker_env.update(worker_env_overrides(args))
        workers = [
            stack.start_worker(concurrency=threads, env=worker_env, queues=args.queues) for _ in range(args.processes)
        ]
        worker = workers[0]
        submitter = make_submitter(stack, args, token=bench_tenant_token())
        header(
            "throughput: one worker node, fixed provider latency",
            {
                "jobs": f"{args.jobs} x {args.size} {args.quality} {args.output_format}, submitted by "
                f"{args.submit_threads} concurrent clients via {submitter.via}",
                "worker": f"{args.processes} x " + worker.describe() if args.processes > 1 else worker.describe(),
                "emulator": f"fixed {args.latency_ms} ms, no quota, {args.render} pictures; "
                "deployment limiter 1,000,000 RPM",
                "ideal": f"{args.concurrency} in flight / {latency:g} s = {ideal:g} jobs/s",
                "settings": stack.settings_label,
                "worker env": " ".join(
                    [f"{name}={worker_env[name]}" for name in SHOWN_ENV if name in worker_env] + args.worker_env
                ),
            },
        )
        rows = [] if args.no_baseline else [baseline_row(args, emulator, stack, ideal)]
        if args.warmup:
            warm_up(args, submitter, worker, body)
        timings, unfinished, memory, cpu = measured_run(
            args, stack=stack, emulator=emulator, workers=workers, submitter=submitter, body=body
        )
        stats = emulator.stats()

        done = [t for t in timings if t.state == "succeeded"]
        if not done:
            print(f"   no job succeeded: {dict(Counter(t.state for t in timings))}; worker log {worker.child.log_path}")
            return 1
        # Prefilled: from the first claim (the resume command's own round trip is not the node's work).
        start = min(t.submitted_at for t in timings) if args.no_prefill else min(t.started_at or 0 for t in done)
        span = max(t.finished_at or 0 for t in done) - start
        rate = len(done) / span
        label = "platform: API submit -> succeeded" if args.no_prefill else "platform: queued jobs -> succeeded"
        row = (label, len(done), f"{span:.2f} s", f"{rate:.2f}", share(rate, ideal))
        rows.append((*row, stats["max_in_flight"]))
        print()
        table(rows, heading=("run", "jobs ok", "makespan", "jobs/s", "of ideal", "max in flight"))
        print(f"\n   job states: {dict(Counter(t.state for t in timings))}; emulator statuses: {stats['by_status']}")
        report_unfinished(unfinished, total=len(timings), log_path=worker.child.log_path)
        calls = [call for call in stats["recent"] if call["kind"] in ("generations", "edits")]
        report_details(
            timings,
            calls,
            ideal=ideal,
            latency=latency,
            cpu=cpu,
            memory=memory,
            threads=args.threads,
            concurrency=args.concurrency,
        )
        met = verdict("throughput share of ideal", 100 * rate / ideal, target=90)
        print(f"   logs: {stack.run_dir}")
        if unfinished:
            return 1
        return 0 if met or args.smoke else MISSED_TARGET


if __name__ == "__main__":
    run_main(main)
