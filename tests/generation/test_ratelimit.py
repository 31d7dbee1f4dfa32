"""The per-deployment rate limiter against the real Redis, with worker processes and threads competing.

Windows are shortened to fractions of a second so the suite stays fast; grant times are taken by the
callers right after `acquire` returns, so window checks allow a small tolerance for that delay.
"""

from __future__ import annotations

import math
import multiprocessing
import threading
import time
import uuid
from dataclasses import dataclass, field

import pytest
import redis
from django.conf import settings

from generation.ratelimit import DeploymentRateLimiter, RateLimitTimeout, RequestExceedsQuota

# How late a caller's timestamp may be after the Redis grant (script round trip and thread scheduling).
TOLERANCE = 0.05


@dataclass(frozen=True)
class Quota:
    """A limiter's configuration under a key prefix of its own; picklable, so child processes can build it."""

    rpm: int
    tpm: int
    window: float
    key_prefix: str = field(default_factory=lambda: f"test:ratelimit:{uuid.uuid4().hex}")

    def limiter(self, redis_url: str, **kwargs) -> DeploymentRateLimiter:
        return DeploymentRateLimiter(
            redis_url,
            "deployment",
            self.rpm,
            self.tpm,
            window_seconds=self.window,
            key_prefix=self.key_prefix,
            **kwargs,
        )


def _limiter(rpm: int, tpm: int, window: float, **kwargs) -> DeploymentRateLimiter:
    return Quota(rpm, tpm, window).limiter(settings.REDIS_URL, **kwargs)


def _busiest_window(grants: list[tuple[float, int]], window: float) -> tuple[int, int]:
    """The most requests and the most tokens granted in any sliding window (shrunk by the tolerance)."""
    grants = sorted(grants)
    most_requests = most_tokens = 0
    for i, (start, _) in enumerate(grants):
        inside = [tokens for at, tokens in grants[i:] if at < start + window - TOLERANCE]
        most_requests = max(most_requests, len(inside))
        most_tokens = max(most_tokens, sum(inside))
    return most_requests, most_tokens


def _compete(quota: Quota, per_thread: list[list[int]], *, redis_url: str, timeout: float, barrier, results) -> None:
    """A worker process: its threads acquire the given token amounts, all starting with the other processes."""
    limiter = quota.limiter(redis_url)
    outcomes: list[tuple[str, float, int]] = []
    lock = threading.Lock()

    def run(amounts: list[int]) -> None:
        barrier.wait()  # every thread of every process is ready: start competing together
        for tokens in amounts:
            try:
                limiter.acquire(tokens=tokens, timeout=timeout)
                outcome = ("granted", time.time(), tokens)
            except RateLimitTimeout:
                outcome = ("timeout", time.time(), tokens)
            with lock:
                outcomes.append(outcome)

    threads = [threading.Thread(target=run, args=(amounts,)) for amounts in per_thread]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    results.put(outcomes)


def _run_processes(quota: Quota, per_process: list[list[list[int]]], timeout: float) -> list:
    """Run `_compete` in one spawned process per entry of `per_process`; return every outcome."""
    context = multiprocessing.get_context("spawn")
    barrier = context.Barrier(sum(len(threads) for threads in per_process))
    results = context.Queue()
    processes = [
        context.Process(
            target=_compete,
            args=(quota, threads),
            kwargs={"redis_url": settings.REDIS_URL, "timeout": timeout, "barrier": barrier, "results": results},
        )
        for threads in per_process
    ]
    for process in processes:
        process.start()
    outcomes = [outcome for _ in processes for outcome in results.get(timeout=30)]
    for process in processes:
        process.join(timeout=10)
        assert process.exitcode == 0
    return outcomes


