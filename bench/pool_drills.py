"""Runs 4 and 5 of bench/pool.py: the kill drill (is every provider answer in the ledger?) and the scale-out.

Kill drill: K jobs over the pool with a fixed provider latency; the worker is killed with SIGKILL `--kills` times
while it has calls out, and started again each time. The benchmark does what beat does in production, every 3 s:
`jobs_reconcile` (expired leases, lost messages) enqueues what the dead worker held. Its pool deployments bill a
call whose caller disconnected (the emulator's default for pools), as Azure does. When every job is terminal and
the emulator idle:

- before reconciliation: each billed answer in the emulator's usage export (one row per answer, named by the
  x-ms-client-request-id it carried) must be a confirmed charge (its attempt answered, a `charge` with its
  provider request id) or a provisional charge (its attempt unknown, a `provisional` entry for its call id). The
  calls a dead run left `sent` are declared unknown first by `attempts_sweep` (the `sweep_attempts` task, every
  minute under beat). Baseline, from the same ledger: confirmed charges alone (what a ledger without attempt
  records would hold).
- `provider_usage_reconcile` with the export (CSV, as the command and the API take it), covering until now + the
  answer grace (the emulator is idle: no answer can still come): then confirmed charges == provider answers
  exactly, and no provisional charge is left.

Scale-out: the same N jobs on one worker node (one process, `--scale-calls` calls in flight), then on two (two
processes, each its own threads), against a pool far above what they can use, with a fixed latency: jobs/s from
the first claim to the last `succeeded`. Queued first with the workers paused, released with one broadcast.
"""

from __future__ import annotations

import datetime as dt
import random
import threading
import time
from collections import Counter
from typing import Any

from figures import table
from pool_setup import (
    PoolSpec,
    at_least,
    at_most,
    configure_emulator,
    create_pool,
    issue_pool,
    job_states,
    submit_jobs,
    usage_export,
    wait_emulator_idle,
    worker_env,
)
from stack import resume_workers

_DRILL_ENV = {
    # A dead worker's jobs come back after their lease (renewed before each call, so it must outlast one call
    # and its finishing) and its prefetched messages after JOB_REQUEUE_AFTER_SECONDS.
    "JOB_LEASE_SECONDS": "15",
    "JOB_REQUEUE_AFTER_SECONDS": "20",
}


class _Beat:
    """jobs_reconcile every few seconds, enqueueing what it finds (the `reconcile-jobs` beat entry)."""

    def __init__(self, interval: float = 3.0) -> None:
        self.interval = interval
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self.requeued = 0

    def _run(self) -> None:
        from django.db import connection

        from generation.services.execution import jobs_reconcile
        from generation.tasks import run_job

        while not self._stop.wait(self.interval):
            for job_id in jobs_reconcile():
                run_job.delay(job_id)
                self.requeued += 1
        connection.close()

    def __enter__(self) -> _Beat:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


def _drill(ctx: Any, job_ids: list[int], env: dict[str, str]) -> int:
    """Kill the worker `ctx.kills` times while it has calls out; returns the calls out at each kill (summed)."""
    rng = random.Random(3)
    worker = ctx.stack.start_worker(concurrency=ctx.threads, env=env)
    out_at_kills = 0
    for _ in range(ctx.kills):
        deadline = time.monotonic() + 60
        while ctx.emulator.stats().get("in_flight", 0) == 0 and time.monotonic() < deadline:
            if not job_states(job_ids).keys() - {"succeeded", "failed", "cancelled"}:
                return out_at_kills
            time.sleep(0.2)
        time.sleep(rng.uniform(0.5, 2.5))
        out_at_kills += ctx.emulator.stats().get("in_flight", 0)
        worker.child.process.kill()  # SIGKILL: no shutdown, no acks, its calls cut mid-flight
        worker.child.process.wait()
        worker = ctx.stack.start_worker(concurrency=ctx.threads, env=env)
    return out_at_kills


