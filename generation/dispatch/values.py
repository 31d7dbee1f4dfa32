"""The values the pool dispatcher takes and returns (no behaviour here)."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Lane(StrEnum):
    """Every waiting INTERACTIVE ticket of a pool is served before any BULK one."""

    INTERACTIVE = "interactive"
    BULK = "bulk"


class Outcome(StrEnum):
    """What became of a granted call, as far as the deployment's health and quota are concerned."""

    SUCCESS = "success"  # an answer (2xx, or a 4xx refusal of the content: counts as success for health)
    PRE_GENERATION = "pre_generation"  # refused before generating: 401, 403, 404, connect refused / TLS failure
    THROTTLED = "throttled"  # 429
    SERVER_ERROR = "server_error"  # 5xx answered
    UNKNOWN = "unknown"  # timeout / connection lost after the request was sent


@dataclass(frozen=True)
class Member:
    """One deployment of a pool, as the dispatcher sees it."""

    key: str  # unique across the platform, e.g. "dep-12" (used in Redis keys)
    rpm: int  # configured requests/minute (>= 1)
    tpm: int = 0  # tokens/minute, 0 = no token limit
    priority: int = 0  # lower is tried first
    weight: int = 1  # >= 1: share among members of the same priority
    enabled: bool = True


@dataclass(frozen=True)
class Grant:
    member: str  # Member.key granted
    ticket: str
    waited_seconds: float
    probe: bool  # True when this grant is the half-open breaker probe of that member


@dataclass(frozen=True)
class BreakerChange:
    """Returned (once, by the one call whose outcome caused it) when a member's breaker changed state."""

    member: str
    old: str  # "closed" | "open" | "half_open"
    new: str
    reason: str


@dataclass(frozen=True)
class MemberState:
    """One member as the admin page shows it."""

    key: str
    rpm: int
    effective_rpm: int
    requests_in_window: int
    headroom: int
    breaker: str
    consecutive_failures: int
    opened_at: float | None
    calls_last_minute: int
    throttled_last_minute: int
    latency_p50_ms: int | None
    latency_p95_ms: int | None


class NoAllowedMember(ValueError):
    """`allowed` - `exclude` leaves no enabled member of the pool: the call can never be granted here."""


class RateLimitTimeout(Exception):
    """No turn within the timeout. `retry_after` is the earliest a slot could free up (a lower bound)."""

    def __init__(self, message: str, *, retry_after: float) -> None:
        super().__init__(message)
        self.retry_after = retry_after
