"""The pool dispatcher: per-call routing over a pool's deployments, fair queuing across tenants, breakers and
learned quota, shared by every worker through Redis (see generation.dispatch.pool)."""

from generation.dispatch.pool import PoolDispatcher
from generation.dispatch.values import (
    BreakerChange,
    Grant,
    Lane,
    Member,
    MemberState,
    NoAllowedMember,
    Outcome,
    RateLimitTimeout,
)

__all__ = [
    "BreakerChange",
    "Grant",
    "Lane",
    "Member",
    "MemberState",
    "NoAllowedMember",
    "Outcome",
    "PoolDispatcher",
    "RateLimitTimeout",
]
