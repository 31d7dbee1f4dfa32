"""When to try an image call again, and how long to wait: tenacity, bounded twice.

- Only errors whose `retryable` flag is set (rate limits, transient faults) are retried.
- The wait is exponential with jitter, but never shorter than the service's retry-after:
  asking again sooner only earns another 429 and burns quota for everyone on the deployment.
- Bounded by attempts and by total time; a wait that would cross the time budget is not
  taken, and the last error is raised (with its retry_after, so a job can be rescheduled).
"""

from __future__ import annotations

import logging
import random
from collections.abc import Callable

from tenacity import (
    RetryCallState,
    Retrying,
    retry_if_exception,
    stop_after_attempt,
    stop_before_delay,
    wait_exponential_jitter,
)
from tenacity.wait import wait_base

from generation.foundry.config import DeploymentConfig
from generation.foundry.errors import FoundryError

logger = logging.getLogger("generation.foundry")

# Spread of the extra wait added to a server's retry-after, so workers throttled together
# do not all come back in the same millisecond.
RETRY_AFTER_JITTER_SECONDS = 0.25


def is_retryable(exc: BaseException) -> bool:
    return isinstance(exc, FoundryError) and exc.retryable


class WaitServerHintOrBackoff(wait_base):
    def __init__(self, backoff: wait_base, *, hint_jitter: float = RETRY_AFTER_JITTER_SECONDS) -> None:
        self.backoff = backoff
        self.hint_jitter = hint_jitter

    def __call__(self, retry_state: RetryCallState) -> float:
        backoff = self.backoff(retry_state)
        exc = retry_state.outcome.exception() if retry_state.outcome else None
        hint = getattr(exc, "retry_after", None)
        if hint is None:
            return backoff
        return max(hint + random.uniform(0, self.hint_jitter), backoff)


def _log_retry(retry_state: RetryCallState) -> None:
    exc = retry_state.outcome.exception() if retry_state.outcome else None
    # str(exc) is safe to log: FoundryError messages are redacted of credentials.
    logger.warning(
        "foundry call failed, retrying in %.2fs (attempt %d): %s",
        retry_state.upcoming_sleep,
        retry_state.attempt_number,
        exc,
    )


def retrying_for(config: DeploymentConfig, *, sleep: Callable[[float], None] | None = None) -> Retrying:
    kwargs = {"sleep": sleep} if sleep is not None else {}
    return Retrying(
        retry=retry_if_exception(is_retryable),
        wait=WaitServerHintOrBackoff(
            wait_exponential_jitter(
                multiplier=config.backoff_initial_seconds,
                max=config.backoff_max_seconds,
                jitter=config.backoff_initial_seconds,
            )
        ),
        stop=stop_after_attempt(config.max_attempts) | stop_before_delay(config.max_retry_seconds),
        before_sleep=_log_retry,
        reraise=True,
        **kwargs,
    )
