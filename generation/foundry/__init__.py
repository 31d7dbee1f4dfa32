"""The platform's one way to talk to GPT-image-2 on Microsoft Foundry / Azure OpenAI.

The same client talks to Azure and to the local emulator: which one is configuration only
(`DeploymentConfig`, from settings or from a tenant's `Deployment` row).
"""

from generation.foundry.auth import ApiKeyAuth, BearerTokenAuth, StaticTokenProvider, TokenProvider
from generation.foundry.client import FoundryImageClient
from generation.foundry.config import ApiStyle, AuthKind, DeploymentConfig, Secret, platform_deployment_config
from generation.foundry.errors import (
    AuthenticationError,
    ContentFilteredError,
    DeploymentNotFoundError,
    FilterResult,
    FilterStage,
    FoundryError,
    InvalidRequestError,
    MalformedResponseError,
    RateLimitedError,
    TransientError,
    UnknownOutcomeError,
    UnreachableError,
)
from generation.foundry.results import ImageOutput, ImageResult, Usage

__all__ = [
    "ApiKeyAuth",
    "ApiStyle",
    "AuthKind",
    "AuthenticationError",
    "BearerTokenAuth",
    "ContentFilteredError",
    "DeploymentConfig",
    "DeploymentNotFoundError",
    "FilterResult",
    "FilterStage",
    "FoundryError",
    "FoundryImageClient",
    "ImageOutput",
    "ImageResult",
    "InvalidRequestError",
    "MalformedResponseError",
    "RateLimitedError",
    "Secret",
    "StaticTokenProvider",
    "TokenProvider",
    "TransientError",
    "UnknownOutcomeError",
    "UnreachableError",
    "Usage",
    "platform_deployment_config",
]
