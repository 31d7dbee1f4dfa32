"""Run one function in many threads at once, each with its own database connection."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

from django.db import connections


def run_concurrently(count: int, work: Callable[[int], Any], *, timeout: float = 120) -> list[Any]:
    """Start `count` threads, release them together, return each result (or the exception it raised)."""
    barrier = threading.Barrier(count)
    results: list[Any] = [None] * count

    def worker(index: int) -> None:
        try:
            barrier.wait(timeout=timeout)
            results[index] = work(index)
        except Exception as exc:  # the test inspects what each thread got
            results[index] = exc
        finally:
            connections.close_all()

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout)
    assert not any(thread.is_alive() for thread in threads), "a worker thread hung"
    return results
