"""A worker process's pacing of its job threads (generation.pacing), with real threads."""

from __future__ import annotations

import threading
import time

import pytest

from generation.pacing import call_slot, finishing, prepared, preparing


class _Peak:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.now = 0
        self.most = 0

    def __enter__(self) -> None:
        with self._lock:
            self.now += 1
            self.most = max(self.most, self.now)

    def __exit__(self, *exc_info) -> None:
        with self._lock:
            self.now -= 1


def _run_threads(target, count: int = 8) -> None:
    threads = [threading.Thread(target=target) for _ in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)


def test_preparation_is_paced_but_a_prepared_job_frees_its_place_before_its_call(settings):
    settings.JOB_PREPARE_CONCURRENCY = 2
    before, overall = _Peak(), _Peak()

    def job() -> None:
        with preparing(), overall:
            with before:
                time.sleep(0.03)
            prepared()
            prepared()  # idempotent: a second call must not free a place twice
            time.sleep(0.1)  # the quota wait and the call

    _run_threads(job)
    assert before.most == 2
    assert overall.most > 2


def test_a_run_that_never_reaches_its_call_gives_its_place_back(settings):
    settings.JOB_PREPARE_CONCURRENCY = 1
    done: list[int] = []

    def job() -> None:
        with preparing():
            done.append(1)  # no call: nothing to do, or it failed before

    _run_threads(job)
    assert len(done) == 8


@pytest.mark.parametrize(("configured", "expected"), [(3, 3), (0, 8)])
def test_call_slots_bound_the_calls_out_and_zero_means_one_per_thread(settings, configured, expected):
    settings.JOB_CALLS_IN_FLIGHT = configured
    calls = _Peak()

    def job() -> None:
        with call_slot(), calls:
            time.sleep(0.05)

    _run_threads(job)
    assert calls.most == expected


def test_answers_are_finished_a_few_at_a_time(settings):
    settings.JOB_FINISH_CONCURRENCY = 2
    finished = _Peak()

    def job() -> None:
        with finishing(), finished:
            time.sleep(0.03)

    _run_threads(job)
    assert finished.most == 2
