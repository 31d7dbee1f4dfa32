"""A per-deployment rate limiter shared by every worker process through Redis.

A Foundry deployment has a requests-per-minute (RPM) and a tokens-per-minute (TPM) quota; going over them
costs a 429 and a retry. Workers acquire a slot here before each provider call, so the fleet stays inside
both quotas instead of discovering them.

Algorithm: a sliding log. One sorted set per deployment holds the requests granted in the last window
(score: grant time in microseconds by the Redis clock; member: a unique id and the request's estimated
tokens). One Lua script, atomic on the Redis server, drops entries older than the window, counts requests
and sums tokens, and records the new request only if it fits both quotas; otherwise it records nothing and
returns how long until the oldest entries that block it leave the window. Waiters sleep exactly that long
(plus a little jitter so they do not all wake on the same microsecond), then try again.

Why not the `limits` package (5.8, read for this): its moving window stores one Redis list entry per unit
of cost (a 2M TPM quota would mean up to 2M entries pushed per minute), it hits one limit per call, so RPM
and TPM would be two calls where a request can pass the first, fail the second and still have used up an
RPM slot (there is no way to take a hit back), and it stamps entries with each client's clock. One script
checking and recording both windows is a few lines and has none of those problems.

The script reads the Redis server's clock, so worker nodes with skewed clocks cannot over-admit. Its cost
is O(requests in the window), bounded by the RPM quota.
"""

from __future__ import annotations

import random
import time
import uuid
from dataclasses import dataclass
from functools import lru_cache

import redis

# KEYS[1]: the deployment's sorted set. ARGV: rpm, tpm, window (µs), tokens, request id.
# Returns {granted (0/1), wait (µs until it could fit), requests in window, tokens in window}.
_ACQUIRE_SCRIPT = """
local rpm, tpm, window, tokens = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4])
local clock = redis.call('TIME')
local now = tonumber(clock[1]) * 1000000 + tonumber(clock[2])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - window)
local entries = redis.call('ZRANGE', KEYS[1], 0, -1, 'WITHSCORES')
local count, used = #entries / 2, 0
for i = 1, #entries, 2 do
  used = used + tonumber(string.match(entries[i], ':(%d+)$'))
end
if count + 1 <= rpm and used + tokens <= tpm then
  redis.call('ZADD', KEYS[1], now, ARGV[5] .. ':' .. ARGV[4])
  redis.call('PEXPIRE', KEYS[1], math.ceil(window / 1000))
  return {1, 0, count + 1, used + tokens}
end
-- The oldest entries leave first: find the one whose departure makes room for both the request and its tokens.
local free_requests, free_tokens = count + 1 - rpm, used + tokens - tpm
local freed_requests, freed_tokens, ready_at = 0, 0, now
for i = 1, #entries, 2 do
  if freed_requests >= free_requests and freed_tokens >= free_tokens then break end
  freed_requests = freed_requests + 1
  freed_tokens = freed_tokens + tonumber(string.match(entries[i], ':(%d+)$'))
  ready_at = tonumber(entries[i + 1]) + window
end
return {0, ready_at - now, count, used}
"""

# KEYS[1]: the deployment's sorted set. ARGV: the granted entry, window (µs). Moves it to now if it is still there,
# and the set's expiry with it (or the set would vanish a window after the last grant, before this entry's window
# ends); returns the new stamp (µs, Redis clock), or 0 when the entry had already left the window.
_RESTAMP_SCRIPT = """
local clock = redis.call('TIME')
local now = tonumber(clock[1]) * 1000000 + tonumber(clock[2])
if redis.call('ZSCORE', KEYS[1], ARGV[1]) then
  redis.call('ZADD', KEYS[1], 'XX', now, ARGV[1])
  redis.call('PEXPIRE', KEYS[1], math.ceil(tonumber(ARGV[2]) / 1000))
  return now
end
return 0
"""

_MICROSECONDS = 1_000_000


class RateLimitTimeout(Exception):
    """No slot within the timeout. `retry_after` is the earliest a slot could free up (a lower bound)."""

    def __init__(self, message: str, *, retry_after: float) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class RequestExceedsQuota(ValueError):
    """A single request estimated at more tokens than the whole TPM quota: it can never be admitted."""


@dataclass(frozen=True)
class Admission:
    """One attempt's outcome, with the window as the script saw it (including this request if granted)."""

    granted: bool
    retry_after: float  # seconds; 0.0 when granted
    requests_in_window: int
    tokens_in_window: int


