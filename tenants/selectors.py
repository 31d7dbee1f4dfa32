"""Reads for tenants, memberships and API keys."""

from __future__ import annotations

from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import ValidationError
from django.db.models import QuerySet

from tenants.models import ApiKey, BrandLogo, BrandPolicy, Membership, Placement, Tenant


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


# Keys are minted one by one by people or other keys; a longer chain than this is not a real delegation.
API_KEY_CHAIN_LIMIT = 32


def api_key_chain(*, tenant: Tenant | int, api_key_id: int | None) -> list[ApiKey]:
    """The key and the keys it was minted with, nearest first, up to the key a person (or a command) minted."""
    chain: list[ApiKey] = []
    while api_key_id is not None and len(chain) < API_KEY_CHAIN_LIMIT:
        key = ApiKey.objects.for_tenant(tenant).filter(pk=api_key_id).only("pk", "created_by", "created_by_key").first()
        if key is None or key in chain:
            break
        chain.append(key)
        api_key_id = key.created_by_key_id
    return chain


def principals_of(
    *, tenant: Tenant | int, user_id: int | None = None, api_key_id: int | None = None, person_id: int | None = None
) -> frozenset[tuple[str, int]]:
    """Who stands behind an act: the user, the API key and every key it was minted with, and their persons.

    Four-eyes compares these sets: two acts with a principal in common are the same requester (a person acting
    in a session or through any key of a chain they started, or the same chain of keys).
    """
    principals = {("user", user_id), ("user", person_id)}
    for key in api_key_chain(tenant=tenant, api_key_id=api_key_id):
        principals |= {("api_key", key.pk), ("user", key.created_by_id)}
    return frozenset(p for p in principals if p[1] is not None)


def memberships_for_tenant(*, tenant: Tenant) -> QuerySet[Membership]:
    return Membership.objects.for_tenant(tenant).select_related("user").order_by("id")


def brand_policy_current(*, tenant: Tenant) -> BrandPolicy | None:
    return brand_policy_versions(tenant=tenant).first()


def brand_policy_versions(*, tenant: Tenant) -> QuerySet[BrandPolicy]:
    # The logo's facts come along, its bytes do not (brand_logo_of reads them when they are wanted).
    return BrandPolicy.objects.for_tenant(tenant).select_related("logo").defer("logo__data").order_by("-version")


def brand_logo_of(*, policy: BrandPolicy) -> BrandLogo | None:
    """The policy version's logo with its bytes, or None."""
    if policy.logo_id is None:
        return None
    return BrandLogo.objects.for_tenant(policy.tenant_id).filter(pk=policy.logo_id).first()


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