def test_processes_and_threads_together_never_exceed_the_request_quota_and_nearly_use_it_all():
    rpm, window, total = 10, 0.5, 45
    quota = Quota(rpm=rpm, tpm=1_000_000, window=window)
    # 2 processes x 3 threads, 45 requests of 1 token.
    per_thread = [[1] * (total // 6 + (1 if i < total % 6 else 0)) for i in range(6)]

    outcomes = _run_processes(quota, [per_thread[:3], per_thread[3:]], timeout=10)

    grants = [(at, tokens) for status, at, tokens in outcomes if status == "granted"]
    assert len(grants) == total
    most_requests, _ = _busiest_window(grants, window)
    assert most_requests <= rpm
    # Quota use: 45 requests at 10 per window need 4 windows after the first burst; the span shows how close.
    times = sorted(at for at, _ in grants)
    ideal_span = (math.ceil(total / rpm) - 1) * window
    assert times[-1] - times[0] >= ideal_span - TOLERANCE
    assert ideal_span / (times[-1] - times[0]) >= 0.8


def test_the_token_quota_limits_by_estimated_tokens_not_by_request_count():
    tpm, window = 100, 0.5
    quota = Quota(rpm=1000, tpm=tpm, window=window)
    amounts = [40, 25, 10, 60, 30, 45, 5, 70, 20, 35, 50, 15]

    outcomes = _run_processes(quota, [[amounts[0::2], amounts[1::2]]], timeout=10)

    grants = [(at, tokens) for status, at, tokens in outcomes if status == "granted"]
    assert sorted(tokens for _, tokens in grants) == sorted(amounts)
    most_requests, most_tokens = _busiest_window(grants, window)
    assert most_tokens <= tpm
    assert most_requests < len(amounts)  # the request quota alone would have let them all through at once
    times = sorted(at for at, _ in grants)
    assert times[-1] - times[0] >= (math.ceil(sum(amounts) / tpm) - 1) * window - TOLERANCE


def test_both_quotas_are_checked_and_recorded_together_under_contention():
    # Two requests fit the request quota, but only one fits the token quota: exactly one of six competitors
    # may pass, and the refused ones must not have used up a request slot.
    quota = Quota(rpm=2, tpm=10, window=5.0)

    outcomes = _run_processes(quota, [[[6], [6], [6]], [[6], [6], [6]]], timeout=0)

    limiter = quota.limiter(settings.REDIS_URL)
    assert sorted(status for status, _, _ in outcomes) == ["granted"] + ["timeout"] * 5
    assert limiter.try_acquire(tokens=4).granted  # the second request slot and the last 4 tokens
    refused = limiter.try_acquire(tokens=0)
    assert not refused.granted
    assert (refused.requests_in_window, refused.tokens_in_window) == (2, 10)


def test_a_waiting_caller_gets_the_slot_when_the_oldest_request_leaves_the_window():
    window = 0.4
    limiter = _limiter(rpm=1, tpm=100, window=window)

    assert limiter.acquire(tokens=10, timeout=1) < TOLERANCE
    waited = limiter.acquire(tokens=10, timeout=2)

    assert window - TOLERANCE <= waited <= window + 0.1


def test_the_timeout_raises_as_soon_as_no_slot_can_free_up_in_time():
    limiter = _limiter(rpm=1, tpm=100, window=2.0)
    limiter.acquire(tokens=1, timeout=0)

    started = time.monotonic()
    with pytest.raises(RateLimitTimeout, match="no slot") as raised:
        limiter.acquire(tokens=1, timeout=0.3)

    assert time.monotonic() - started < 0.3
    assert 1.5 < raised.value.retry_after <= 2.0


def test_a_request_larger_than_the_whole_token_quota_fails_at_once():
    limiter = _limiter(rpm=10, tpm=1000, window=60)

    with pytest.raises(RequestExceedsQuota, match="1001 tokens can never fit"):
        limiter.acquire(tokens=1001, timeout=30)
    assert limiter.try_acquire(tokens=1000).granted  # nothing was recorded for the refused request


def test_waiting_sleeps_until_the_slot_frees_instead_of_polling():
    class CountingRedis(redis.Redis):
        attempts = 0

        def evalsha(self, *args, **kwargs):
            CountingRedis.attempts += 1
            return super().evalsha(*args, **kwargs)

    limiter = _limiter(rpm=1, tpm=100, window=0.5, redis_client=CountingRedis.from_url(settings.REDIS_URL))
    limiter.acquire(tokens=1, timeout=0)
    CountingRedis.attempts = 0

    limiter.acquire(tokens=1, timeout=2)

    assert CountingRedis.attempts <= 3  # refused, (maybe once more if woken a hair early), granted


def test_deployments_have_separate_quotas():
    first, second = _limiter(rpm=1, tpm=10, window=5), _limiter(rpm=1, tpm=10, window=5)

    assert first.try_acquire(tokens=10).granted
    assert second.try_acquire(tokens=10).granted
    assert not first.try_acquire(tokens=0).granted


@pytest.mark.parametrize("tokens", [-1, 1.5, True])
def test_token_estimates_must_be_non_negative_integers(tokens):
    with pytest.raises(ValueError, match="non-negative integer"):
        _limiter(rpm=1, tpm=10, window=1).acquire(tokens=tokens, timeout=0)


def test_a_restamped_request_holds_its_slot_from_the_restamp_not_from_the_grant():
    # A worker stamps its slot again as the call leaves: the provider counts the call from its arrival.
    window = 0.5
    limiter = _limiter(rpm=1, tpm=100, window=window)
    limiter.acquire(tokens=10, timeout=0, request_id="first")
    time.sleep(0.3)

    before = time.time()
    stamp = limiter.restamp(tokens=10, request_id="first")
    assert before - TOLERANCE <= stamp <= time.time() + TOLERANCE  # the Redis clock, in unix seconds
    waited = limiter.acquire(tokens=10, timeout=2)

    assert window - TOLERANCE <= waited <= window + 0.1  # from the grant it would have been ~0.2 s


def test_restamping_a_request_that_left_the_window_adds_nothing():
    limiter = _limiter(rpm=1, tpm=100, window=0.2)
    limiter.acquire(tokens=10, timeout=0, request_id="gone")
    time.sleep(0.3)
    assert limiter.try_acquire(tokens=10).granted  # the old entry left; this one fills the only slot

    assert limiter.restamp(tokens=10, request_id="gone") is None
    refused = limiter.try_acquire(tokens=0)
    assert (refused.granted, refused.requests_in_window) == (False, 1)
