"""Submitting jobs through the real REST API and reading back what happened to them.

Two ways in, both through `POST /api/v1/jobs` (API-key auth, scope check, validation, `job_submit`, enqueue on
commit): in this process with DRF's APIClient (the default: no extra web server competing for the CPUs with the
worker and the emulator, and nothing measured twice), or over HTTP to a gunicorn the benchmark started, with
httpx (`--api http`: adds what a client really pays for HTTP and a WSGI server).

Call these only after `Stack.setup_django()`.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import httpx

TERMINAL_STATES = ("succeeded", "failed", "cancelled")


def bench_tenant_token() -> str:
    """A tenant with a jobs:write/jobs:read API key, created through the tenant services."""
    from tenants.models import Scope
    from tenants.services import api_key_create, tenant_create

    tenant = tenant_create(slug="bench", name="Benchmark tenant")
    return api_key_create(tenant=tenant, name="bench", scopes=[Scope.JOBS_WRITE, Scope.JOBS_READ]).token


@dataclass(frozen=True)
class Submitted:
    job_id: int
    submitted_at: float  # unix time the request was sent
    seconds: float  # how long the API took to answer


class JobSubmitter:
    def __init__(self, *, token: str, base_url: str | None = None) -> None:
        self.token = token
        self.base_url = base_url  # None: in-process APIClient
        self._local = threading.local()

    @property
    def via(self) -> str:
        return f"HTTP ({self.base_url})" if self.base_url else "in-process APIClient"

    def _client(self) -> Any:
        client = getattr(self._local, "client", None)
        if client is None:
            if self.base_url:
                client = httpx.Client(
                    base_url=self.base_url, headers={"Authorization": f"Bearer {self.token}"}, timeout=60
                )
            else:
                from rest_framework.test import APIClient

                client = APIClient(HTTP_HOST="127.0.0.1")
                client.credentials(HTTP_AUTHORIZATION=f"Bearer {self.token}")
            self._local.client = client
        return client

    def submit(self, body: dict[str, Any]) -> Submitted:
        client = self._client()
        started_at, started = time.time(), time.perf_counter()
        if self.base_url:
            response = client.post("/api/v1/jobs", json=body)
            payload = response.json()
        else:
            response = client.post("/api/v1/jobs", body, format="json")
            payload = response.json()
        seconds = time.perf_counter() - started
        if response.status_code != 202:
            raise RuntimeError(f"submit refused: HTTP {response.status_code} {payload}")
        return Submitted(payload["id"], started_at, seconds)

    def submit_many(self, bodies: Iterable[dict[str, Any]], *, threads: int) -> list[Submitted]:
        with ThreadPoolExecutor(max_workers=threads, thread_name_prefix="submit") as pool:
            return list(pool.map(self.submit, bodies))


def wait_until_finished(job_ids: list[int], *, timeout: float, stall: float = 120, poll: float = 0.2) -> dict[str, int]:
    """Wait until every job is terminal; return the states of those that are not (empty when all finished).

    Gives up early when no job has finished for `stall` seconds: a job whose task died without finishing it stays
    `queued` or `running` until the reconciler's next pass (minutes), which is a finding, not something to wait for.
    """
    from django.db.models import Count

    from generation.models import Job

    deadline = time.monotonic() + timeout
    finished, progressed = -1, time.monotonic()
    while time.monotonic() < deadline and time.monotonic() - progressed < stall:
        now_finished = Job.unscoped.filter(pk__in=job_ids, state__in=TERMINAL_STATES).count()
        if now_finished == len(job_ids):
            return {}
        if now_finished != finished:
            finished, progressed = now_finished, time.monotonic()
        time.sleep(poll)
    pending = Job.unscoped.filter(pk__in=job_ids).exclude(state__in=TERMINAL_STATES)
    return {row["state"]: row["n"] for row in pending.values("state").annotate(n=Count("id"))}


def report_unfinished(unfinished: dict[str, int], *, total: int, log_path: Any) -> None:
    if unfinished:
        print(
            f"   WARNING: {sum(unfinished.values())} of {total} jobs never finished (states {unfinished}); "
            f"see the worker log {log_path}"
        )


@dataclass(frozen=True)
class JobTiming:
    job_id: int
    state: str
    attempts: int
    submitted_at: float  # unix seconds, as the benchmark sent it
    submit_seconds: float  # the API's answer time
    created_at: float  # the job row's insert (inside the submit transaction)
    started_at: float | None  # the (last) claim by a worker
    finished_at: float | None
    provider_seconds: float  # sum of the provider calls' durations (as the Foundry client measured them)
    provider_calls: int

    @property
    def total(self) -> float:
        return (self.finished_at or 0.0) - self.submitted_at

    @property
    def overhead(self) -> float:
        return self.total - self.provider_seconds

    @property
    def api(self) -> float:
        """Request sent -> job row inserted: HTTP/WSGI, API-key auth, validation, planning, prompt compilation."""
        return self.created_at - self.submitted_at

    @property
    def dispatch(self) -> float:
        """Job row inserted -> claimed by a worker: commit, on-commit enqueue, Redis, the worker's fetch, task start."""
        return (self.started_at or 0.0) - self.created_at

    @property
    def run_overhead(self) -> float:
        """Claimed -> succeeded, minus the provider calls: quota, DB writes, blob storage, versions."""
        return (self.finished_at or 0.0) - (self.started_at or 0.0) - self.provider_seconds


def job_timings(submitted: list[Submitted]) -> list[JobTiming]:
    from django.db.models import Count, Sum

    from generation.models import Job, ProviderResponse

    ids = [s.job_id for s in submitted]
    jobs = {job.pk: job for job in Job.unscoped.filter(pk__in=ids)}
    provider = {
        row["job_id"]: row
        for row in ProviderResponse.unscoped.filter(job_id__in=ids)
        .values("job_id")
        .annotate(ms=Sum("latency_ms"), calls=Count("id"))
    }
    timings = []
    for sub in submitted:
        job = jobs[sub.job_id]
        row = provider.get(sub.job_id, {"ms": 0, "calls": 0})
        timings.append(
            JobTiming(
                job_id=sub.job_id,
                state=job.state,
                attempts=job.attempts,
                submitted_at=sub.submitted_at,
                submit_seconds=sub.seconds,
                created_at=job.created_at.timestamp(),
                started_at=job.started_at.timestamp() if job.started_at else None,
                finished_at=job.finished_at.timestamp() if job.finished_at else None,
                provider_seconds=(row["ms"] or 0) / 1000,
                provider_calls=row["calls"],
            )
        )
    return timings


def generation_body(index: int, *, label: str, size: str, quality: str, output_format: str) -> dict[str, Any]:
    # A distinct prompt per job: the emulator's picture follows the prompt, so blobs are not deduplicated away.
    return {
        "prompt": f"{label} benchmark image {index}: a tent at dawn",
        "size": size,
        "quality": quality,
        "output_format": output_format,
    }


def add_api_options(parser: Any) -> None:
    parser.add_argument(
        "--api",
        choices=("client", "http"),
        default="client",
        help="submit in-process with DRF's APIClient (default) or over HTTP to a gunicorn started for the run",
    )
    parser.add_argument("--web-workers", type=int, default=2, help="gunicorn workers with --api http (default 2)")
    parser.add_argument(
        "--debug", action="store_true", help="run every process with DEBUG=1 (default: production settings, DEBUG=0)"
    )


def make_submitter(stack: Any, args: Any, *, token: str) -> JobSubmitter:
    base_url = stack.start_web(workers=args.web_workers, threads=4) if args.api == "http" else None
    return JobSubmitter(token=token, base_url=base_url)
