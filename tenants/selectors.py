"""Reads for tenants, memberships and API keys."""

from __future__ import annotations

from django.contrib.auth.models import AbstractBaseUser
from django.db.models import QuerySet

from tenants.models import ApiKey, Membership, Tenant


def tenants_for_user(*, user: AbstractBaseUser) -> QuerySet[Tenant]:
    if user.is_superuser:
        return Tenant.objects.all()
    return Tenant.objects.filter(memberships__user=user).distinct()


def membership_for(*, tenant: Tenant, user: AbstractBaseUser) -> Membership | None:
    return Membership.objects.for_tenant(tenant).filter(user=user).first()


def api_key_by_prefix(*, prefix: str) -> ApiKey | None:
    # Authentication is the one read that precedes knowing the tenant: the key names it.
    return ApiKey.unscoped.select_related("tenant").filter(prefix=prefix).first()


def api_keys_for_tenant(*, tenant: Tenant) -> QuerySet[ApiKey]:
    return ApiKey.objects.for_tenant(tenant).order_by("id")


def memberships_for_tenant(*, tenant: Tenant) -> QuerySet[Membership]:
    return Membership.objects.for_tenant(tenant).select_related("user").order_by("id")
