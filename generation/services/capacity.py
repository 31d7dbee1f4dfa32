"""Writes for capacity: deployment pools and their members (operators, or a tenant's admins for its own pool),
and a tenant's place in a pool (residency, share cap, what to do after an unknown outcome).

Each change is audited in its transaction, on the record of every tenant whose capacity it changes (a platform pool
has no owner: its tenants are the ones it serves). Keys are encrypted as for tenants' deployments.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from decimal import Decimal
from typing import Any
from urllib.parse import urlsplit

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction

from dam.webhooks.targets import Unresolvable, UnsafeTarget, checked_addresses, refusal
from generation.foundry.config import DEPLOYMENT_SETTINGS, AuthKind, Secret
from generation.models import DeploymentPool, PoolMember, TenantCapacity
from generation.selectors.capacity import tenant_own_pool
from tenants.audit import Actor, RequestOrigin, audit, changes
from tenants.errors import Conflict, NotFound, ServiceError
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
    payload = changes(before or {}, _capacity_values(capacity))
    if pool is not None and (before is None or before["pool_id"] != pool.pk):
        # The pool's deployments as the tenant starts using them: a platform pool's changes are recorded on the
        # chains of the tenants it serves, so those made while it served nobody are in no chain; this is.
        payload["pool"] = {
            "name": pool.name,
            "members": [
                {"id": member.pk, **_member_values(member)}
                for member in PoolMember.objects.filter(pool=pool).order_by("priority", "id")
            ],
        }
    audit(
        tenant=tenant,
        actor=actor,
        action="capacity.updated",
        target=("tenant_capacity", capacity.pk),
        payload=payload,
        origin=origin,
    )
    return capacity


# --- a tenant's admins and their own pool --------------------------------------------------------------------
# The same writes as operators', reached through these: each checks the pool is the tenant's own (to anyone else
# a member of it does not exist), and that the tenant is still served when it is done.

TENANT_MEMBER_FIELDS = frozenset(_MEMBER_FIELDS)


def _own_member(tenant: Tenant, member: PoolMember) -> None:
    if member.pool.owner_id != tenant.pk:
        raise NotFound("no such deployment in this tenant's pool", field="id")


def _tenant_auth(member: PoolMember) -> None:
    # Entra ID would authenticate with the platform's own identity: its token must never go to an endpoint a
    # tenant chose. A tenant's deployment brings its own key.
    if member.auth_kind != AuthKind.API_KEY:
        raise ServiceError("a tenant's own deployment authenticates with its api key", field="auth_kind")


def _tenant_endpoint(member: PoolMember, *, resolve: bool) -> None:
    # The workers send the tenant's prompts and key to this address: an https endpoint on a public host, never
    # one inside the platform's network (loopback, private, link-local such as the cloud metadata service).
    # A literal address or an obviously internal name is refused here, always. With `resolve` (a new or changed
    # endpoint), the name is resolved too and refused when any answer is internal: the webhooks' rule, IPv6 forms
    # carrying an internal IPv4 address included. DNS may answer differently later (rebinding): every call
    # resolves again and connects only to an address it checked (`DeploymentConfig.public_only`, set for a
    # tenant-owned pool's members; generation.foundry.client.PublicOnlyTransport). TENANT_ENDPOINTS_ALLOW_PRIVATE
    # (development, tests) skips the resolution here and lets calls reach private answers.
    parts = urlsplit(member.endpoint or "")
    host = (parts.hostname or "").rstrip(".").lower()
    if parts.scheme != "https" or not host:
        raise ServiceError("a tenant's deployment is reached over https", field="endpoint")
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        inside = host == "localhost" or host.endswith((".localhost", ".local", ".internal")) or "." not in host
    else:
        # The webhooks' rule: also an internal IPv4 address inside an IPv6 form (NAT64, 6to4, mapped).
        inside = refusal(address) is not None
    if inside:
        raise ServiceError("not an address a tenant's deployment may have (an internal host)", field="endpoint")
    if not resolve or settings.TENANT_ENDPOINTS_ALLOW_PRIVATE:
        return
    try:
        port = parts.port or 443
    except ValueError:
        raise ServiceError("the endpoint has an invalid port", field="endpoint") from None
    try:
        checked_addresses(host, port, allow_private=False)
    except Unresolvable:
        raise ServiceError("the endpoint's host name does not resolve", field="endpoint") from None
    except UnsafeTarget as refused:
        raise ServiceError(
            f"the endpoint's host name resolves to an internal address ({refused.message})", field="endpoint"
        ) from None


def _still_served(tenant: Tenant, pool: DeploymentPool, *, field: str, moving_in: bool = False) -> None:
    """A tenant on this pool (or `moving_in` to it) keeps at least one enabled deployment inside its residency: a
    change that leaves it none is refused now (its jobs would otherwise fail later, with nowhere to go)."""
    capacity = TenantCapacity.objects.for_tenant(tenant).first()
    if capacity is None or (capacity.pool_id != pool.pk and not moving_in):
        return
    members = PoolMember.objects.filter(pool=pool, enabled=True)
    if not any(capacity.allows(member) for member in members):
        raise Conflict(
            "this tenant uses the pool: it must keep at least one enabled deployment inside its residency "
            f"(regions: {', '.join(capacity.allowed_regions) or 'any'}; "
            f"data zones: {', '.join(capacity.allowed_data_zones) or 'any'})",
            field=field,
        )


def _apply(member: PoolMember, values: dict[str, Any]) -> None:
    unknown = sorted(set(values) - TENANT_MEMBER_FIELDS)
    if unknown:
        raise ServiceError(f"not a deployment setting: {', '.join(unknown)}", field=unknown[0])
    for name, value in values.items():
        setattr(member, name, value)


@transaction.atomic
def tenant_pool_member_add(
    *,
    tenant: Tenant,
    values: dict[str, Any],
    api_key: Secret | str | None,
    actor: Actor,
    origin: RequestOrigin | None = None,
) -> PoolMember:
    """A tenant's admin adds a deployment to the tenant's own pool. A tenant that owns no pool gets one, made with
    this first member, and its capacity then points at it (its weight stays the operator's): one transaction, so
    the tenant is never routed to an empty pool."""
    member = PoolMember()
    _apply(member, values)
    _tenant_auth(member)
    _tenant_endpoint(member, resolve=True)  # resolves the host name: before the lock below, never while holding it
    Tenant.objects.select_for_update().filter(pk=tenant.pk).first()  # two first members: one pool
    pool = tenant_own_pool(tenant=tenant)
    created = pool is None
    if created:
        pool = pool_create(name=f"{tenant.name}'s deployments"[:100], owner=tenant, actor=actor, origin=origin)
    member.pool = pool
    if PoolMember.objects.filter(pool=pool, name=member.name).exists():
        raise Conflict("this pool already has a deployment of that name", field="name")
    pool_member_save(member=member, api_key=api_key, actor=actor, origin=origin)
    # The first member must serve the tenant, whose residency may exclude it: said of the member's region.
    _still_served(tenant, pool, field="region" if member.enabled else "enabled", moving_in=created)
    if created:
        tenant_capacity_set(tenant=tenant, pool=pool, actor=actor, origin=origin)
    return member


@transaction.atomic
def tenant_pool_member_update(
    *,
    tenant: Tenant,
    member: PoolMember,
    values: dict[str, Any],
    api_key: Secret | str | None,
    actor: Actor,
    origin: RequestOrigin | None = None,
) -> PoolMember:
    """A tenant's admin changes a deployment of its own pool (a given key replaces the stored one)."""
    _own_member(tenant, member)
    _apply(member, values)
    _tenant_auth(member)
    # Resolved only when it changes (compared with the row: the staff UI's form has already set the new value): a
    # stored name that resolves nowhere now must not block disabling its member, whose calls are refused anyway.
    stored = PoolMember.objects.filter(pk=member.pk).values_list("endpoint", flat=True).first()
    _tenant_endpoint(member, resolve=member.endpoint != stored)
    if PoolMember.objects.filter(pool=member.pool, name=member.name).exclude(pk=member.pk).exists():
        raise Conflict("this pool already has a deployment of that name", field="name")
    pool_member_save(member=member, api_key=api_key, actor=actor, origin=origin)
    _still_served(tenant, member.pool, field="enabled" if not member.enabled else "region")
    return member


@transaction.atomic
def tenant_pool_member_delete(
    *, tenant: Tenant, member: PoolMember, actor: Actor, origin: RequestOrigin | None = None
) -> None:
    """A tenant's admin deletes a deployment of its own pool (never the last one it can use)."""
    _own_member(tenant, member)
    pool = member.pool
    pool_member_delete(member=member, actor=actor, origin=origin)
    _still_served(tenant, pool, field="id")