def _ledger_view(tenant: Any, rows: list[dict]) -> dict[str, int]:
    from generation.models import AttemptState, ProviderAttempt
    from governance.models import LedgerEntry

    entries = LedgerEntry.objects.for_tenant(tenant)
    charges = set(entries.filter(kind="charge").values_list("provider_request_id", flat=True))
    provisional = set(entries.filter(kind="provisional").values_list("provider_request_id", flat=True))
    reversed_ = set(entries.filter(kind="provisional_release").values_list("provider_request_id", flat=True))
    open_provisional = provisional - reversed_
    attempts = {
        a.client_request_id: a for a in ProviderAttempt.objects.for_tenant(tenant).only("client_request_id", "state")
    }
    confirmed = pending = missing = 0
    for row in rows:
        attempt = attempts.get(row.get("client_request_id") or "")
        if row["request_id"] in charges:
            confirmed += 1
        elif (
            attempt is not None
            and attempt.state == AttemptState.UNKNOWN
            and attempt.client_request_id in open_provisional
        ):
            pending += 1
        else:
            missing += 1
    return {
        "answers": len(rows),
        "confirmed": confirmed,
        "provisional": pending,
        "missing": missing,
        "charges": entries.filter(kind="charge").count(),
        "open provisional": len(open_provisional),
        "charges not answers": len(charges - {row["request_id"] for row in rows}),
    }


def run_kill_drill(ctx: Any) -> list[bool]:
    from django.conf import settings

    from generation.models import Job, ProviderAttempt
    from generation.services.reconciliation import (
        _ANSWER_GRACE,
        attempts_sweep,
        provider_usage_reconcile,
        usage_rows_parse,
    )
    from tenants.audit import Actor

    spec = issue_pool("r4", scale=ctx.scale, latency=ctx.kill_latency_ms)
    print(
        f"\n-- run 4: kill drill, {ctx.kill_jobs} jobs, {ctx.kill_latency_ms} ms provider latency, "
        f"{ctx.kills} x SIGKILL --"
    )
    configure_emulator(ctx.emulator, spec, time_scale=ctx.time_scale)
    (tenancy,) = create_pool(spec, emulator=ctx.emulator, tenant_slugs=["r4-tenant"])
    job_ids = [s.job_id for s in submit_jobs(tenancy.token, ctx.kill_jobs, label="r4")]
    settings.JOB_REQUEUE_AFTER_SECONDS = int(_DRILL_ENV["JOB_REQUEUE_AFTER_SECONDS"])  # this process's beat
    env = worker_env(calls_in_flight=ctx.calls_in_flight, extra={**ctx.worker_extra, **_DRILL_ENV})
    started = time.monotonic()
    with _Beat() as beat:
        out_at_kills = _drill(ctx, job_ids, env)
        deadline = time.monotonic() + ctx.timeout
        while job_states(job_ids).keys() - {"succeeded", "failed", "cancelled"} and time.monotonic() < deadline:
            time.sleep(1.0)
    seconds = time.monotonic() - started
    ctx.stack.stop_child("worker")
    wait_emulator_idle(ctx.emulator)
    states = job_states(job_ids)
    failures = Counter(Job.unscoped.filter(pk__in=job_ids, state="failed").values_list("error_code", flat=True))
    if states.keys() - {"succeeded", "failed", "cancelled"}:
        print(f"   WARNING: jobs left unfinished {dict(states)}")
        ctx.broken = True
    export = usage_export(ctx.emulator)
    rows = [r for r in export["data"] if r["status"] == 200]
    csv_text = usage_export(ctx.emulator, fmt="csv")
    attempts_before = Counter(ProviderAttempt.objects.for_tenant(tenancy.tenant).values_list("state", flat=True))
    swept = attempts_sweep(tenant=tenancy.tenant)
    before = _ledger_view(tenancy.tenant, rows)
    covers = dt.datetime.now(dt.UTC) + _ANSWER_GRACE
    report = provider_usage_reconcile(
        rows=usage_rows_parse(data=csv_text, format="csv"), actor=Actor.system("bench-operator"), covers_until=covers
    )
    after = _ledger_view(tenancy.tenant, rows)
    disconnected = sum(1 for r in rows if r.get("client_disconnected"))
    print(
        f"   {seconds:.0f} s; job states {dict(states)}; calls out at the kills: {out_at_kills}; jobs re-enqueued by "
        f"the beat: {beat.requeued}; billed answers to a disconnected caller: {disconnected}"
    )
    print(f"   failed jobs by error: {dict(failures)} (retry_unknown_outcome: once, JOB_MAX_ATTEMPTS 3)")
    print(f"   attempts before the sweep: {dict(attempts_before)}; declared unknown by attempts_sweep: {swept}")
    counts = {k: v for k, v in report.to_dict().items() if not k.endswith("_calls") and k != "covers_until"}
    print(
        f"   reconciliation with the export ({len(rows)} billed rows), covering until now + the answer grace "
        f"({_ANSWER_GRACE.total_seconds():.0f} s; the emulator is idle, so a later export would be the same): {counts}"
    )
    table(
        [
            (
                "baseline: confirmed charges alone",
                before["answers"],
                before["confirmed"],
                "-",
                before["answers"] - before["confirmed"],
            ),
            (
                "platform before reconciliation",
                before["answers"],
                before["confirmed"],
                before["provisional"],
                before["missing"],
            ),
            (
                "platform after reconciliation",
                after["answers"],
                after["confirmed"],
                after["open provisional"],
                after["missing"],
            ),
        ],
        heading=("run 4", "provider answers", "confirmed", "provisional", "missing"),
    )
    print(f"   after: charges {after['charges']}, charges that are no provider answer {after['charges not answers']}")
    mismatch = abs(after["charges"] - after["answers"]) + after["missing"] + after["charges not answers"]
    return [
        at_most("run 4 answers neither confirmed nor provisional before reconciliation", before["missing"], limit=0),
        at_most("run 4 confirmed charges unlike the provider's answers after reconciliation", mismatch, limit=0),
        at_most("run 4 provisional charges left after reconciliation", after["open provisional"], limit=0),
    ]


