"""`Authorization: Bearer dam_<prefix>_<secret>` authentication for storefronts and integrations."""

from __future__ import annotations

import hmac
from dataclasses import dataclass, field
from datetime import timedelta

from django.conf import settings
from django.utils import timezone
from rest_framework import exceptions
from rest_framework.authentication import BaseAuthentication, get_authorization_header
from rest_framework.request import Request

from tenants.audit import Actor
from tenants.change_feed import AUTH_CHANNEL
from tenants.feed_cache import FeedCache
from tenants.models import ApiKey, hash_api_key_secret
from tenants.selectors import api_key_by_prefix

# Keys by prefix, with their tenant: a changed key or tenant (revoked, rescoped, suspended)
# is forgotten when its change commits; the expiry is still checked on every request.
api_keys = FeedCache(AUTH_CHANNEL, max_entries=10_000)


@dataclass(frozen=True)
class ApiKeyPrincipal:
    """request.user for API-key requests: an actor that is not a person."""

    api_key: ApiKey
    is_authenticated: bool = field(default=True, init=False)
    is_active: bool = field(default=True, init=False)
    is_staff: bool = field(default=False, init=False)
    is_superuser: bool = field(default=False, init=False)
    pk: None = field(default=None, init=False)

    def __str__(self) -> str:
        return Actor.for_api_key(self.api_key).label


class ApiKeyAuthentication(BaseAuthentication):
    keyword = b"bearer"

    def authenticate(self, request: Request):
        parts = get_authorization_header(request).split()
        if not parts or parts[0].lower() != self.keyword:
            return None
        if len(parts) != 2:
            raise exceptions.AuthenticationFailed("Authorization header must be 'Bearer <api key>'")
        token = parts[1].decode("latin-1")
        pieces = token.split("_", 2)
        if len(pieces) != 3 or pieces[0] != "dam" or not pieces[1] or not pieces[2]:
            raise exceptions.AuthenticationFailed("malformed API key: expected dam_<prefix>_<secret>")
        _, prefix, secret = pieces
        api_key = self._key(prefix)
        if api_key is None or not hmac.compare_digest(api_key.secret_hash, hash_api_key_secret(secret)):
            raise exceptions.AuthenticationFailed("invalid API key")
        now = timezone.now()
        if api_key.is_revoked:
            raise exceptions.AuthenticationFailed("API key revoked")
        if api_key.is_expired(now=now):
            raise exceptions.AuthenticationFailed("API key expired")
        if not api_key.tenant.is_active:
            raise exceptions.PermissionDenied(f"tenant {api_key.tenant.slug!r} is suspended")
        self._touch(api_key, now)
        return ApiKeyPrincipal(api_key=api_key), api_key

    @staticmethod
    def _key(prefix: str) -> ApiKey | None:
        return api_keys.get_or_load(
            prefix, lambda: api_key_by_prefix(prefix=prefix), group="", seconds=settings.API_KEY_CACHE_SECONDS
        )

    def authenticate_header(self, request: Request) -> str:
        return 'Bearer realm="api"'

    @staticmethod
    def _touch(api_key: ApiKey, now) -> None:
        # At most one write per key per resolution window, and never a lost-update race:
        # the conditional UPDATE only moves last_used_at forward.
        resolution = timedelta(seconds=settings.API_KEY_LAST_USED_RESOLUTION_SECONDS)
        if api_key.last_used_at is not None and now - api_key.last_used_at < resolution:
            return
        ApiKey.objects.for_tenant(api_key.tenant_id).filter(pk=api_key.pk).exclude(
            last_used_at__gt=now - resolution
        ).update(last_used_at=now)
        api_key.last_used_at = now  # the cached instance too: the next request needs no write
