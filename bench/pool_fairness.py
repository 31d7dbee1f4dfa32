"""Run 3 of bench/pool.py: tenant B's interactive jobs behind tenant A's bulk backlog on one shared pool.

Two phases on fresh pools of the same shape: A alone (M bulk jobs), then A again with B's interactive jobs
submitted `--b-after` seconds after A's first call (one quota window and a little more: by then A's backlog holds
the whole quota). Bulk jobs run on a worker serving `default,generation`, interactive ones on a worker serving
`interactive` (as `make run` lays them out).

- B's wait for a call slot: the time its call waited in the pool's scheduler for a grant (`queue_wait_ms`, kept on
  the call's ProviderAttempt), in emulated seconds (real x scale: the pool's rates are scaled by it). The target is
  per B call queued ahead of it: wait <= 2 s x (B calls granted before it + 1). The claim -> arrival time is
  printed too, in real seconds: it adds the job's own bookkeeping (claim, budget hold, attempt row), which runs at
  the machine's speed, not the emulated clock's, so scaling it would count CPU time as quota time.
- Baseline (FIFO, as one queue would serve them, e.g. LiteLLM's router or a single Celery queue): each B call
  waits for A's calls still queued when B submitted, at A's measured rate, computed from the same run.
- A's throughput loss: 1 - (A's calls per second with B) / (A's calls per second alone), first call to last.
"""

from __future__ import annotations

import time
from typing import Any

from figures import percentile, table
from pool_setup import (
    at_most,
    configure_emulator,
    create_pool,
    emulator_calls,
    issue_pool,
    job_of,
    submit_jobs,
    wait_done,
    wait_emulator_idle,
    worker_env,
)

INTERACTIVE_THREADS = 12


def _start_workers(ctx: Any) -> None:
    env = worker_env(calls_in_flight=ctx.calls_in_flight, extra=ctx.worker_extra)
    ctx.stack.start_worker(concurrency=ctx.threads, env=env)
    ctx.stack.start_worker(
        concurrency=INTERACTIVE_THREADS, env=worker_env(calls_in_flight=0, extra=ctx.worker_extra), queues="interactive"
    )


def _wait_first_call(ctx: Any, *, timeout: float = 120) -> float:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        calls = ctx.emulator.stats()["recent"]
        if calls:
            return min(c["at"] for c in calls)
        time.sleep(0.2)
    raise RuntimeError("no call reached the emulator")


def _a_rate(calls: list[dict], a_jobs: set[int]) -> tuple[float, int]:
    mine = sorted(c["at"] for c in calls if c["status"] == 200 and job_of(c.get("client_request_id")) in a_jobs)
    return (len(mine) - 1) / max(1e-9, mine[-1] - mine[0]), len(mine)


def _phase(ctx: Any, label: str, *, with_b: bool) -> dict[str, Any]:
    spec = issue_pool(label, scale=ctx.scale)
    configure_emulator(ctx.emulator, spec, time_scale=ctx.time_scale)
    slugs = [f"{label}-a", f"{label}-b"] if with_b else [f"{label}-a"]
    tenancies = create_pool(spec, emulator=ctx.emulator, tenant_slugs=slugs)
    a_jobs = [s.job_id for s in submit_jobs(tenancies[0].token, ctx.fair_jobs, label=f"{label}-a")]
    _start_workers(ctx)
    first = _wait_first_call(ctx)
    b_submitted = []
    if with_b:
        time.sleep(max(0.0, first + ctx.b_after - time.time()))
        b_submitted = submit_jobs(tenancies[1].token, ctx.b_jobs, label=f"{label}-b", priority="interactive")
    job_ids = a_jobs + [s.job_id for s in b_submitted]
    unfinished = wait_done(job_ids, timeout=ctx.timeout)
    if unfinished:
        print(f"   WARNING: jobs left unfinished {unfinished}")
        ctx.broken = True
    ctx.stack.stop_child("worker")
    wait_emulator_idle(ctx.emulator)
    calls = emulator_calls(ctx.emulator)
    rate, a_calls = _a_rate(calls, set(a_jobs))
    return {"calls": calls, "a_rate": rate, "a_calls": a_calls, "b": b_submitted, "first": first, "spec": spec}


