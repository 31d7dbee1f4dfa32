"""How one worker process shares its CPU (and the GIL) between the phases of its jobs.

A job thread prepares its call (claim, reads), calls the provider, then finishes the answer (usage,
blobs, moderation, versions). With a steady provider latency the answers of a round arrive together,
and an idle node handed a queue claims everything at once: threads that all run their phase at the same
time all end it late, and the provider waits for the next calls meanwhile. So, per process:

- `preparing`: at most JOB_PREPARE_CONCURRENCY jobs between the claim and the quota wait; the first
  claimed are the first to call (an idle node sends its 50th call at +0.35 s instead of +0.6-0.9 s);
- `call_slot`: at most JOB_CALLS_IN_FLIGHT provider calls out (0: one per thread); a thread beyond it
  prepares the next call while every slot is busy, and takes a slot the moment an answer frees one;
- `finishing`: at most JOB_FINISH_CONCURRENCY answers finished at once, roughly first come, first served.

Each is a semaphore, so its order is roughly arrival order; none is held across a transaction, so
waiting holds no lock. Measured in bench/throughput.py (bench/README.md, findings).
"""

from __future__ import annotations

import contextlib
import functools
import threading
from collections.abc import Iterator

from django.conf import settings

_preparing_held = threading.local()


@functools.cache
def _slots(phase: str, size: int) -> threading.BoundedSemaphore:
    return threading.BoundedSemaphore(size)


@contextlib.contextmanager
def preparing() -> Iterator[None]:
    """Around a job's run; its preparation ends at `prepared()` (or with the run, if it never gets there)."""
    if not settings.JOB_PREPARE_CONCURRENCY:
        yield
        return
    _slots("prepare", settings.JOB_PREPARE_CONCURRENCY).acquire()
    _preparing_held.size = settings.JOB_PREPARE_CONCURRENCY
    try:
        yield
    finally:
        prepared()


def prepared() -> None:
    """The calling thread's job is ready for the quota wait: the next job may prepare. Idempotent."""
    size = getattr(_preparing_held, "size", None)
    if size is not None:
        _preparing_held.size = None
        _slots("prepare", size).release()


@contextlib.contextmanager
def call_slot() -> Iterator[None]:
    """One of the process's JOB_CALLS_IN_FLIGHT provider calls (no limit when it is 0)."""
    if not settings.JOB_CALLS_IN_FLIGHT:
        yield
        return
    with _slots("call", settings.JOB_CALLS_IN_FLIGHT):
        yield


def finishing() -> contextlib.AbstractContextManager:
    """Around turning one answer into versions."""
    return _slots("finish", settings.JOB_FINISH_CONCURRENCY)
