"""Credentials on the wire: the `api-key` header or an Entra ID bearer token.

Both are httpx auth flows, so the clear value is written into one request's headers and
nowhere else (not in the client's default headers, which show up in reprs and debuggers).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Generator
from typing import Any, Protocol, runtime_checkable

import httpx

from generation.foundry.config import COGNITIVE_SERVICES_SCOPE, AuthKind, DeploymentConfig, Secret
from generation.foundry.errors import AuthenticationError

# Refresh a bearer token this long before it expires, so a request never leaves with a
# token that dies in flight (image generations can take minutes).
TOKEN_REFRESH_MARGIN_SECONDS = 300


@runtime_checkable
class TokenProvider(Protocol):
    def get_token(self, *, force_refresh: bool = False) -> Secret: ...


class StaticTokenProvider:
    """A fixed bearer token (the emulator, or a token minted elsewhere)."""

    def __init__(self, token: str | Secret) -> None:
        self._token = token if isinstance(token, Secret) else Secret(token)

    def get_token(self, *, force_refresh: bool = False) -> Secret:
        return self._token

    def __repr__(self) -> str:
        return "StaticTokenProvider(********)"


class AzureCredentialTokenProvider:
    """Tokens from an azure-core `TokenCredential` (DefaultAzureCredential unless one is given),
    cached per process until shortly before expiry. Thread-safe: Celery workers share it."""

    def __init__(self, credential: Any = None, *, scope: str = COGNITIVE_SERVICES_SCOPE) -> None:
        self._credential = credential
        self._scope = scope
        self._lock = threading.Lock()
        self._token: Secret | None = None
        self._expires_on = 0.0

    def get_token(self, *, force_refresh: bool = False) -> Secret:
        with self._lock:
            fresh = self._token is not None and time.time() < self._expires_on - TOKEN_REFRESH_MARGIN_SECONDS
            if fresh and not force_refresh:
                return self._token
            credential = self._credential or self._default_credential()
            try:
                access = credential.get_token(self._scope)
            except Exception as exc:
                # azure-identity's messages name the credential chain, never the secret; the
                # exception type is kept in the message, the original is chained for operators.
                raise AuthenticationError(f"Entra ID token request failed ({type(exc).__name__})") from exc
            self._token = Secret(access.token)
            self._expires_on = float(access.expires_on)
            return self._token

    def _default_credential(self) -> Any:
        try:
            from azure.identity import DefaultAzureCredential
        except ImportError:
            raise AuthenticationError(
                "Entra ID auth needs the optional package azure-identity (pip install azure-identity), "
                "or a token provider passed in the deployment configuration"
            ) from None
        self._credential = DefaultAzureCredential()
        return self._credential

    def __repr__(self) -> str:
        return f"AzureCredentialTokenProvider(scope={self._scope!r})"


class ApiKeyAuth(httpx.Auth):
    def __init__(self, api_key: Secret) -> None:
        self._api_key = api_key

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        request.headers["api-key"] = self._api_key.reveal()
        yield request

    def __repr__(self) -> str:
        return "ApiKeyAuth(********)"


class BearerTokenAuth(httpx.Auth):
    # The request is replayed once with a refreshed token on 401, so its body must be readable twice.
    requires_request_body = True

    def __init__(self, provider: TokenProvider) -> None:
        self._provider = provider

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        request.headers["Authorization"] = f"Bearer {self._provider.get_token().reveal()}"
        response = yield request
        if response.status_code == 401:
            # A token revoked or rotated before its stated expiry: one fresh token, one replay.
            request.headers["Authorization"] = f"Bearer {self._provider.get_token(force_refresh=True).reveal()}"
            yield request

    def __repr__(self) -> str:
        return f"BearerTokenAuth({self._provider!r})"


def auth_for(config: DeploymentConfig) -> httpx.Auth:
    if config.auth_kind is AuthKind.API_KEY:
        assert config.api_key is not None  # DeploymentConfig validates this
        return ApiKeyAuth(config.api_key)
    provider = config.token_provider or AzureCredentialTokenProvider(scope=config.entra_scope)
    return BearerTokenAuth(provider)
