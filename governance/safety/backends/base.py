"""The interface every moderation backend implements, and the errors it raises."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from governance.safety.policy import SafetyPolicy
from governance.safety.verdicts import BlocklistHit


class ModerationError(Exception):
    """The moderation service refused the call (bad request, bad credentials): retrying will not help."""

    retryable = False

    def __init__(self, message: str, *, status_code: int | None = None, code: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.status_code = status_code
        self.code = code

    def __str__(self) -> str:
        details = ", ".join(d for d in (f"HTTP {self.status_code}" if self.status_code else "", self.code or "") if d)
        return f"{self.message} ({details})" if details else self.message


class ModerationUnavailable(ModerationError):
    """Throttled, failing or unreachable after the client's bounded retries: try again later."""

    retryable = True


@dataclass(frozen=True)
class TextAnalysis:
    severities: dict[str, int]  # category -> 0, 2, 4 or 6
    blocklist_hits: tuple[BlocklistHit, ...] = ()  # matches reported by the provider's own blocklists
    latency_ms: int = 0


@dataclass(frozen=True)
class ImageAnalysis:
    severities: dict[str, int] | None  # None: the backend has no image classifier
    latency_ms: int = 0


@dataclass(frozen=True)
class ShieldAnalysis:
    user_prompt_attack: bool
    document_attacks: tuple[bool, ...] = ()
    latency_ms: int = 0


class ModerationBackend(Protocol):
    name: str

    def analyze_text(self, text: str, *, policy: SafetyPolicy) -> TextAnalysis: ...

    def analyze_image(self, data: bytes) -> ImageAnalysis: ...

    def shield_prompt(self, user_prompt: str, documents: Sequence[str]) -> ShieldAnalysis: ...

    def close(self) -> None: ...