def _node_run(ctx: Any, label: str, nodes: int) -> float:
    from django.db.models import Max, Min

    from generation.models import Job

    spec = PoolSpec(label, {f"{label}-{i}": 6000 for i in range(3)}, {f"{label}-{i}": {} for i in range(3)})
    configure_emulator(ctx.emulator, spec, time_scale=ctx.time_scale)
    ctx.emulator.configure(latency_ms=str(ctx.scale_latency_ms))
    (tenancy,) = create_pool(spec, emulator=ctx.emulator, tenant_slugs=[f"{label}-tenant"])
    env = worker_env(calls_in_flight=ctx.scale_calls, extra=ctx.worker_extra)
    workers = [ctx.stack.start_worker(concurrency=2 * ctx.scale_calls, env=env) for _ in range(nodes)]
    for worker in workers:
        worker.pause()
    job_ids = [s.job_id for s in submit_jobs(tenancy.token, ctx.scale_jobs, label=label)]
    resume_workers(workers)
    from pool_setup import wait_done

    unfinished = wait_done(job_ids, timeout=ctx.timeout)
    ctx.stack.stop_child("worker")
    ctx.emulator.configure(latency_ms="0")
    if unfinished:
        print(f"   WARNING: jobs left unfinished {unfinished}")
        ctx.broken = True
    span = Job.unscoped.filter(pk__in=job_ids).aggregate(first=Min("started_at"), last=Max("finished_at"))
    return len(job_ids) / (span["last"] - span["first"]).total_seconds()


def run_scale_out(ctx: Any) -> list[bool]:
    print(
        f"\n-- run 5: scale-out, {ctx.scale_jobs} jobs, {ctx.scale_calls} calls in flight per node, "
        f"{ctx.scale_latency_ms} ms latency, quota far above the need --"
    )
    one = _node_run(ctx, "r5a", 1)
    two = _node_run(ctx, "r5b", 2)
    ideal = ctx.scale_calls / (ctx.scale_latency_ms / 1000)
    table(
        [
            ("baseline: one node", f"{one:.2f}", f"{100 * one / ideal:.1f}%"),
            ("platform: two nodes", f"{two:.2f}", f"{100 * two / (2 * ideal):.1f}%"),
        ],
        heading=("run 5", "jobs/s", "of the node's ideal"),
    )
    return [at_least("run 5 throughput of two nodes / one node", two / one, target=1.9, unit="x")]
