"""Moderation backends behind one interface (`ModerationBackend`), chosen by `MODERATION_BACKEND`:

- `local`: the documented lexicon (`governance.safety.lexicon`), offline, no image classifier;
- `azure`: Azure AI Content Safety over httpx (`CONTENT_SAFETY_ENDPOINT`, `CONTENT_SAFETY_KEY`), or the
  Foundry emulator's Content Safety endpoints, which speak the same protocol.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from django.conf import settings

from governance.safety.backends.base import (
    ImageAnalysis,
    ModerationBackend,
    ModerationError,
    ModerationUnavailable,
    ShieldAnalysis,
    TextAnalysis,
)

__all__ = [
    "ImageAnalysis",
    "ModerationBackend",
    "ModerationError",
    "ModerationUnavailable",
    "ShieldAnalysis",
    "TextAnalysis",
    "build_backend",
    "moderation_backend",
]


def build_backend(name: str | None = None) -> ModerationBackend:
    """A new backend as configured (its own connection pool; close it when done)."""
    name = name or settings.MODERATION_BACKEND
    if name == "local":
        from governance.safety.backends.local import LocalModerationBackend

        return LocalModerationBackend()
    if name == "azure":
        from governance.safety.backends.azure import AzureModerationBackend
        from governance.safety.backends.azure_client import ContentSafetyClient

        return AzureModerationBackend(
            ContentSafetyClient(
                endpoint=settings.CONTENT_SAFETY_ENDPOINT,
                api_key=settings.CONTENT_SAFETY_KEY,
                api_version=settings.CONTENT_SAFETY_API_VERSION,
                timeout_seconds=settings.CONTENT_SAFETY_TIMEOUT_SECONDS,
                max_attempts=settings.CONTENT_SAFETY_MAX_ATTEMPTS,
            )
        )
    raise ValueError(f"unknown moderation backend {name!r}; use local or azure")


@contextmanager
def moderation_backend(name: str | None = None) -> Iterator[ModerationBackend]:
    backend = build_backend(name)
    try:
        yield backend
    finally:
        backend.close()
