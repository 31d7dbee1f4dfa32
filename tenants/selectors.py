"""Reads for tenants, memberships and API keys."""

from __future__ import annotations

from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import ValidationError
from django.db.models import QuerySet

from tenants.models import ApiKey, BrandPolicy, Membership, Placement, Tenant


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


def brand_policy_current(*, tenant: Tenant) -> BrandPolicy | None:
    return BrandPolicy.objects.for_tenant(tenant).order_by("-version").first()


def brand_policy_versions(*, tenant: Tenant) -> QuerySet[BrandPolicy]:
    return BrandPolicy.objects.for_tenant(tenant).order_by("-version")


def placements_for_tenant(*, tenant: Tenant, include_archived: bool = False) -> QuerySet[Placement]:
    placements = Placement.objects.for_tenant(tenant).order_by("slug")
    return placements if include_archived else placements.filter(archived=False)


def placements_by_slugs(*, tenant: Tenant, slugs: list[str]) -> list[Placement]:
    """The active placements named, in the order named; unknown slugs raise a ValidationError naming them."""
    found = {p.slug: p for p in placements_for_tenant(tenant=tenant).filter(slug__in=slugs)}
    missing = [slug for slug in slugs if slug not in found]
    if missing:
        raise ValidationError({"placements": f"unknown placement(s): {', '.join(missing)}"})
    return [found[slug] for slug in dict.fromkeys(slugs)]
