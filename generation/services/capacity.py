"""Writes for capacity: deployment pools and their members (operators, or a tenant's admins for its own pool),
and a tenant's place in a pool (residency, share cap, what to do after an unknown outcome).

Each change is audited in its transaction, on the record of every tenant whose capacity it changes (a platform pool
has no owner: its tenants are the ones it serves). Keys are encrypted as for tenants' deployments.
"""

from __future__ import annotations

from collections.abc import Iterable
from decimal import Decimal
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction

from generation.foundry.config import DEPLOYMENT_SETTINGS, Secret
from generation.models import DeploymentPool, PoolMember, TenantCapacity
from tenants.audit import Actor, RequestOrigin, audit, changes
from tenants.errors import ServiceError
from tenants.models import Tenant

_MEMBER_FIELDS = (*DEPLOYMENT_SETTINGS, "region", "data_zone", "deployment_type", "weight", "priority", "enabled")
_CAPACITY_FIELDS = ("pool_id", "weight", "max_share_percent", "allowed_regions", "allowed_data_zones")
_CAPACITY_FIELDS += ("retry_unknown_outcome",)


def pool_tenants(pool: DeploymentPool) -> list[int]:
    """The tenants a pool serves (and its owner): where its changes are recorded."""
    tenants = set(TenantCapacity.unscoped.filter(pool=pool).values_list("tenant_id", flat=True))
    if pool.owner_id:
        tenants.add(pool.owner_id)
    return sorted(tenants)


def _audit_all(
    tenants: Iterable[int], *, actor: Actor, action: str, target: tuple, payload: dict, origin: RequestOrigin | None
) -> None:
    for tenant_id in tenants:
        audit(tenant=tenant_id, actor=actor, action=action, target=target, payload=payload, origin=origin)


@transaction.atomic
def pool_create(
    *, name: str, owner: Tenant | None, actor: Actor, description: str = "", origin: RequestOrigin | None = None
) -> DeploymentPool:
    pool = DeploymentPool(name=name.strip(), owner=owner, description=description)
    pool.full_clean()
    pool.save()
    if owner is not None:
        audit(
            tenant=owner,
            actor=actor,
            action="pool.created",
            target=("deployment_pool", pool.pk),
            payload={"name": pool.name},
            origin=origin,
        )
    return pool


def _member_values(member: PoolMember) -> dict[str, Any]:
    return {**{name: getattr(member, name) for name in _MEMBER_FIELDS}, "has_api_key": member.has_api_key}


@transaction.atomic
def pool_member_save(
    *,
    member: PoolMember,
    actor: Actor,
    api_key: Secret | str | None = None,
    origin: RequestOrigin | None = None,
) -> PoolMember:
    """Validate and save a pool member (a given key replaces the stored one); audited for the pool's tenants."""
    stored = PoolMember.objects.filter(pk=member.pk).first() if member.pk else None
    before = _member_values(stored) if stored is not None else None
    if api_key is not None:
        member.set_api_key(api_key)
    member.full_clean()
    try:
        member.to_config()  # proves it usable: a key where the auth kind needs one, a valid endpoint
    except ValueError as exc:
        raise ServiceError(str(exc), field="api_key" if "key" in str(exc) else "endpoint") from None
    member.save()
    after = _member_values(member)
    payload = {"pool": member.pool.name, "member": member.name, "changes": changes(before or {}, after)}
    if api_key is not None and before is not None and before["has_api_key"]:
        payload["api_key"] = "replaced"  # the value never; that it changed, always
    _audit_all(
        pool_tenants(member.pool),
        actor=actor,
        action="pool.member_created" if before is None else "pool.member_updated",
        target=("pool_member", member.pk),
        payload=payload,
        origin=origin,
    )
    return member


@transaction.atomic
def pool_member_delete(*, member: PoolMember, actor: Actor, origin: RequestOrigin | None = None) -> None:
    tenants = pool_tenants(member.pool)
    payload = {"pool": member.pool.name, "member": member.name, "region": member.region}
    member_id = member.pk
    member.delete()
    _audit_all(
        tenants,
        actor=actor,
        action="pool.member_deleted",
        target=("pool_member", member_id),
        payload=payload,
        origin=origin,
    )


def _capacity_values(capacity: TenantCapacity) -> dict[str, Any]:
    return {name: getattr(capacity, name) for name in _CAPACITY_FIELDS}


@transaction.atomic
def tenant_capacity_set(
    *, tenant: Tenant, actor: Actor, origin: RequestOrigin | None = None, **values: Any
) -> TenantCapacity:
    """Change a tenant's place in the capacity plan (only the fields given). A pool must be the platform's or the
    tenant's own; residency must leave the pool at least one deployment (a tenant that could never be served is a
    mistake to refuse now, not a job failure later)."""
    unknown = sorted(set(values) - {"pool", *_CAPACITY_FIELDS})
    if unknown:
        raise ServiceError(f"not a capacity setting: {', '.join(unknown)}", field=unknown[0])
    capacity = TenantCapacity.objects.for_tenant(tenant).select_for_update().filter(tenant=tenant).first()
    before = _capacity_values(capacity) if capacity is not None else None
    capacity = capacity or TenantCapacity(tenant=tenant)
    for name, value in values.items():
        setattr(capacity, name, value)
    if capacity.weight is not None:
        capacity.weight = Decimal(str(capacity.weight))
    pool = capacity.pool
    if pool is not None and pool.owner_id not in (None, tenant.pk):
        raise ServiceError("not a pool this tenant may use", field="pool")
    try:
        capacity.full_clean()
    except ValidationError as exc:
        raise ServiceError(
            "; ".join(f"{k}: {' '.join(v)}" for k, v in exc.message_dict.items()), field=next(iter(exc.message_dict))
        ) from None
    if pool is not None and (capacity.allowed_regions or capacity.allowed_data_zones):
        members = PoolMember.objects.filter(pool=pool, enabled=True)
        if not any(capacity.allows(member) for member in members):
            raise ServiceError(
                "no enabled deployment of the pool is inside these regions / data zones", field="allowed_regions"
            )
    capacity.save()
    audit(
        tenant=tenant,
        actor=actor,
        action="capacity.updated",
        target=("tenant_capacity", capacity.pk),
        payload=changes(before or {}, _capacity_values(capacity)),
        origin=origin,
    )
    return capacity
