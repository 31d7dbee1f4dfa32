"""bench/pool.py's stack: a deployment pool on the emulator, tenants on it, jobs through the API, and what the
emulator and the database say happened to each call.

Every run gets a pool and deployments of its own (fresh member keys, so fresh dispatcher windows), named after the
run in the emulator too, and the emulator is reset between runs (its quota windows, stats and usage export).
Rates are scaled: a deployment of `rpm` in the issue is `rpm x scale` here, because the emulator's and the
platform's quota windows are a real 60 s; the emulator's clock runs at `time_scale = 1 / scale` (a 1024x1024
low-quality call, 16-22 s published, takes 3.2-4.4 s at scale 5) unless a run fixes its latency in milliseconds.
"""

from __future__ import annotations

import re
import time
import uuid
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import httpx
from stack import EMULATOR_API_KEY, Emulator, Stack

ISSUE_RPMS = (6, 30, 36)  # the issue's pool: quota tier 1, 3 and 6 deployments of gpt-image-2
_CALL_ID = re.compile(r"^job-(\d+)-")


class PoolStack(Stack):
    """The benchmark stack with bench/pool_settings.py (the dispatcher's Redis keys under the run's prefix)."""

    def env(self, **extra: str) -> dict[str, str]:
        return super().env(**{"DJANGO_SETTINGS_MODULE": "bench.pool_settings", **extra})


@dataclass
class PoolSpec:
    """One run's deployments: emulator name -> (rpm here, emulator fields)."""

    label: str
    rpms: dict[str, int]
    emulator_fields: dict[str, dict[str, Any]] = field(default_factory=dict)
    read_timeout_seconds: float = 60.0

    @property
    def total_rpm(self) -> int:
        return sum(self.rpms.values())

    def emulator_deployments(self) -> dict[str, dict[str, Any]]:
        return {
            name: {"rpm": rpm, "region": f"region-{index}", **self.emulator_fields.get(name, {})}
            for index, (name, rpm) in enumerate(self.rpms.items())
        }


def issue_pool(label: str, *, scale: float, latency: Any = "published") -> PoolSpec:
    """The issue's 6/30/36 RPM pool, scaled."""
    names = [f"{label}-d{rpm}" for rpm in ISSUE_RPMS]
    rpms = {name: round(rpm * scale) for name, rpm in zip(names, ISSUE_RPMS, strict=True)}
    return PoolSpec(label, rpms, {name: {"latency": latency} for name in names})


def big_member(spec: PoolSpec) -> str:
    return max(spec.rpms, key=spec.rpms.__getitem__)


@dataclass
class Tenancy:
    tenant: Any
    token: str
    pool: Any


def create_tenant(slug: str) -> tuple[Any, str]:
    from tenants.models import Scope
    from tenants.services import api_key_create, tenant_create

    tenant = tenant_create(slug=slug, name=f"Pool benchmark {slug}")
    token = api_key_create(tenant=tenant, name="bench", scopes=[Scope.JOBS_WRITE, Scope.JOBS_READ]).token
    return tenant, token


def create_pool(spec: PoolSpec, *, emulator: Emulator, tenant_slugs: list[str]) -> list[Tenancy]:
    """The pool through the capacity services (audited, keys encrypted), and a tenant per slug assigned to it."""
    from generation.models import PoolMember
    from generation.services.capacity import pool_create, pool_member_save, tenant_capacity_set
    from tenants.audit import Actor

    operator = Actor.system("bench-operator")
    pool = pool_create(name=f"bench-{spec.label}-{uuid.uuid4().hex[:6]}", owner=None, actor=operator)
    for index, (name, rpm) in enumerate(spec.rpms.items()):
        member = PoolMember(
            pool=pool,
            name=name,
            endpoint=emulator.base_url,
            deployment=name,
            region=f"region-{index}",
            rpm=rpm,
            tpm=10_000_000,
            read_timeout_seconds=spec.read_timeout_seconds,
        )
        pool_member_save(member=member, actor=operator, api_key=EMULATOR_API_KEY)
    tenancies = []
    for slug in tenant_slugs:
        tenant, token = create_tenant(slug)
        tenant_capacity_set(tenant=tenant, actor=operator, pool=pool)
        tenancies.append(Tenancy(tenant, token, pool))
    return tenancies


def configure_emulator(emulator: Emulator, spec: PoolSpec, *, time_scale: float) -> None:
    """Only this run's deployments, fresh windows and counters."""
    emulator.configure(deployments=None)
    emulator.reset()
    emulator.configure(deployments=spec.emulator_deployments(), time_scale=time_scale)


