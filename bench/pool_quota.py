"""Runs 1 and 2 of bench/pool.py: N bulk jobs over the 6/30/36 pool, then the same with its biggest deployment
down from one third of the run to two thirds; each beside the LiteLLM-router-like baseline on the same emulator.

Utilisation is read at the emulator, as bench/quota.py does: for every second from one window after the first
admitted call to the last, the admitted calls (answered 200) in the trailing 60 s over the quota they were sent
against, averaged. The platform's limiter keeps a 61 s window against the provider's 60 s (a 1 s margin for the
call's transit), so 60/61 = 98.4% is the most it can read.
"""

from __future__ import annotations

import json
import math
import time
from collections import Counter
from dataclasses import dataclass
from typing import Any

from figures import share, table, verdict
from pool_router import LiteLLMLikeRouter
from pool_setup import (
    PoolSpec,
    at_least,
    at_most,
    big_member,
    configure_emulator,
    create_pool,
    emulator_calls,
    issue_pool,
    once_figures,
    submit_jobs,
    usage_export,
    wait_done,
    wait_emulator_idle,
    worker_env,
)

WINDOW = 60.0


def window_utilisation(arrivals: list[float], *, rpm: int, start: float, end: float) -> float | None:
    """Mean of (admitted calls in the trailing 60 s) / rpm, sampled every second in [start, end]."""
    ordered = sorted(arrivals)
    if end < start or not ordered:
        return None
    samples, moment, low, high = [], start, 0, 0
    while moment <= end:
        while high < len(ordered) and ordered[high] <= moment:
            high += 1
        while low < high and ordered[low] <= moment - WINDOW:
            low += 1
        samples.append((high - low) / rpm)
        moment += 1.0
    return sum(samples) / len(samples)


@dataclass
class Phase:
    """What the emulator saw in one phase (baseline or platform)."""

    calls: list[dict]
    rows: list[dict]
    seconds: float

    def admitted(self, deployments: set[str] | None = None) -> list[float]:
        return [
            c["at"]
            for c in self.calls
            if c["status"] == 200 and (deployments is None or c.get("deployment") in deployments)
        ]

    @property
    def first(self) -> float:
        return min((c["at"] for c in self.calls), default=0.0)

    @property
    def last(self) -> float:
        return max((c["at"] for c in self.calls), default=0.0)

    def count(self, status: int) -> int:
        return sum(1 for c in self.calls if c["status"] == status)


def _util_cell(value: float | None) -> str:
    return f"{100 * value:.1f}%" if value is not None else "n/a"


def _baseline(ctx: Any, spec: PoolSpec, bodies: list[dict], *, on_start=None) -> Phase:
    configure_emulator(ctx.emulator, spec, time_scale=ctx.time_scale)
    router = LiteLLMLikeRouter(base_url=ctx.emulator.base_url, rpms=spec.rpms, read_timeout=spec.read_timeout_seconds)
    seconds = router.run(bodies, concurrency=ctx.calls_in_flight, on_start=on_start)
    wait_emulator_idle(ctx.emulator)
    rows = usage_export(ctx.emulator)["data"]
    return _saved(ctx, spec, "baseline", Phase(emulator_calls(ctx.emulator), rows, seconds))


def _saved(ctx: Any, spec: PoolSpec, name: str, phase: Phase) -> Phase:
    """The emulator's records of the phase, kept for a closer look after the run (var/bench/pool/)."""
    (ctx.stack.run_dir / f"{spec.label}-{name}-calls.json").write_text(json.dumps(phase.calls))
    return phase


def _platform(ctx: Any, spec: PoolSpec, count: int, *, on_start=None) -> tuple[Phase, list[int], Any]:
    configure_emulator(ctx.emulator, spec, time_scale=ctx.time_scale)
    (tenancy,) = create_pool(spec, emulator=ctx.emulator, tenant_slugs=[f"{spec.label}-tenant"])
    submitted = submit_jobs(tenancy.token, count, label=spec.label)
    job_ids = [s.job_id for s in submitted]
    # Queued first, then the worker starts: the run measures dispatching, not the API's submission rate.
    worker = ctx.stack.start_worker(
        concurrency=ctx.threads, env=worker_env(calls_in_flight=ctx.calls_in_flight, extra=ctx.worker_extra)
    )
    if on_start is not None:
        on_start()
    started = time.monotonic()
    unfinished = wait_done(job_ids, timeout=ctx.timeout)
    seconds = time.monotonic() - started
    if unfinished:
        print(f"   WARNING: jobs left unfinished {unfinished}; worker log {worker.child.log_path}")
        ctx.broken = True
    ctx.stack.stop_child("worker")
    wait_emulator_idle(ctx.emulator)
    rows = usage_export(ctx.emulator)["data"]
    return _saved(ctx, spec, "platform", Phase(emulator_calls(ctx.emulator), rows, seconds)), job_ids, tenancy


