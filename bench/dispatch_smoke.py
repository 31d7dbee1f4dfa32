"""The pool dispatcher alone (no emulator, no jobs): utilisation of a 6/30/36 RPM pool, Redis commands per call,
and an interactive tenant's wait behind another tenant's bulk flood.

Two "nodes" (processes), each with `--threads` worker threads, share one pool through Redis. Each worker loops:
acquire (tenant A, bulk) -> restamp (the call leaves) -> sleep the emulated latency -> record_outcome(SUCCESS).
Time is scaled: the quota window is 60 / `--scale` seconds, so a 6/30/36 RPM pool grants 72 calls per window.
After one window, node 0 submits `--interactive` calls of tenant B (interactive lane), one after another.

Printed:
- utilisation: for every 0.1 s from one window after the start to the end, grants in the trailing window (Redis
  clock, restamped) / 72, averaged (target >= 97%); the busiest trailing window must never exceed 72;
- members' share of the grants against 6/30/36;
- Redis commands per granted call, counted client-side in every process: acquire alone (EVALSHA + BLPOP +
  heartbeats + timer passes) and all (with restamp and record_outcome);
- tenant B's waits, and how many bulk calls were granted while one of them waited (target 0).

    .venv/bin/python bench/dispatch_smoke.py [--scale 10] [--windows 4] [--threads 40] [--interactive 10]
        [--latency 0.5] [--redis-url redis://127.0.0.1:6379/15] [--smoke]
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import sys
import threading
import time
import uuid
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from generation.dispatch import Lane, Member, Outcome, PoolDispatcher, RateLimitTimeout

MEMBERS = [Member("r6", rpm=6), Member("r30", rpm=30), Member("r36", rpm=36)]
CAPACITY = sum(m.rpm for m in MEMBERS)


def _pool(args, pool_key: str) -> PoolDispatcher:
    return PoolDispatcher(
        redis_url=args.redis_url,
        pool_key=pool_key,
        members=MEMBERS,
        window_seconds=60 / args.scale,
        key_prefix="bench:dispatch",
    )


def _count_commands(pool: PoolDispatcher, counter: Counter, phase: threading.local) -> None:
    for client in (pool._redis, pool._blocking):

        def counting(*a, execute=client.execute_command, **kw):
            counter[getattr(phase, "name", "other")] += 1
            return execute(*a, **kw)

        client.execute_command = counting


def node(args, pool_key: str, index: int, end: float, results) -> None:
    pool = _pool(args, pool_key)
    commands: Counter[str] = Counter()
    phase = threading.local()
    _count_commands(pool, commands, phase)
    stamps: list[tuple[float, str]] = []
    interactive_waits: list[float] = []
    lock = threading.Lock()

    def worker(n: int) -> None:
        i = 0
        while (left := end - time.time()) > 0:
            phase.name = "acquire"
            try:
                grant = pool.acquire(ticket=f"a{index}-{n}-{i}", tenant="A", lane=Lane.BULK, tokens=0, timeout=left)
            except RateLimitTimeout:
                return
            phase.name = "after"
            stamp = pool.restamp(grant=grant, tokens=0)
            with lock:
                stamps.append((stamp, grant.member))
            time.sleep(args.latency)
            pool.record_outcome(member=grant.member, outcome=Outcome.SUCCESS, latency_seconds=args.latency)
            i += 1

    def interactive() -> None:
        time.sleep(60 / args.scale)
        for i in range(args.interactive):
            phase.name = "acquire"
            asked = time.time()
            grant = pool.acquire(ticket=f"b{i}", tenant="B", lane=Lane.INTERACTIVE, tokens=0, timeout=30)
            phase.name = "after"
            stamp = pool.restamp(grant=grant, tokens=0)
            with lock:
                stamps.append((stamp, grant.member))
                interactive_waits.append((grant.waited_seconds, asked, stamp))
            pool.record_outcome(member=grant.member, outcome=Outcome.SUCCESS)
            time.sleep(args.latency)

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(args.threads)]
    if index == 0 and args.interactive:
        threads.append(threading.Thread(target=interactive))
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    results.put((stamps, dict(commands), interactive_waits))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", type=float, default=10.0)
    parser.add_argument("--windows", type=float, default=4.0)
    parser.add_argument("--threads", type=int, default=40)
    parser.add_argument("--interactive", type=int, default=10)
    parser.add_argument("--latency", type=float, default=0.5)
    parser.add_argument("--redis-url", default=os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/15"))
    parser.add_argument("--smoke", action="store_true", help="two short windows, fewer threads: the path, not a figure")
    args = parser.parse_args()
    if args.smoke:
        args.scale, args.windows, args.threads, args.interactive = 30.0, 2.0, 10, 3
    window = 60 / args.scale
    pool_key = f"smoke-{uuid.uuid4().hex[:8]}"
    start = time.time()
    end = start + window * args.windows
    results = multiprocessing.get_context("fork").Queue()
    nodes = [
        multiprocessing.get_context("fork").Process(target=node, args=(args, pool_key, i, end, results)) for i in (0, 1)
    ]
    for process in nodes:
        process.start()
    collected = [results.get(timeout=window * args.windows + 60) for _ in nodes]
    for process in nodes:
        process.join()
    _pool(args, pool_key).reset()

    stamps = sorted(s for part in collected for s in part[0])
    times = [t for t, _ in stamps]
    commands: Counter[str] = Counter()
    for part in collected:
        commands.update(part[1])
    waits = sorted(w for part in collected for w in part[2])
    # Bulk calls granted while an interactive call waited (restamped a few ms after their grants: 10 ms margins).
    bulk_ahead = [
        sum(1 for x in times if asked + 0.01 < x < stamp - 0.01) - sum(1 for _, a, s in waits if asked < s < stamp)
        for _, asked, stamp in waits
    ]
    first = times[0]
    samples, busiest, t, j0, j1 = [], 0, first + window, 0, 0
    # Trailing-window counts every 0.1 s, then the busiest window over every grant.
    while t <= min(times[-1], end):
        samples.append(sum(1 for x in times if t - window < x <= t) / CAPACITY)
        t += 0.1
    for j0 in range(len(times)):
        while j1 < len(times) and times[j1] < times[j0] + window:
            j1 += 1
        busiest = max(busiest, j1 - j0)
    share = Counter(member for _, member in stamps)
    grants = len(stamps)
    print(
        f"pool 6/30/36 RPM, window {window:g} s (scale {args.scale:g}), 2 nodes x {args.threads} threads, "
        f"{args.windows:g} windows, latency {args.latency:g} s"
    )
    print(f"grants: {grants}; members: " + ", ".join(f"{m.key} {share[m.key]}" for m in MEMBERS))
    utilisation = sum(samples) / len(samples) if samples else float("nan")
    print(
        f"utilisation (trailing window / {CAPACITY}, after the first window): {utilisation:.1%}; "
        f"busiest window: {busiest} (limit {CAPACITY})"
    )
    print(
        f"Redis commands per granted call: acquire {commands['acquire'] / grants:.2f}, "
        f"all {(commands['acquire'] + commands['after'] + commands['other']) / grants:.2f} "
        f"(heartbeats and other: {commands['other']})"
    )
    if waits:
        slot = window / CAPACITY
        print(
            f"tenant B interactive waits (s): p50 {waits[len(waits) // 2][0]:.3f}, max {waits[-1][0]:.3f} "
            f"(the next slot to free; one pool slot = {slot:.3f} s on average); bulk calls granted while one "
            f"waited: max {max(bulk_ahead)}"
        )
    return 0 if utilisation >= 0.97 and busiest <= CAPACITY else 3


if __name__ == "__main__":
    raise SystemExit(main())
