"""Encryption of credentials stored in the database (Fernet: AES-128-CBC + HMAC-SHA256).

Keys come from FIELD_ENCRYPTION_KEY (comma-separated: the first encrypts, all decrypt, so a
key can be rotated by prepending a new one and re-saving rows). In development an empty
setting derives a key from SECRET_KEY; settings refuse an empty key when DEBUG is off.
"""

from __future__ import annotations

import base64
import hashlib
from functools import cache

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

from generation.foundry.config import Secret


class DecryptionError(Exception):
    """A stored credential could not be decrypted (wrong or rotated-away key, or tampering)."""


def _derived_dev_key(secret_key: str) -> bytes:
    digest = hashlib.sha256(b"dam-field-encryption:" + secret_key.encode()).digest()
    return base64.urlsafe_b64encode(digest)


@cache
def _fernet(keys_setting: str, secret_key: str) -> MultiFernet:
    raw_keys = [k.strip() for k in keys_setting.split(",") if k.strip()]
    if not raw_keys:
        raw_keys = [_derived_dev_key(secret_key).decode()]
    try:
        return MultiFernet([Fernet(key) for key in raw_keys])
    except ValueError:
        # Never echo the key material in the error.
        raise ImproperlyConfigured(
            "FIELD_ENCRYPTION_KEY must be Fernet keys (32 url-safe base64-encoded bytes), comma-separated; "
            "generate one with: python -c "
            '"from cryptography.fernet import Fernet; print(Fernet.generate_key().decode())"'
        ) from None


def _current() -> MultiFernet:
    return _fernet(settings.FIELD_ENCRYPTION_KEY, settings.SECRET_KEY)


def encrypt_secret(secret: Secret | str) -> str:
    clear = secret.reveal() if isinstance(secret, Secret) else secret
    return _current().encrypt(clear.encode()).decode("ascii")


def decrypt_secret(token: str) -> Secret:
    try:
        return Secret(_current().decrypt(token.encode("ascii")).decode())
    except (InvalidToken, UnicodeError):
        raise DecryptionError(
            "stored credential cannot be decrypted with the configured FIELD_ENCRYPTION_KEY"
        ) from None


def rotate_secret(token: str) -> str:
    """Re-encrypt under the first (newest) key."""
    return _current().rotate(token.encode("ascii")).decode("ascii")
