"""Where a tenant's provider calls may go: its pool's members (or its one deployment), residency, weight, cap."""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass
from functools import cache

import redis
from django.conf import settings
from django.db.models import QuerySet

from generation.dispatch import Member, MemberState, PoolDispatcher
from generation.foundry.config import DeploymentConfig
from generation.selectors.deployments import deployment_config_for
from tenants.change_feed import JOBS_CHANNEL
from tenants.feed_cache import FeedCache

logger = logging.getLogger(__name__)
# Read before every call; dropped by `dam_jobs` notices when a capacity row, a pool or a member changes
# (generation 0008), or the tenant's own deployment (0004). The expiry only bounds a quiet tenant's entry.
_routes = FeedCache(JOBS_CHANNEL, max_entries=10_000)
_CACHE_SECONDS = 600
# Tenants without a pool share the platform deployment: one dispatcher queue, so they are scheduled fairly.
PLATFORM_POOL_KEY = "platform"


@dataclass(frozen=True)
class Route:
    """One tenant's view of its pool: the members it may use (data residency applied) and its share."""

    pool_key: str
    members: tuple[Member, ...]  # the whole pool: the dispatcher paces every member for every tenant
    configs: dict[str, DeploymentConfig]  # member key -> how to reach it
    regions: dict[str, str]
    allowed: frozenset[str]  # the member keys this tenant's calls may go to
    weight: float
    max_share: float | None
    retry_unknown_outcome: str

    def dispatcher(self) -> PoolDispatcher:
        return _dispatcher(self.pool_key, self.members)


# A breaker chooses where calls go; with a single deployment there is no elsewhere, and an open breaker would
# only stall every job for its cool-down on a provider that is flaky, not down (job retries back off already).
_NEVER = 10**9


@cache
def _dispatcher(pool_key: str, members: tuple[Member, ...]) -> PoolDispatcher:
    # One per pool and member set per process (a changed member set is a new key): its scripts are loaded once.
    single = len(members) == 1
    return PoolDispatcher(
        redis_url=settings.REDIS_URL,
        pool_key=pool_key,
        members=members,
        window_seconds=settings.FOUNDRY_QUOTA_WINDOW_SECONDS,
        key_prefix=settings.DISPATCH_KEY_PREFIX,
        breaker_failures=_NEVER if single else settings.POOL_BREAKER_FAILURES,
        breaker_server_errors=_NEVER if single else settings.POOL_BREAKER_SERVER_ERRORS,
        breaker_cooldown_seconds=settings.POOL_BREAKER_COOLDOWN_SECONDS,
        pacing=settings.POOL_PACING,
    )


def pool_members(*, pool_id: int) -> QuerySet:
    from generation.models import PoolMember

    # The pool with each member: its owner decides whether calls are pinned to public addresses (to_config).
    return PoolMember.objects.filter(pool_id=pool_id).select_related("pool").order_by("priority", "id")


def dispatch_members(rows: Iterable) -> tuple[Member, ...]:
    """Pool member rows as the dispatcher sees them (the same members: the same dispatcher, its scripts loaded)."""
    return tuple(
        Member(key=r.dispatch_key, rpm=r.rpm, tpm=r.tpm, priority=r.priority, weight=r.weight, enabled=r.enabled)
        for r in rows
    )


def member_states(*, pool_key: str, members: tuple[Member, ...]) -> dict[str, MemberState] | None:
    """Each member's live state (headroom, breaker, latency) from the dispatcher; None when Redis cannot say."""
    if not members:
        return {}
    try:
        return {state.key: state for state in _dispatcher(pool_key, members).snapshot()}
    except (redis.RedisError, ValueError):
        logger.warning("no live state for pool %s", pool_key, exc_info=True)
        return None


def _single(config: DeploymentConfig, *, pool_key: str, capacity) -> Route:
    member = Member(key=config.name, rpm=config.rpm, tpm=config.tpm)
    return Route(
        pool_key=pool_key,
        members=(member,),
        configs={member.key: config},
        regions={member.key: ""},
        allowed=frozenset({member.key}),
        weight=float(capacity.weight) if capacity else 1.0,
        max_share=capacity.max_share_percent / 100 if capacity and capacity.max_share_percent else None,
        retry_unknown_outcome=capacity.retry_unknown_outcome if capacity else "once",
    )


def route_for(*, tenant_id: int) -> Route:
    """The tenant's route: its pool if it has one, else its default deployment, else the platform's."""
    from generation.models import TenantCapacity

    def load() -> Route:
        capacity = TenantCapacity.objects.for_tenant(tenant_id).select_related("pool").first()
        if capacity is None or capacity.pool is None:
            config = deployment_config_for(tenant=tenant_id)
            pool_key = PLATFORM_POOL_KEY if config.name == "platform" else config.name
            return _single(config, pool_key=pool_key, capacity=capacity)
        rows = list(pool_members(pool_id=capacity.pool_id))
        members = dispatch_members(rows)
        return Route(
            pool_key=capacity.pool.dispatch_key,
            members=members,
            configs={row.dispatch_key: row.to_config() for row in rows},
            regions={row.dispatch_key: row.region for row in rows},
            allowed=frozenset(row.dispatch_key for row in rows if row.enabled and capacity.allows(row)),
            weight=float(capacity.weight),
            max_share=capacity.max_share_percent / 100 if capacity.max_share_percent else None,
            retry_unknown_outcome=capacity.retry_unknown_outcome,
        )

    return _routes.get_or_load(("route", tenant_id), load, group=str(tenant_id), seconds=_CACHE_SECONDS)
