"""The retry policy on its own: what is retried, how long it waits, where it stops."""

from __future__ import annotations

import pytest

from generation.foundry.config import DeploymentConfig, Secret
from generation.foundry.errors import (
    AuthenticationError,
    ContentFilteredError,
    FilterStage,
    InvalidRequestError,
    MalformedResponseError,
    RateLimitedError,
    TransientError,
)
from generation.foundry.retry import RETRY_AFTER_JITTER_SECONDS, retrying_for


def _config(**changes) -> DeploymentConfig:
    fields = {
        "name": "t",
        "endpoint": "http://127.0.0.1:1",
        "deployment": "d",
        "api_key": Secret("k"),
        "max_attempts": 4,
        "max_retry_seconds": 60,
        "backoff_initial_seconds": 0.5,
        "backoff_max_seconds": 8,
    }
    fields.update(changes)
    return DeploymentConfig(**fields)


def _run(config: DeploymentConfig, errors: list[Exception]) -> tuple[list[float], int, Exception | None]:
    """Call through the policy; each call raises the next error, then succeeds. Sleeps are recorded, not slept."""
    waits: list[float] = []
    calls = 0

    def call() -> str:
        nonlocal calls
        calls += 1
        if errors:
            raise errors.pop(0)
        return "ok"

    try:
        retrying_for(config, sleep=waits.append)(call)
    except Exception as exc:
        return waits, calls, exc
    return waits, calls, None


def test_waits_at_least_the_servers_retry_after_with_bounded_jitter():
    waits, calls, error = _run(_config(), [RateLimitedError("slow", retry_after=3.0) for _ in range(3)])
    assert error is None and calls == 4
    assert all(w >= 3.0 for w in waits)
    # While the backoff is shorter than the hint, the hint plus a little jitter is the wait.
    assert all(w <= 3.0 + RETRY_AFTER_JITTER_SECONDS for w in waits[:2])
    # Once the backoff outgrows the hint (0.5 * 2**n > 3), the backoff decides.
    waits, _, _ = _run(_config(), [RateLimitedError("slow", retry_after=0.1) for _ in range(3)])
    assert waits[2] >= 2.0


def test_backoff_grows_exponentially_with_jitter_when_no_hint():
    waits, calls, error = _run(_config(), [TransientError("boom") for _ in range(3)])
    assert error is None and calls == 4
    for attempt, wait in enumerate(waits):
        low = 0.5 * 2**attempt
        assert low <= wait <= min(8, low) + 0.5


def test_attempts_are_bounded_and_the_last_error_is_raised():
    waits, calls, error = _run(_config(max_attempts=3), [TransientError(f"boom {i}") for i in range(10)])
    assert calls == 3 and len(waits) == 2
    assert isinstance(error, TransientError) and error.message == "boom 2"


def test_a_retry_after_beyond_the_time_budget_is_not_waited_for():
    waits, calls, error = _run(_config(max_retry_seconds=5), [RateLimitedError("later", retry_after=30)])
    assert calls == 1 and waits == []
    assert isinstance(error, RateLimitedError) and error.retry_after == 30


@pytest.mark.parametrize(
    "error",
    [
        ContentFilteredError("no", stage=FilterStage.INPUT),
        InvalidRequestError("bad size", param="size"),
        AuthenticationError("denied"),
        MalformedResponseError("not json"),
        ValueError("our own bug"),
    ],
)
def test_non_retryable_errors_fail_at_once(error):
    waits, calls, raised = _run(_config(), [error])
    assert calls == 1 and waits == [] and raised is error
