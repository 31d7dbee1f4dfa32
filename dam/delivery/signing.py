"""Signed, expiring delivery URLs: HMAC-SHA256 over the path and the expiry time.

`?expires=<unix seconds>&sig=<base64url HMAC>`; the query string is not signed as a whole,
so nothing else in it can widen access. Expiry is rounded up to a quarter of the lifetime, so
one image keeps the same signed URL for a while and browsers and CDNs can cache it.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
import math
from functools import cache

from django.conf import settings
from django.utils import timezone

# Unix seconds have 10 digits until the year 2286.
MAX_EXPIRY_DIGITS = 12


class SignatureError(Exception):
    """A signed URL that is missing, malformed, tampered with or expired."""


@cache
def _key(configured: str, secret_key: str) -> bytes:
    if configured:
        return configured.encode()
    return hashlib.sha256(b"dam-delivery-signing:" + secret_key.encode()).digest()


def _signature(path: str, expires: int) -> str:
    key = _key(settings.DELIVERY_SIGNING_KEY, settings.SECRET_KEY)
    digest = hmac.new(key, f"{path}\n{expires}".encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


def signed_expiry(*, now: dt.datetime, ttl: int) -> int:
    step = max(60, ttl // 4)
    return math.ceil((now.timestamp() + ttl) / step) * step


def signed_query(
    path: str, *, now: dt.datetime | None = None, ttl: int | None = None, expires: int | None = None
) -> str:
    if expires is None:
        expires = signed_expiry(now=now or timezone.now(), ttl=ttl or settings.DELIVERY_SIGNED_URL_TTL_SECONDS)
    return f"expires={expires}&sig={_signature(path, expires)}"


def verify_signature(path: str, *, expires: str | None, sig: str | None, now: dt.datetime | None = None) -> int:
    """The expiry (unix seconds) of a valid signature; SignatureError otherwise."""
    if not expires or not sig:
        raise SignatureError("this URL needs a signature")
    # ASCII digits only: int() also takes other scripts' digits ("٣") and refuses superscripts ("²"),
    # and compare_digest raises on non-ASCII text; all of them are forgeries, answered alike.
    if not (expires.isascii() and expires.isdigit() and len(expires) <= MAX_EXPIRY_DIGITS):
        raise SignatureError("malformed expiry")
    if not sig.isascii():
        raise SignatureError("bad signature")
    expires_at = int(expires)
    # Compare first, so a forged expiry and a forged signature look the same from outside.
    if not hmac.compare_digest(_signature(path, expires_at), sig):
        raise SignatureError("bad signature")
    if expires_at <= (now or timezone.now()).timestamp():
        raise SignatureError("signature expired")
    return expires_at
