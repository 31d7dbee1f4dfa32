"""Writes for tenants, memberships and API keys. One transaction each."""

from __future__ import annotations

import re
import secrets
import zoneinfo
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from tenants.audit import Actor, RequestOrigin, audit, changes
from tenants.change_feed import AUTH_CHANNEL, change_feed
from tenants.errors import Forbidden
from tenants.models import ApiKey, Membership, Role, Scope, Tenant, hash_api_key_secret

API_KEY_PREFIX_LENGTH = 12
_SLUG_RE = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$")


@dataclass(frozen=True)
class IssuedApiKey:
    """An API key together with its secret. The secret exists only here, never in the database."""

    api_key: ApiKey
    token: str


def _validate_scopes(scopes: Iterable[str]) -> list[str]:
    scopes = list(dict.fromkeys(scopes))
    unknown = [scope for scope in scopes if scope not in Scope.values]
    if unknown:
        raise ValidationError({"scopes": f"unknown scope(s) {', '.join(unknown)}; allowed: {', '.join(Scope.values)}"})
    if not scopes:
        raise ValidationError({"scopes": "at least one scope is required"})
    return scopes


def _api_key_values(api_key: ApiKey) -> dict[str, Any]:
    # Never the secret or its hash: the trail says which key, not how to forge it.
    return {
        "name": api_key.name,
        "prefix": api_key.prefix,
        "scopes": list(api_key.scopes),
        "expires_at": api_key.expires_at,
        "revoked_at": api_key.revoked_at,
    }


@transaction.atomic
def tenant_create(
    *, slug: str, name: str, time_zone: str = "UTC", actor: Actor | None = None, origin: RequestOrigin | None = None
) -> Tenant:
    if not _SLUG_RE.match(slug):
        raise ValidationError({"slug": "lowercase letters, digits and hyphens, 1-63 characters"})
    if Tenant.objects.filter(slug=slug).exists():
        raise ValidationError({"slug": f"a tenant with slug {slug!r} already exists"})
    try:
        zoneinfo.ZoneInfo(time_zone)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        raise ValidationError({"time_zone": f"unknown IANA time zone {time_zone!r}"}) from None
    tenant = Tenant.objects.create(slug=slug, name=name, time_zone=time_zone)
    # The first event of the tenant's audit chain.
    audit(
        tenant=tenant,
        actor=Actor.resolve(actor, fallback="provisioning"),
        action="tenant.created",
        target=("tenant", tenant.pk),
        payload=changes({}, {"slug": slug, "name": name, "time_zone": time_zone}),
        origin=origin,
    )
    return tenant


@transaction.atomic
def tenant_set_status(
    *, tenant: Tenant, status: str, actor: Actor | None = None, origin: RequestOrigin | None = None
) -> Tenant:
    if status not in Tenant.Status.values:
        raise ValidationError({"status": f"must be one of {', '.join(Tenant.Status.values)}"})
    before = Tenant.objects.select_for_update(no_key=True).values_list("status", flat=True).get(pk=tenant.pk)
    Tenant.objects.filter(pk=tenant.pk).update(status=status)
    tenant.status = status
    if before != status:
        audit(
            tenant=tenant,
            actor=Actor.resolve(actor),
            action="tenant.status_changed",
            target=("tenant", tenant.pk),
            payload=changes({"status": before}, {"status": status}),
            origin=origin,
        )
    return tenant


@transaction.atomic
def membership_set(
    *,
    tenant: Tenant,
    user: AbstractBaseUser,
    role: str,
    actor: Actor | None = None,
    origin: RequestOrigin | None = None,
) -> Membership:
    if role not in Role.values:
        raise ValidationError({"role": f"must be one of {', '.join(Role.values)}"})
    previous = Membership.objects.for_tenant(tenant).select_for_update(no_key=True).filter(user=user).first()
    before = {"role": previous.role} if previous else {}
    membership, _ = Membership.objects.for_tenant(tenant).update_or_create(
        tenant=tenant, user=user, defaults={"role": role}
    )
    if before != {"role": role}:
        audit(
            tenant=tenant,
            actor=Actor.resolve(actor),
            action="membership.created" if previous is None else "membership.role_changed",
            target=("membership", membership.pk),
            payload={"user": user.get_username(), **changes(before, {"role": role})},
            origin=origin,
        )
    return membership