class DeploymentRateLimiter:
    """Keeps all callers sharing `deployment_key` inside `rpm` requests and `tpm` tokens per sliding window.

    `window_seconds` is the quota's window (Azure's quotas are per minute); tests shorten it. Thread-safe and
    fork-safe: redis-py clients are, and the limiter holds no other state.
    """

    def __init__(
        self,
        redis_url: str,
        deployment_key: str,
        rpm: int,
        tpm: int,
        *,
        window_seconds: float = 60.0,
        key_prefix: str = "dam:ratelimit",
        redis_client: redis.Redis | None = None,
    ) -> None:
        if rpm < 1 or tpm < 1:
            raise ValueError(f"rpm and tpm must be at least 1 (got rpm={rpm}, tpm={tpm})")
        if window_seconds <= 0:
            raise ValueError(f"window_seconds must be positive (got {window_seconds})")
        self.deployment_key = deployment_key
        self.rpm = rpm
        self.tpm = tpm
        self.window_seconds = window_seconds
        self.key = f"{key_prefix}:{deployment_key}"
        self._window_us = max(1, round(window_seconds * _MICROSECONDS))
        client = redis_client or _client(redis_url)
        self._script = client.register_script(_ACQUIRE_SCRIPT)
        self._restamp = client.register_script(_RESTAMP_SCRIPT)

    def try_acquire(self, *, tokens: int, request_id: str | None = None) -> Admission:
        """One atomic attempt: record the request if it fits both windows, else record nothing.

        `request_id` names the granted entry, for `restamp`."""
        self._check_tokens(tokens)
        granted, wait_us, requests, used = self._script(
            keys=[self.key], args=[self.rpm, self.tpm, self._window_us, tokens, request_id or uuid.uuid4().hex]
        )
        return Admission(bool(granted), int(wait_us) / _MICROSECONDS, int(requests), int(used))

    def restamp(self, *, tokens: int, request_id: str) -> float | None:
        """The granted request `request_id` starts its window now (when it really leaves, after bookkeeping
        that may have taken a while): the provider counts a call from its arrival, not from our grant.
        Only ever makes the limiter stricter. Returns the new stamp (unix seconds by the Redis clock), or
        None when the entry has already left the window (the grant is spent: acquire again)."""
        stamp = int(self._restamp(keys=[self.key], args=[f"{request_id}:{tokens}", self._window_us]))
        return stamp / _MICROSECONDS if stamp else None

    def acquire(self, *, tokens: int, timeout: float, request_id: str | None = None) -> float:
        """Block until one request of `tokens` estimated tokens fits and is recorded; return the seconds waited.

        Raises RateLimitTimeout as soon as the earliest possible slot lies beyond `timeout` (nothing but time
        frees a slot, so waiting longer could not help), and RequestExceedsQuota at once for a request larger
        than the whole TPM quota. `timeout=0` makes a single attempt.
        """
        if timeout < 0:
            raise ValueError(f"timeout must not be negative (got {timeout})")
        started = time.monotonic()
        deadline = started + timeout
        while True:
            admission = self.try_acquire(tokens=tokens, request_id=request_id)
            now = time.monotonic()
            if admission.granted:
                return now - started
            if now + admission.retry_after > deadline:
                raise RateLimitTimeout(
                    f"deployment {self.deployment_key!r}: no slot for {tokens} tokens within {timeout:g}s "
                    f"({admission.requests_in_window}/{self.rpm} requests and {admission.tokens_in_window}/"
                    f"{self.tpm} tokens in the last {self.window_seconds:g}s; next slot in "
                    f"{admission.retry_after:.3f}s)",
                    retry_after=admission.retry_after,
                )
            # Waiters for the same slot would otherwise all wake on the same microsecond; a few ms apart,
            # one takes it and the rest get the next exact wait without a burst of refused attempts.
            jitter = random.uniform(0, min(0.02, self.window_seconds / 100))
            time.sleep(min(admission.retry_after + jitter, max(0.0, deadline - now)))

    def _check_tokens(self, tokens: int) -> None:
        if isinstance(tokens, bool) or not isinstance(tokens, int) or tokens < 0:
            raise ValueError(f"tokens must be a non-negative integer (got {tokens!r})")
        if tokens > self.tpm:
            raise RequestExceedsQuota(
                f"a request estimated at {tokens} tokens can never fit deployment {self.deployment_key!r}'s "
                f"quota of {self.tpm} tokens per {self.window_seconds:g}s: lower the size, quality or n, "
                f"or raise the deployment's TPM"
            )


@lru_cache(maxsize=8)
def _client(redis_url: str) -> redis.Redis:
    # One connection pool per URL per process: limiters are cheap to create per job and share it.
    return redis.Redis.from_url(redis_url)