def emulator_calls(emulator: Emulator) -> list[dict]:
    """Every image call the emulator recorded (arrival `at`, `status`, `deployment`, `client_request_id`)."""
    stats = emulator.stats()
    calls = [c for c in stats["recent"] if c["kind"] in ("generations", "edits")]
    if len(calls) < stats["image_calls"]:
        print(f"   WARNING: the emulator kept {len(calls)} of {stats['image_calls']} call records")
    return sorted(calls, key=lambda c: c["at"])


def usage_export(emulator: Emulator, *, fmt: str = "json") -> Any:
    response = httpx.get(f"{emulator.base_url}/_emulator/usage", params={"format": fmt}, timeout=60)
    response.raise_for_status()
    return response.json() if fmt == "json" else response.text


def wait_emulator_idle(emulator: Emulator, *, timeout: float = 60) -> None:
    """Until no call is being generated (a disconnected caller's call still runs to its end, and is billed)."""
    deadline = time.monotonic() + timeout
    while emulator.stats().get("in_flight", 0) and time.monotonic() < deadline:
        time.sleep(0.2)


def job_of(call_id: str | None) -> int | None:
    match = _CALL_ID.match(call_id or "")
    return int(match[1]) if match else None


def billed_per_job(rows: list[dict]) -> Counter:
    """Billed answers (usage export rows) per job id, from the x-ms-client-request-id each call carried."""
    return Counter(job for row in rows if (job := job_of(row.get("client_request_id"))) is not None)


def job_states(job_ids: list[int]) -> Counter:
    from generation.models import Job

    return Counter(Job.unscoped.filter(pk__in=job_ids).values_list("state", flat=True))


def responses_per_job(job_ids: list[int]) -> Counter:
    from generation.models import ProviderResponse

    return Counter(ProviderResponse.unscoped.filter(job_id__in=job_ids).values_list("job_id", flat=True))


def once_figures(job_ids: list[int], rows: list[dict]) -> dict[str, int]:
    """Every job once: succeeded, with one ProviderResponse and one billed answer at the provider."""
    states = job_states(job_ids)
    responses = responses_per_job(job_ids)
    billed = billed_per_job(rows)
    return {
        "jobs": len(job_ids),
        "succeeded": states.get("succeeded", 0),
        "lost": len(job_ids) - states.get("succeeded", 0),
        "one response": sum(1 for j in job_ids if responses.get(j) == 1),
        "billed once": sum(1 for j in job_ids if billed.get(j) == 1),
        "billed twice+": sum(1 for j in job_ids if billed.get(j, 0) > 1),
        "never billed": sum(1 for j in job_ids if not billed.get(j)),
    }


def submit_jobs(token: str, count: int, *, label: str, priority: str = "bulk", threads: int = 8) -> list[Any]:
    """Through the REST API in this process (DRF's APIClient), `threads` at a time."""
    from django.db import connection
    from jobs import JobSubmitter, generation_body

    submitter = JobSubmitter(token=token)

    def one(index: int) -> Any:
        body = generation_body(index, label=label, size="1024x1024", quality="low", output_format="jpeg")
        try:
            return submitter.submit({**body, "priority": priority})
        finally:
            connection.close()  # back to the pool: these threads end, their connections would not

    with ThreadPoolExecutor(max_workers=threads, thread_name_prefix="submit") as pool:
        return list(pool.map(one, range(count)))


def at_most(name: str, value: float, *, limit: float, unit: str = "") -> bool:
    """A verdict for a target written "<= limit" (counts: 0 lost, 0 doubled)."""
    met = value <= limit
    shown = f"{value:.0f}" if float(value).is_integer() else f"{value:.2f}"
    print(f"   {name}: {shown}{unit} (target <= {limit:g}{unit}) -> {'MET' if met else 'MISSED'}")
    return met


def at_least(name: str, value: float | None, *, target: float, unit: str = "%") -> bool:
    if value is None:
        print(f"   {name}: n/a (the run is shorter than one 60 s window) -> MISSED")
        return False
    met = value >= target
    shown = f"{value:.2f}" if unit == "x" else f"{value:.1f}"
    print(f"   {name}: {shown}{unit} (target >= {target:g}{unit}) -> {'MET' if met else 'MISSED'}")
    return met


def wait_done(job_ids: list[int], *, timeout: float, stall: float = 150) -> dict[str, int]:
    from jobs import wait_until_finished

    return wait_until_finished(job_ids, timeout=timeout, stall=stall, poll=1.0)


def worker_env(*, calls_in_flight: int, extra: dict[str, str] | None = None) -> dict[str, str]:
    """A worker of the pool runs: its calls in flight capped per process (generation.pacing)."""
    env = {"JOB_CALLS_IN_FLIGHT": str(calls_in_flight), "DB_POOL_MAX_SIZE": "40"}
    env.update(extra or {})
    return env