@transaction.atomic
def api_key_create(
    *,
    tenant: Tenant,
    name: str,
    scopes: Iterable[str],
    expires_at: datetime | None = None,
    created_by: AbstractBaseUser | None = None,
    created_by_key: ApiKey | None = None,
    granter_scopes: Iterable[str] | None = None,
    actor: Actor | None = None,
    origin: RequestOrigin | None = None,
) -> IssuedApiKey:
    """`created_by_key`: the key it is minted with; the new key's person is then that key's person (four-eyes).

    `granter_scopes`: what the minting key or person may do themselves (None: a platform operator). A key
    never carries a scope its minter lacks, or a key with `admin` alone could mint itself `reviews:write`
    and approve what it asked for.
    """
    scopes = _validate_scopes(scopes)
    if granter_scopes is not None:
        beyond = sorted(set(scopes) - set(granter_scopes))
        if beyond:
            raise Forbidden(
                f"a key may carry only scopes its minter holds; not held: {', '.join(beyond)}",
                field="scopes",
                code="scope_not_held",
            )
    if created_by_key is not None and created_by_key.tenant_id != tenant.pk:
        raise ValueError("an API key is minted with a key of its own tenant")
    person_id = created_by.pk if created_by is not None else getattr(created_by_key, "created_by_id", None)
    if not name.strip():
        raise ValidationError({"name": "must not be blank"})
    if expires_at is not None and expires_at <= timezone.now():
        raise ValidationError({"expires_at": "must be in the future"})
    for _ in range(5):
        prefix = secrets.token_hex(API_KEY_PREFIX_LENGTH // 2)
        secret = secrets.token_urlsafe(32)
        try:
            with transaction.atomic():
                api_key = ApiKey.objects.for_tenant(tenant).create(
                    tenant=tenant,
                    name=name.strip(),
                    prefix=prefix,
                    secret_hash=hash_api_key_secret(secret),
                    scopes=scopes,
                    expires_at=expires_at,
                    created_by_id=person_id,
                    created_by_key=created_by_key,
                )
        except IntegrityError:  # prefix collision: 48 random bits, practically never
            continue
        audit(
            tenant=tenant,
            actor=Actor.resolve(actor, user=created_by),
            action="api_key.created",
            target=("api_key", api_key.pk),
            payload=changes({}, _api_key_values(api_key)),
            origin=origin,
        )
        return IssuedApiKey(api_key=api_key, token=f"dam_{prefix}_{secret}")
    raise RuntimeError("could not allocate a unique API key prefix")


@transaction.atomic
def api_key_revoke(*, api_key: ApiKey, actor: Actor | None = None, origin: RequestOrigin | None = None) -> ApiKey:
    # Conditional UPDATE: revoking twice keeps the first revocation time (and writes one event).
    revoked = (
        ApiKey.objects.for_tenant(api_key.tenant_id)
        .filter(pk=api_key.pk, revoked_at__isnull=True)
        .update(revoked_at=timezone.now())
    )
    api_key.refresh_from_db(fields=["revoked_at"])
    if revoked:
        # Every process hears of it from the change feed; this one must not wait for the notification.
        transaction.on_commit(lambda: change_feed.publish_locally(AUTH_CHANNEL, None))
        audit(
            tenant=api_key.tenant_id,
            actor=Actor.resolve(actor),
            action="api_key.revoked",
            target=("api_key", api_key.pk),
            payload={"prefix": api_key.prefix, **changes({"revoked_at": None}, {"revoked_at": api_key.revoked_at})},
            origin=origin,
        )
    return api_key


def user_get_or_create(*, username: str, email: str = "", password: str | None = None, is_staff: bool = True):
    User = get_user_model()
    user, created = User.objects.get_or_create(username=username, defaults={"email": email, "is_staff": is_staff})
    if password is not None:
        user.set_password(password)
        user.save(update_fields=["password"])
    return user, created
