"""The capacity page's live state: each member's window, learned rate, breaker and last minute's calls, read from
the dispatcher's Redis state (`PoolDispatcher.snapshot`) and shaped into the cells the page shows.

Operators see every pool (`operator_pools`); a tenant sees its own route (`tenant_capacity_view`): its pool's
members inside its data residency, nothing of other tenants; and, when the pool it uses is its own, every member of
that pool (`own_pool_view`: its admins edit them).
"""

from __future__ import annotations

import datetime as dt
import logging
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from generation.dispatch import MemberState
from generation.models import DeploymentPool, PoolMember, TenantCapacity
from generation.selectors.pools import dispatch_members, member_states, pool_members, route_for
from tenants.models import Tenant

logger = logging.getLogger(__name__)

BREAKER_WORDS = {"closed": "Closed", "open": "Open", "half_open": "Half-open"}


def zone_named(name: str | None) -> ZoneInfo:
    try:
        return ZoneInfo(name or "UTC")
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")


def _duration(ms: int | None) -> str:
    if ms is None:
        return "—"
    return f"{ms} ms" if ms < 1000 else f"{ms / 1000:.1f} s"


def _since(opened_at: float, zone: ZoneInfo, now: float) -> str:
    moment = dt.datetime.fromtimestamp(opened_at, tz=zone)
    seconds = max(0, int(now - opened_at))
    ago = f"{seconds}\u00a0s" if seconds < 120 else f"{seconds // 60}\u00a0min"
    # No-break spaces: a narrow cell wraps between the moment and its age, never inside either.
    return f"since\u00a0{moment:%H:%M:%S}\u00a0{zone.key} · {ago}"


def live_values(state: MemberState | None, *, zone: ZoneInfo, enabled: bool = True) -> dict[str, Any]:
    """One member's live cells, as the page first renders them and as `live/` sends them again."""
    if state is None:
        return {"available": False}
    usable = max(1, state.effective_rpm)
    return {
        "available": True,
        "effective_rpm": state.effective_rpm,
        "learned": state.effective_rpm < state.rpm,
        "in_window": state.requests_in_window,
        "headroom": state.headroom,
        "headroom_percent": round(100 * state.headroom / usable),
        "calls": state.calls_last_minute,
        "throttled": state.throttled_last_minute,
        "p50": _duration(state.latency_p50_ms),
        "p95": _duration(state.latency_p95_ms),
        "breaker": state.breaker,
        "breaker_label": BREAKER_WORDS.get(state.breaker, state.breaker),
        "opened": _since(state.opened_at, zone, dt.datetime.now(dt.UTC).timestamp()) if state.opened_at else "",
        "failures": state.consecutive_failures,
        "enabled": enabled,
    }


def operator_pools() -> list[dict[str, Any]]:
    """Every pool with its members (and their live state) and the tenants it serves: the operator's view."""
    pools = list(DeploymentPool.objects.select_related("owner").order_by("owner_id", "name"))
    rows: dict[int, list[PoolMember]] = {pool.pk: [] for pool in pools}
    for member in PoolMember.objects.filter(pool__in=pools).order_by("priority", "id"):
        rows[member.pool_id].append(member)
    served: dict[int, list[TenantCapacity]] = {pool.pk: [] for pool in pools}
    # The operator's page looks across tenants on purpose: which tenants each pool serves.
    for capacity in TenantCapacity.unscoped.filter(pool__in=pools).select_related("tenant").order_by("tenant__name"):
        served[capacity.pool_id].append(capacity)
    utc = zone_named("UTC")
    result = []
    for pool in pools:
        states = member_states(pool_key=pool.dispatch_key, members=dispatch_members(rows[pool.pk]))
        members = [
            {
                "member": m,
                "key": m.dispatch_key,
                "live": live_values((states or {}).get(m.dispatch_key), zone=utc, enabled=m.enabled),
            }
            for m in rows[pool.pk]
        ]
        result.append({"pool": pool, "members": members, "tenants": served[pool.pk], "live": states is not None})
    return result


def _single_name(key: str) -> str:
    # A tenant without a pool calls one deployment: its own default, else the platform's (generation.selectors.pools).
    return "The platform's deployment" if key == "platform" else "Your deployment"


def tenant_capacity_view(tenant: Tenant) -> dict[str, Any]:
    """The tenant's own pool and the deployments its calls may go to (residency applied), nothing of others."""
    capacity = TenantCapacity.objects.for_tenant(tenant).select_related("pool").first()
    route = route_for(tenant_id=tenant.pk)
    states = member_states(pool_key=route.pool_key, members=route.members)
    zone = zone_named(tenant.time_zone)
    pool = capacity.pool if capacity else None
    rows = {m.dispatch_key: m for m in pool_members(pool_id=pool.pk)} if pool else {}
    deployments = []
    for member in route.members:
        if member.key not in route.allowed:
            continue  # outside the tenant's residency: not its business
        row = rows.get(member.key)
        deployments.append(
            {
                "key": member.key,
                "name": row.name if row else _single_name(member.key),
                "region": row.region if row else "",
                "data_zone": row.data_zone if row else "",
                "deployment_type": row.get_deployment_type_display() if row else "",
                "priority": member.priority,
                "rpm": member.rpm,
                "live": live_values((states or {}).get(member.key), zone=zone, enabled=member.enabled),
            }
        )
    return {"capacity": capacity, "pool": pool, "deployments": deployments, "live": states is not None}


def own_pool_in_use(tenant: Tenant) -> DeploymentPool | None:
    """The pool the tenant uses, if it owns it (its admins manage it); else None (a platform pool is operators')."""
    capacity = TenantCapacity.objects.for_tenant(tenant).select_related("pool").first()
    pool = capacity.pool if capacity else None
    return pool if pool is not None and pool.owner_id == tenant.pk else None


def own_pool_view(tenant: Tenant) -> dict[str, Any] | None:
    """The tenant's own pool in use, every member with its live cells and whether the tenant's residency lets its
    calls go there; None when the pool it uses is not its own."""
    pool = own_pool_in_use(tenant)
    if pool is None:
        return None
    capacity = TenantCapacity.objects.for_tenant(tenant).get()
    rows = list(pool_members(pool_id=pool.pk))
    states = member_states(pool_key=pool.dispatch_key, members=dispatch_members(rows))
    zone = zone_named(tenant.time_zone)
    members = [
        {
            "member": m,
            "key": m.dispatch_key,
            "allowed": capacity.allows(m),
            "live": live_values((states or {}).get(m.dispatch_key), zone=zone, enabled=m.enabled),
        }
        for m in rows
    ]
    return {"pool": pool, "members": members, "live": states is not None}
