"""Waiting for generation jobs that a real worker process runs."""

from __future__ import annotations

import time

from generation.models import Job

FINISHED = ("succeeded", "failed", "cancelled")


def wait_for(job_ids: list[int], *, timeout: float = 120, states=FINISHED) -> list[Job]:
    """The jobs, once every one of them is in one of `states` (finished, unless told)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        jobs = list(Job.unscoped.filter(pk__in=job_ids))
        if len(jobs) == len(job_ids) and all(job.state in states for job in jobs):
            return jobs
        time.sleep(0.25)
    pending = {job.pk: job.state for job in Job.unscoped.filter(pk__in=job_ids)}
    raise AssertionError(f"jobs did not finish within {timeout}s: {pending}")


def wait_for_job(job_id: int, *, timeout: float = 120) -> Job:
    (job,) = wait_for([job_id], timeout=timeout)
    return job
