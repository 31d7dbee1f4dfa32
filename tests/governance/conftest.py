"""Moderation against the Foundry emulator's Content Safety endpoints, through the platform's Azure client."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from governance.safety.backends.azure import AzureModerationBackend
from governance.safety.backends.azure_client import ContentSafetyClient


@pytest.fixture
def azure_moderation(settings, clean_emulator):
    """The API process moderates with the Azure backend, pointed at the emulator."""
    settings.MODERATION_BACKEND = "azure"
    settings.CONTENT_SAFETY_ENDPOINT = clean_emulator.base_url
    settings.CONTENT_SAFETY_KEY = clean_emulator.api_key
    return clean_emulator


@pytest.fixture
def azure_backend(clean_emulator) -> Iterator[AzureModerationBackend]:
    backend = AzureModerationBackend(
        ContentSafetyClient(endpoint=clean_emulator.base_url, api_key=clean_emulator.api_key, sleep=lambda s: None)
    )
    yield backend
    backend.close()
