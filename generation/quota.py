"""Keeping every worker process inside a deployment's RPM/TPM quota (shared through Redis)."""

from __future__ import annotations

from functools import cache

from django.conf import settings

from generation.foundry.config import DeploymentConfig
from generation.ratelimit import DeploymentRateLimiter, RateLimitTimeout

QuotaTimeout = RateLimitTimeout


@cache
def _limiter(name: str, rpm: int, tpm: int) -> DeploymentRateLimiter:
    return DeploymentRateLimiter(
        redis_url=settings.REDIS_URL,
        deployment_key=name,
        rpm=rpm,
        tpm=tpm,
        key_prefix=settings.RATE_LIMIT_KEY_PREFIX,
        # A slot is granted a moment before the call reaches the provider: a window a little longer
        # than the provider's keeps a call granted at our window's edge out of its previous minute.
        window_seconds=settings.FOUNDRY_QUOTA_WINDOW_SECONDS,
    )


def _admitted_tokens(config: DeploymentConfig, tokens: int) -> int:
    # A single request estimated above the whole TPM quota could never fit; it is sent alone
    # into an empty window instead of failing a job the deployment would in fact serve.
    return min(tokens, config.tpm)


def acquire_quota(*, config: DeploymentConfig, tokens: int, request_id: str | None = None) -> float:
    """Block until one request of `tokens` fits the deployment's windows; returns seconds waited."""
    limiter = _limiter(config.name, config.rpm, config.tpm)
    return limiter.acquire(
        tokens=_admitted_tokens(config, tokens), timeout=settings.FOUNDRY_QUOTA_WAIT_SECONDS, request_id=request_id
    )


def quota_call_leaves(*, config: DeploymentConfig, tokens: int, request_id: str) -> float:
    """The request granted as `request_id` leaves now: its place in the window starts now (the provider counts a
    call from its arrival). Returns that moment (unix seconds, Redis clock).

    A grant that expired meanwhile (every call slot busy for a whole window) is spent: sent as it is, the call would
    be counted by the provider and not by the limiter, so this waits for a new slot first."""
    limiter = _limiter(config.name, config.rpm, config.tpm)
    admitted = _admitted_tokens(config, tokens)
    stamp = limiter.restamp(tokens=admitted, request_id=request_id)
    while stamp is None:
        limiter.acquire(tokens=admitted, timeout=settings.FOUNDRY_QUOTA_WAIT_SECONDS, request_id=request_id)
        stamp = limiter.restamp(tokens=admitted, request_id=request_id)
    return stamp
