"""Entra ID token caching around an azure-core TokenCredential (the credential is Azure's, so it is stood in for)."""

from __future__ import annotations

import importlib.util
import time

import pytest
from azure.core.credentials import AccessToken

from generation.foundry.auth import TOKEN_REFRESH_MARGIN_SECONDS, AzureCredentialTokenProvider
from generation.foundry.config import COGNITIVE_SERVICES_SCOPE
from generation.foundry.errors import AuthenticationError


class IssuingCredential:
    """Issues numbered tokens that expire `lifetime` seconds from now, recording the scopes asked for."""

    def __init__(self, lifetime: float) -> None:
        self.lifetime = lifetime
        self.scopes: list[str] = []

    def get_token(self, *scopes: str, **kwargs) -> AccessToken:
        self.scopes.extend(scopes)
        return AccessToken(f"token-{len(self.scopes)}", int(time.time() + self.lifetime))


def test_token_is_cached_until_near_expiry_and_asked_for_the_cognitive_services_scope():
    credential = IssuingCredential(lifetime=3600)
    provider = AzureCredentialTokenProvider(credential)
    assert provider.get_token().reveal() == "token-1"
    assert provider.get_token().reveal() == "token-1"
    assert credential.scopes == [COGNITIVE_SERVICES_SCOPE]
    assert provider.get_token(force_refresh=True).reveal() == "token-2"


def test_a_token_inside_the_refresh_margin_is_replaced():
    credential = IssuingCredential(lifetime=TOKEN_REFRESH_MARGIN_SECONDS - 10)
    provider = AzureCredentialTokenProvider(credential)
    assert provider.get_token().reveal() == "token-1"
    assert provider.get_token().reveal() == "token-2"


def test_credential_failures_become_authentication_errors():
    class Failing:
        def get_token(self, *scopes, **kwargs):
            raise RuntimeError("no managed identity endpoint")

    with pytest.raises(AuthenticationError) as caught:
        AzureCredentialTokenProvider(Failing()).get_token()
    assert not caught.value.retryable and "RuntimeError" in str(caught.value)


@pytest.mark.skipif(importlib.util.find_spec("azure.identity") is not None, reason="azure-identity is installed")
def test_without_azure_identity_the_error_says_what_to_install():
    with pytest.raises(AuthenticationError, match="azure-identity"):
        AzureCredentialTokenProvider().get_token()
