"""Reads for a tenant's own side of capacity: the pool it owns (its admins manage it) and that pool's members."""

from __future__ import annotations

from django.db.models import Case, IntegerField, QuerySet, Subquery, Value, When

from generation.models import DeploymentPool, PoolMember, TenantCapacity
from tenants.models import Tenant


def _own_pools(tenant: Tenant) -> QuerySet[DeploymentPool]:
    """The pools the tenant owns, the one it uses first (operators may have made it more than one)."""
    in_use = TenantCapacity.objects.for_tenant(tenant).values("pool_id")[:1]
    first = Case(When(pk=Subquery(in_use), then=Value(0)), default=Value(1), output_field=IntegerField())
    return DeploymentPool.objects.filter(owner=tenant).annotate(in_use_first=first).order_by("in_use_first", "id")


def tenant_own_pool(*, tenant: Tenant) -> DeploymentPool | None:
    """The pool the tenant owns (the one it uses, if it owns that one); None when it owns none. Never a platform
    pool, never another tenant's."""
    return _own_pools(tenant).first()


def tenant_pool_members(*, tenant: Tenant) -> QuerySet[PoolMember]:
    """The members of the tenant's own pool (none when it owns no pool); lazy, one query."""
    own = Subquery(_own_pools(tenant).values("pk")[:1])
    return PoolMember.objects.filter(pool_id=own).select_related("pool").order_by("priority", "id")
