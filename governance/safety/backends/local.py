"""The offline backend: the documented local lexicon for text and prompt attacks, no image classifier.

Images are reported as not analysed (`severities=None`), which the verdict turns into a flag: under the
`flagged_only` review rule an unscanned image waits for a person instead of being approved unseen.
"""

from __future__ import annotations

import time
from collections.abc import Sequence

from governance.safety.backends.base import ImageAnalysis, ShieldAnalysis, TextAnalysis
from governance.safety.categories import four_levels
from governance.safety.lexicon import attack_detected, lexicon_severities
from governance.safety.policy import SafetyPolicy


def _elapsed_ms(started: float) -> int:
    return int((time.perf_counter() - started) * 1000)


class LocalModerationBackend:
    name = "local"

    def analyze_text(self, text: str, *, policy: SafetyPolicy) -> TextAnalysis:
        started = time.perf_counter()
        severities = {category: four_levels(value) for category, value in lexicon_severities(text).items()}
        return TextAnalysis(severities=severities, latency_ms=_elapsed_ms(started))

    def analyze_image(self, data: bytes) -> ImageAnalysis:
        return ImageAnalysis(severities=None)

    def shield_prompt(self, user_prompt: str, documents: Sequence[str]) -> ShieldAnalysis:
        started = time.perf_counter()
        return ShieldAnalysis(
            user_prompt_attack=attack_detected(user_prompt),
            document_attacks=tuple(attack_detected(document) for document in documents),
            latency_ms=_elapsed_ms(started),
        )

    def close(self) -> None:
        pass
