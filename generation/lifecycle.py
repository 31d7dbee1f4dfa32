"""The job state machine, in one place.

Every state change is a conditional UPDATE whose WHERE clause names the allowed previous
states (`transition_filter`), so two workers can never both move a job, and a redelivered
message for a finished job finds nothing to do.
"""

from __future__ import annotations

from django.db import models


class JobState(models.TextChoices):
    QUEUED = "queued", "Queued"
    RUNNING = "running", "Running"
    SUCCEEDED = "succeeded", "Succeeded"
    FAILED = "failed", "Failed"
    CANCELLED = "cancelled", "Cancelled"


# new state -> the states it may be entered from
JOB_TRANSITIONS: dict[str, frozenset[str]] = {
    JobState.RUNNING: frozenset({JobState.QUEUED, JobState.RUNNING}),  # RUNNING: reclaim after an expired lease
    JobState.QUEUED: frozenset({JobState.RUNNING}),  # back in line after a transient failure
    JobState.SUCCEEDED: frozenset({JobState.RUNNING}),
    JobState.FAILED: frozenset({JobState.QUEUED, JobState.RUNNING}),
    JobState.CANCELLED: frozenset({JobState.QUEUED, JobState.RUNNING}),
}
TERMINAL_STATES = frozenset({JobState.SUCCEEDED, JobState.FAILED, JobState.CANCELLED})


def allowed_sources(new_state: str) -> frozenset[str]:
    return JOB_TRANSITIONS[new_state]


class GenerationState(models.TextChoices):
    """One provider call of a job: a locale x aspect group."""

    PENDING = "pending", "Pending"
    STORED = "stored", "Stored"  # outputs are versions and renditions
