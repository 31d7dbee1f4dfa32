"""Azure AI Content Safety's harm categories and severity scale, in the platform's spelling."""

from __future__ import annotations

from enum import StrEnum


class Category(StrEnum):
    HATE = "hate"
    SEXUAL = "sexual"
    VIOLENCE = "violence"
    SELF_HARM = "self_harm"


CATEGORIES: tuple[str, ...] = tuple(c.value for c in Category)

# The service's names in requests and in `categoriesAnalysis`.
AZURE_NAMES: dict[str, str] = {
    Category.HATE: "Hate",
    Category.SEXUAL: "Sexual",
    Category.VIOLENCE: "Violence",
    Category.SELF_HARM: "SelfHarm",
}
FROM_AZURE_NAME: dict[str, str] = {azure: ours for ours, azure in AZURE_NAMES.items()}

# `FourSeverityLevels`: what the image API always answers, and the scale thresholds are set on.
SEVERITY_LEVELS: tuple[int, ...] = (0, 2, 4, 6)
# Block at or above; 0 would block everything, so the strictest useful threshold is 2.
THRESHOLD_CHOICES: tuple[int, ...] = (2, 4, 6)
MAX_SEVERITY = 7  # `EightSeverityLevels` goes 0..7

# Azure OpenAI's content filter annotations name severities instead of numbers.
PROVIDER_SEVERITY_NAMES: dict[str, int] = {"safe": 0, "low": 2, "medium": 4, "high": 6}


def four_levels(severity: int) -> int:
    """0..7 onto 0, 2, 4, 6, as the service maps `EightSeverityLevels` onto `FourSeverityLevels`."""
    severity = max(0, min(MAX_SEVERITY, int(severity)))
    return severity - severity % 2


def category_from_provider(name: str) -> str | None:
    """`self_harm`, `SelfHarm`, `self-harm` -> `self_harm`; anything else (jailbreak, profanity) -> None."""
    normalised = name.strip().lower().replace("-", "_")
    if normalised == "selfharm":
        normalised = Category.SELF_HARM
    return normalised if normalised in CATEGORIES else None