def _b_waits(phase: dict[str, Any], scale: float) -> list[dict[str, float]]:
    from generation.models import Job, ProviderAttempt

    arrivals = {}
    for call in phase["calls"]:
        job = job_of(call.get("client_request_id"))
        if job is not None and call["status"] == 200:
            arrivals.setdefault(job, call["at"])
    claimed = {
        job.pk: job.started_at.timestamp()
        for job in Job.unscoped.filter(pk__in=[s.job_id for s in phase["b"]]).only("started_at")
    }
    queued = {}
    for job_id, detail in (
        ProviderAttempt.unscoped.filter(job_id__in=[s.job_id for s in phase["b"]])
        .order_by("id")
        .values_list("job_id", "detail")
    ):
        queued.setdefault(job_id, (detail or {}).get("queue_wait_ms", 0) / 1000)
    b_ids = {s.job_id for s in phase["b"]}
    a_arrivals = sorted(at for job, at in arrivals.items() if job not in b_ids)
    waits = []
    for s in phase["b"]:
        if s.job_id in arrivals:
            arrived, asked = arrivals[s.job_id], claimed[s.job_id]
            waits.append(
                {
                    "arrived": arrived,
                    "slot": queued.get(s.job_id, arrived - asked),
                    "claim": arrived - asked,
                    "submit": arrived - s.submitted_at,
                    "submitted": s.submitted_at,
                    # A's calls that reached the provider while this B call waited (10 ms either side: the
                    # grant and the arrival are a few ms apart): the lane's promise is none.
                    "a_meanwhile": sum(1 for at in a_arrivals if asked + 0.01 < at < arrived - 0.01),
                }
            )
    waits.sort(key=lambda w: w["arrived"])
    for ahead, wait in enumerate(waits):
        wait["ahead"] = ahead
        wait["per_call"] = wait["slot"] * scale / (ahead + 1)  # emulated seconds per B call up to and with it
    return waits


def _longest(waits: list[dict[str, float]]) -> float:
    return max((w["slot"] for w in waits), default=0.0)


def _a_before(phase: dict[str, Any], waits: list[dict[str, float]]) -> int:
    """A's calls in the stretch before B's first call as long as B's longest wait: how often the quota freed a slot
    there (the wait is for the quota's next slot when few free)."""
    if not waits:
        return 0
    end = waits[0]["arrived"]
    start = end - _longest(waits)
    b_ids = {s.job_id for s in phase["b"]}
    return sum(
        1
        for c in phase["calls"]
        if c["status"] == 200 and start <= c["at"] < end and job_of(c.get("client_request_id")) not in b_ids
    )


def run_fairness(ctx: Any) -> list[bool]:
    print(
        f"\n-- run 3: tenant A {ctx.fair_jobs} bulk jobs; tenant B {ctx.b_jobs} interactive jobs "
        f"{ctx.b_after:.0f} s after A's first call --"
    )
    alone = _phase(ctx, "r3a", with_b=False)
    shared = _phase(ctx, "r3b", with_b=True)
    waits = _b_waits(shared, ctx.scale)
    if len(waits) < ctx.b_jobs:
        print(f"   WARNING: only {len(waits)} of {ctx.b_jobs} B calls were answered")
        ctx.broken = True
    a_ids = {job_of(c.get("client_request_id")) for c in shared["calls"]} - {s.job_id for s in shared["b"]}
    submitted_at = min((w["submitted"] for w in waits), default=0.0)
    backlog = sum(
        1
        for c in shared["calls"]
        if c["status"] == 200 and c["at"] > submitted_at and job_of(c["client_request_id"]) in a_ids
    )
    fifo = [(backlog + k + 1) / shared["a_rate"] * ctx.scale for k in range(len(waits))]
    fifo_per_call = [wait / (k + 1) for k, wait in enumerate(fifo)]
    slot = [w["slot"] * ctx.scale for w in waits]
    per_call = [w["per_call"] for w in waits]
    e2e = [w["submit"] * ctx.scale for w in waits]
    loss = 1 - shared["a_rate"] / alone["a_rate"]
    table(
        [
            (
                "baseline: one FIFO queue (computed)",
                f"{percentile(fifo, 50):.1f} / {percentile(fifo, 95):.1f} s",
                f"{percentile(fifo_per_call, 95):.1f} s",
                "-",
                f"{alone['a_rate'] * 60:.1f} (A alone)",
            ),
            (
                "platform: interactive lane",
                f"{percentile(slot, 50):.1f} / {percentile(slot, 95):.1f} s",
                f"{percentile(per_call, 95):.2f} s",
                f"{percentile(e2e, 95):.1f} s",
                f"{shared['a_rate'] * 60:.1f} (A with B)",
            ),
        ],
        heading=("run 3 (emulated s)", "B wait p50 / p95", "p95 per B call", "B submit->call p95", "A calls/min"),
    )
    print(f"   A's backlog when B submitted: {backlog} calls; A's throughput loss: {100 * loss:.2f}%")
    print("   B calls' scheduler wait (real s): " + ", ".join(f"{w['slot']:.2f}" for w in waits))
    claims = ", ".join(f"{w['claim']:.2f}" for w in waits)
    print(f"   B calls' claim -> arrival (real s, with the job's bookkeeping): {claims}")
    print(
        "   A calls that reached the provider while a B call waited: "
        + ", ".join(str(w["a_meanwhile"]) for w in waits)
        + f"; A calls in the {_longest(waits):.1f} s before B's first call: {_a_before(shared, waits)}"
    )
    return [
        at_most("run 3 B p95 wait per queued B call (emulated)", percentile(per_call, 95), limit=2, unit=" s"),
        at_most("run 3 A throughput loss", 100 * loss, limit=2, unit="%"),
    ]