def _bodies(count: int, label: str) -> list[dict]:
    return [
        {"prompt": f"{label} benchmark image {i}: a tent at dawn", "size": "1024x1024", "quality": "low", "n": 1}
        | {"output_format": "jpeg"}
        for i in range(count)
    ]


def _baseline_once(phase: Phase, count: int) -> dict[str, int]:
    billed = Counter()
    for row in phase.rows:
        cid = row.get("client_request_id") or ""
        if cid.startswith("base-"):
            billed[int(cid.split("-")[1])] += 1
    return {
        "jobs": count,
        "lost": sum(1 for j in range(count) if not billed.get(j)),
        "billed twice+": sum(1 for j in range(count) if billed.get(j, 0) > 1),
    }


def run_pool(ctx: Any) -> list[bool]:
    """Run 1: utilisation of the combined quota, 429s, every job once."""
    spec = issue_pool("r1", scale=ctx.scale)
    print(f"\n-- run 1: {ctx.jobs} bulk jobs over a {'/'.join(map(str, spec.rpms.values()))} RPM pool --")
    base = _baseline(ctx, spec, _bodies(ctx.jobs, "r1"))
    plat, job_ids, _ = _platform(ctx, spec, ctx.jobs)
    rows = []
    figures = {}
    for name, phase in (("baseline: LiteLLM-like router", base), ("platform: pool dispatcher", plat)):
        admitted = phase.admitted()
        util = window_utilisation(admitted, rpm=spec.total_rpm, start=phase.first + WINDOW, end=phase.last)
        calls = len(phase.calls)
        figures[name] = (util, phase.count(429), calls)
        rows.append(
            (name, calls, phase.count(429), share(phase.count(429), calls), _util_cell(util), f"{phase.seconds:.0f} s")
        )
    table(rows, heading=("run 1", "calls", "429s", "429 share", "utilisation", "makespan"))
    once = once_figures(job_ids, plat.rows)
    base_once = _baseline_once(base, ctx.jobs)
    print(f"   baseline jobs: {base_once}")
    print(f"   platform jobs: {once}")
    print(f"   platform calls per deployment: {_by_deployment(plat)}")
    util, throttled, calls = figures["platform: pool dispatcher"]
    met = [
        at_least("run 1 utilisation of the combined quota", _pct(util), target=97),
        verdict("run 1 429 share", 100 * throttled / max(1, calls), target=0.5, higher_is_better=False),
        at_most("run 1 jobs not run exactly once", once["jobs"] - once["billed once"], limit=0),
    ]
    return met


def _pct(value: float | None) -> float | None:
    return None if value is None else 100 * value


def _by_deployment(phase: Phase) -> str:
    table_: dict[str, Counter] = {}
    for call in phase.calls:
        table_.setdefault(call.get("deployment") or "?", Counter())[call["status"]] += 1
    return "; ".join(f"{name} {dict(counts)}" for name, counts in sorted(table_.items()))


def _outage_schedule(spec: PoolSpec, ctx: Any) -> tuple[float, float]:
    """Down at a third, back at two thirds of the run's expected length (real seconds from its start)."""
    ideal = WINDOW * ctx.jobs / spec.total_rpm  # N calls at the full quota
    remaining = 1 - spec.rpms[big_member(spec)] / spec.total_rpm
    expected = 3 * ideal / (2 + remaining)
    return expected / 3, 2 * expected / 3


def _post_schedule(ctx: Any, name: str, down_at: float, up_at: float) -> None:
    # Emulated seconds: the schedule's clock runs at 1 / time_scale real seconds.
    steps = [
        {"after_seconds": down_at / ctx.time_scale, "set": {"down": "503"}},
        {"after_seconds": up_at / ctx.time_scale, "set": {"down": False}},
    ]
    ctx.emulator.configure(deployments={name: {"schedule": steps}})


def _breaker_events(tenant: Any) -> list[tuple[float, str, str, str]]:
    from governance.models import AuditEvent

    events = AuditEvent.objects.for_tenant(tenant).filter(action="deployment.breaker_changed").order_by("id")
    return [
        (e.created_at.timestamp(), e.payload["deployment"].split("/")[-1], e.payload["from"], e.payload["to"])
        for e in events
    ]


