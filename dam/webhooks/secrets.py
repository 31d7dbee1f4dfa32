"""Webhook signing secrets: shown once, stored encrypted (they are needed in clear to sign).

Same keys as the other credentials in the database (FIELD_ENCRYPTION_KEY, comma-separated
for rotation; a key derived from SECRET_KEY in development).
"""

from __future__ import annotations

import base64
import hashlib
import secrets
from functools import cache

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings

SECRET_PREFIX = "whsec_"


@cache
def _fernet(keys_setting: str, secret_key: str) -> MultiFernet:
    keys = [k.strip() for k in keys_setting.split(",") if k.strip()]
    if not keys:
        digest = hashlib.sha256(b"dam-field-encryption:" + secret_key.encode()).digest()
        keys = [base64.urlsafe_b64encode(digest).decode()]
    return MultiFernet([Fernet(key) for key in keys])


def new_signing_secret() -> str:
    return SECRET_PREFIX + secrets.token_urlsafe(32)


def encrypt_signing_secret(secret: str) -> str:
    return _fernet(settings.FIELD_ENCRYPTION_KEY, settings.SECRET_KEY).encrypt(secret.encode()).decode("ascii")


def decrypt_signing_secret(token: str) -> str:
    try:
        return _fernet(settings.FIELD_ENCRYPTION_KEY, settings.SECRET_KEY).decrypt(token.encode("ascii")).decode()
    except InvalidToken:
        raise RuntimeError("webhook secret cannot be decrypted with the configured FIELD_ENCRYPTION_KEY") from None
