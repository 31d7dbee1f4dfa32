"""Deployment configuration: URL styles, validation, masked secrets, settings defaults."""

from __future__ import annotations

import copy
import logging
import pickle

import pytest
from django.test import override_settings

from generation.foundry.config import (
    DEFAULT_API_VERSION,
    ApiStyle,
    AuthKind,
    DeploymentConfig,
    Secret,
    platform_deployment_config,
)

KEY = "0123456789abcdef-secret-key"


def _config(**changes) -> DeploymentConfig:
    fields = {
        "name": "t",
        "endpoint": "https://res.openai.azure.com/",
        "deployment": "gpt-image-2",
        "api_key": Secret(KEY),
    }
    fields.update(changes)
    return DeploymentConfig(**fields)


def test_deployments_style_url_carries_deployment_and_api_version():
    config = _config()
    assert (
        config.images_url("generations")
        == "https://res.openai.azure.com/openai/deployments/gpt-image-2/images/generations"
    )
    assert config.images_url("edits").endswith("/openai/deployments/gpt-image-2/images/edits")
    assert config.query_params() == {"api-version": DEFAULT_API_VERSION}


def test_v1_style_url_has_no_deployment_segment_nor_api_version():
    config = _config(api_style="v1")
    assert config.api_style is ApiStyle.V1
    assert config.images_url("generations") == "https://res.openai.azure.com/openai/v1/images/generations"
    assert config.query_params() == {}


@pytest.mark.parametrize(
    "changes",
    [
        {"endpoint": "res.openai.azure.com"},
        {"endpoint": "https://user:pw@res.openai.azure.com"},
        {"endpoint": "https://res.openai.azure.com/?api-key=x"},
        {"deployment": ""},
        {"api_key": None},
        {"max_attempts": 0},
        {"read_timeout_seconds": 0},
        {"api_style": "v2"},
    ],
)
def test_invalid_configurations_are_refused(changes):
    with pytest.raises((ValueError, TypeError)):
        _config(**changes)


def test_entra_needs_no_key():
    assert _config(auth_kind="entra", api_key=None).auth_kind is AuthKind.ENTRA


def test_secret_never_shows_its_value():
    secret = Secret(KEY)
    config = _config()
    logged = logging.LogRecord("t", logging.INFO, __file__, 1, "key %s %r", (secret, secret), None).getMessage()
    for text in (repr(secret), str(secret), f"{secret}", f"{secret!r}", logged, repr(config), str(config)):
        assert KEY not in text
    assert secret.reveal() == KEY
    assert secret == Secret(KEY) and secret != Secret(KEY + "x")
    assert copy.deepcopy(secret).reveal() == KEY
    with pytest.raises(TypeError):
        pickle.dumps(secret)


def test_config_is_frozen():
    config = _config()
    with pytest.raises(AttributeError):
        config.endpoint = "https://elsewhere"


@override_settings(
    FOUNDRY_ENDPOINT="https://contoso.openai.azure.com",
    FOUNDRY_DEPLOYMENT="img-prod",
    FOUNDRY_API_STYLE="v1",
    FOUNDRY_AUTH="entra",
    FOUNDRY_API_KEY="",
    FOUNDRY_TIMEOUT_SECONDS=240,
    FOUNDRY_RPM=9,
    FOUNDRY_TPM=90_000,
    FOUNDRY_MAX_ATTEMPTS=2,
)
def test_platform_default_follows_settings():
    config = platform_deployment_config()
    assert config.images_url("generations") == "https://contoso.openai.azure.com/openai/v1/images/generations"
    assert config.auth_kind is AuthKind.ENTRA and config.api_key is None
    assert (config.read_timeout_seconds, config.rpm, config.tpm, config.max_attempts) == (240, 9, 90_000, 2)