def run_outage(ctx: Any) -> list[bool]:
    """Run 2: the biggest deployment down from a third to two thirds of the run."""
    spec = issue_pool("r2", scale=ctx.scale)
    big = big_member(spec)
    up = set(spec.rpms) - {big}
    down_at, up_at = _outage_schedule(spec, ctx)
    print(f"\n-- run 2: the same with {big} down (503) from +{down_at:.0f} s to +{up_at:.0f} s --")
    base = _baseline(ctx, spec, _bodies(ctx.jobs, "r2"), on_start=lambda: _post_schedule(ctx, big, down_at, up_at))
    plat, job_ids, tenancy = _platform(ctx, spec, ctx.jobs, on_start=lambda: _post_schedule(ctx, big, down_at, up_at))
    up_rpm = sum(spec.rpms[name] for name in up)
    rows, up_util = [], {}
    for name, phase in (("baseline: LiteLLM-like router", base), ("platform: pool dispatcher", plat)):
        start = phase.first + WINDOW
        whole = window_utilisation(phase.admitted(up), rpm=up_rpm, start=start, end=phase.last)
        during = window_utilisation(
            phase.admitted(up), rpm=up_rpm, start=max(start, phase.first + down_at), end=phase.first + up_at
        )
        to_down = [c for c in phase.calls if c.get("deployment") == big and c["status"] == 503]
        up_util[name] = during
        rows.append(
            (
                name,
                len(phase.calls),
                phase.count(429),
                len(to_down),
                _util_cell(whole),
                _util_cell(during),
                f"{phase.seconds:.0f} s",
            )
        )
    heading = ("run 2", "calls", "429s", "503s (down)", "util. of the up ones, whole run", "during the outage")
    heading += ("makespan",)
    table(rows, heading=heading)
    once = once_figures(job_ids, plat.rows)
    print(f"   baseline jobs: {_baseline_once(base, ctx.jobs)}")
    print(f"   platform jobs: {once}")
    print(f"   platform calls per deployment: {_by_deployment(plat)}")
    events = _breaker_events(tenancy.tenant)
    t0 = plat.first
    print("   breaker changes (audit): " + ", ".join(f"+{at - t0:.1f} s {m} {a}->{b}" for at, m, a, b in events))
    after_open, probes = _calls_after_open(plat, big, events)
    print(f"   calls to {big} granted while its breaker was open or half-open: {after_open}; probes: {probes}")
    lost, doubled = once["lost"], once["billed twice+"]
    return [
        at_most("run 2 jobs lost", lost, limit=0),
        at_most("run 2 jobs doubled", doubled, limit=0),
        at_least(
            "run 2 utilisation of the deployments that stayed up, during the outage",
            _pct(up_util[rows[1][0]]),
            target=95,
        ),
        at_most("run 2 calls to the down deployment beyond its probes", max(0, after_open - probes), limit=0),
    ]


def _calls_after_open(phase: Phase, big: str, events: list[tuple[float, str, str, str]]) -> tuple[int, int]:
    """Calls to `big` granted after its breaker first opened (their attempt, recorded after the grant and before
    the send, is later than the audit event of the opening) and before it closed again, against the probes in
    between (transitions out of half-open: each is one probe's outcome). A call granted before the opening may
    still arrive after it: it waited for one of the process's call slots."""
    from generation.models import ProviderAttempt

    mine = [(at, a, b) for at, m, a, b in events if m == big]
    opened = next((at for at, _, b in mine if b == "open"), None)
    if opened is None:
        return 0, 0
    closed = next((at for at, a, b in mine if at > opened and b == "closed"), math.inf)
    # The breaker closes when the successful probe's answer is recorded, a few ms before its audit event is
    # written: calls granted in between are after the closing. The emulator's record gives the answer's time.
    answered = [
        c["at"] + c.get("duration_ms", 0) / 1000
        for c in phase.calls
        if c.get("deployment") == big and c["status"] == 200 and opened < c["at"] < closed
    ]
    closed = min([closed, *answered[:1]])
    ids = [c["client_request_id"] for c in phase.calls if c.get("deployment") == big and c["at"] > opened]
    recorded = dict(
        ProviderAttempt.unscoped.filter(client_request_id__in=ids).values_list("client_request_id", "sent_at")
    )
    later, earlier = [], 0
    for call in phase.calls:
        if call.get("deployment") != big or not opened < call["at"] < closed:
            continue
        sent = recorded.get(call["client_request_id"])
        if sent is not None and sent.timestamp() < opened:
            earlier += 1
        else:
            later.append(f"+{call['at'] - opened:.1f} s ({call['status']})")
    probes = sum(1 for at, a, _ in mine if a == "half_open" and opened < at <= closed + 1.0)
    print(
        f"   calls to {big} after its breaker opened: {earlier} granted before it opened (in flight), "
        f"{len(later)} granted after it, arriving (from the opening) at " + (", ".join(later) or "-")
    )
    return len(later), probes
