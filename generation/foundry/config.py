"""How to reach one Foundry deployment: a frozen value, built from settings or a tenant's row.

Nothing here talks to the network; the client takes a `DeploymentConfig` and nothing else,
so pointing the platform at Azure instead of the emulator is a change of values, not code.
"""

from __future__ import annotations

import hmac
from dataclasses import dataclass, field
from enum import StrEnum
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

if TYPE_CHECKING:
    from generation.foundry.auth import TokenProvider

# Entra ID scope for Azure OpenAI / Foundry data-plane calls.
COGNITIVE_SERVICES_SCOPE = "https://cognitiveservices.azure.com/.default"
# A preview version that carries the gpt-image models' generations and edits (quality,
# output_format, output_compression, background, moderation, usage in the response).
DEFAULT_API_VERSION = "2025-04-01-preview"


class Secret:
    """A credential that cannot leak by being printed, logged, formatted or compared by accident.

    Only `reveal()` gives the clear value, and the auth layer is the only caller.
    """

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        if not isinstance(value, str):
            raise TypeError("Secret wraps a str")
        self._value = value

    def reveal(self) -> str:
        return self._value

    def __bool__(self) -> bool:
        return bool(self._value)

    def __repr__(self) -> str:
        return "Secret('********')" if self._value else "Secret('')"

    __str__ = __repr__

    def __format__(self, spec: str) -> str:
        return repr(self)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Secret):
            return NotImplemented
        # Constant-time: a secret comparison must not become a timing oracle.
        return hmac.compare_digest(self._value.encode(), other._value.encode())

    def __hash__(self) -> int:
        return hash(("Secret", len(self._value)))

    def __copy__(self) -> Secret:
        return self

    def __deepcopy__(self, memo: dict) -> Secret:
        return self

    def __reduce__(self):
        # Pickling (into a Celery message, a cache) would write the clear value somewhere.
        raise TypeError("Secret values are not picklable")


class ApiStyle(StrEnum):
    # {endpoint}/openai/deployments/{deployment}/images/...?api-version=...
    DEPLOYMENTS = "deployments"
    # {endpoint}/openai/v1/images/... with "model" in the body
    V1 = "v1"


class AuthKind(StrEnum):
    API_KEY = "api_key"
    ENTRA = "entra"


@dataclass(frozen=True, kw_only=True)
class DeploymentConfig:
    name: str
    endpoint: str
    deployment: str
    api_style: ApiStyle = ApiStyle.DEPLOYMENTS
    api_version: str = DEFAULT_API_VERSION
    auth_kind: AuthKind = AuthKind.API_KEY
    # The api-key for AuthKind.API_KEY; unused for Entra ID.
    api_key: Secret | None = None
    # For AuthKind.ENTRA: where bearer tokens come from. None means azure-identity's
    # DefaultAzureCredential (imported only then, so the package stays optional).
    token_provider: TokenProvider | None = field(default=None, compare=False)
    entra_scope: str = COGNITIVE_SERVICES_SCOPE
    connect_timeout_seconds: float = 10.0
    # High-quality 4K images take minutes on the service; the read timeout covers one request.
    read_timeout_seconds: float = 180.0
    # Quota of the deployment, for schedulers that pace jobs; the client itself does not wait on it.
    rpm: int = 60
    tpm: int = 600_000
    max_attempts: int = 4
    max_retry_seconds: float = 300.0
    backoff_initial_seconds: float = 1.0
    backoff_max_seconds: float = 30.0
    # A tenant chose this endpoint: every request resolves its host once, is refused when an answer is an internal
    # address, and connects to the checked address (SSRF, DNS rebinding; generation.foundry.client). Part of the
    # equality: a shared client of such a deployment is never one built without the check.
    public_only: bool = False

    def __post_init__(self) -> None:
        object.__setattr__(self, "api_style", ApiStyle(self.api_style))
        object.__setattr__(self, "auth_kind", AuthKind(self.auth_kind))
        object.__setattr__(self, "endpoint", self.endpoint.rstrip("/"))
        parts = urlsplit(self.endpoint)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise ValueError(f"endpoint must be an http(s) URL, got {self.endpoint!r}")
        if parts.username or parts.password or parts.query:
            # Credentials travel in headers only; a URL is logged by every HTTP library.
            raise ValueError("endpoint must not carry credentials or a query string")
        if not self.deployment:
            raise ValueError("deployment (the deployment or model name) is required")
        if self.api_style is ApiStyle.DEPLOYMENTS and not self.api_version:
            raise ValueError("api_version is required for the deployments URL style")
        if self.auth_kind is AuthKind.API_KEY and not self.api_key:
            raise ValueError(f"deployment {self.name!r} uses api_key auth but has no key")
        if self.api_key is not None and not isinstance(self.api_key, Secret):
            raise TypeError("api_key must be a Secret")
        if self.max_attempts < 1:
            raise ValueError("max_attempts must be at least 1")
        if min(self.connect_timeout_seconds, self.read_timeout_seconds, self.max_retry_seconds) <= 0:
            raise ValueError("timeouts and max_retry_seconds must be positive")

    def images_url(self, operation: str) -> str:
        """Absolute URL of `generations` or `edits` in this deployment's URL style."""
        if operation not in ("generations", "edits"):
            raise ValueError(f"unknown images operation {operation!r}")
        if self.api_style is ApiStyle.V1:
            return f"{self.endpoint}/openai/v1/images/{operation}"
        return f"{self.endpoint}/openai/deployments/{self.deployment}/images/{operation}"

    def query_params(self) -> dict[str, str]:
        return {"api-version": self.api_version} if self.api_style is ApiStyle.DEPLOYMENTS else {}


def platform_deployment_config() -> DeploymentConfig:
    """The platform's own deployment, from the FOUNDRY_* settings (the local emulator by default)."""
    from django.conf import settings

    timeout = float(settings.FOUNDRY_TIMEOUT_SECONDS)
    return DeploymentConfig(
        name="platform",
        endpoint=settings.FOUNDRY_ENDPOINT,
        deployment=settings.FOUNDRY_DEPLOYMENT,
        api_style=ApiStyle(settings.FOUNDRY_API_STYLE),
        api_version=settings.FOUNDRY_API_VERSION,
        auth_kind=AuthKind(settings.FOUNDRY_AUTH),
        api_key=Secret(settings.FOUNDRY_API_KEY) if settings.FOUNDRY_API_KEY else None,
        connect_timeout_seconds=float(settings.FOUNDRY_CONNECT_TIMEOUT_SECONDS),
        read_timeout_seconds=timeout,
        rpm=settings.FOUNDRY_RPM,
        tpm=settings.FOUNDRY_TPM,
        max_attempts=settings.FOUNDRY_MAX_ATTEMPTS,
        max_retry_seconds=float(settings.FOUNDRY_MAX_RETRY_SECONDS),
    )


# The settings of a deployment staff and code may change (the admin's form, the audit events of a change).
DEPLOYMENT_SETTINGS = (
    "name",
    "endpoint",
    "deployment",
    "api_style",
    "api_version",
    "auth_kind",
    "connect_timeout_seconds",
    "read_timeout_seconds",
    "rpm",
    "tpm",
    "max_attempts",
    "max_retry_seconds",
)
