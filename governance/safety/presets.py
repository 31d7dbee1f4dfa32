"""Sector presets: where a tenant's safety configuration starts, and how loose it may ever be.

Each preset has defaults (a new configuration's values) and limits (the loosest values a tenant may
choose). The regulated presets' limits are their defaults: a `financial_services`, `healthcare` or
`childrens_media` tenant may only tighten (lower thresholds, prompt shield on, stricter review rule,
`auto` provider moderation); the last two review everything and block at the lowest severity. The
`general` preset starts at the service's usual medium threshold and flagged-only review, and its limits
are the platform's floor (thresholds up to 6, no review, the provider's `low` moderation).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from governance.safety.categories import CATEGORIES
from governance.safety.policy import (
    MODERATION_STRICTNESS,
    REVIEW_STRICTNESS,
    ProviderModeration,
    ReviewRule,
    SafetyPolicy,
)


@dataclass(frozen=True)
class Limits:
    """The loosest values a preset allows."""

    prompt_thresholds: dict[str, int]
    output_thresholds: dict[str, int]
    prompt_shield_required: bool
    provider_moderation: str
    review_rule: str

    def to_dict(self) -> dict[str, Any]:
        return {
            "prompt_thresholds": dict(self.prompt_thresholds),
            "output_thresholds": dict(self.output_thresholds),
            "prompt_shield_required": self.prompt_shield_required,
            "provider_moderation": self.provider_moderation,
            "review_rule": self.review_rule,
        }


@dataclass(frozen=True)
class SectorPreset:
    name: str
    label: str
    prompt_thresholds: dict[str, int]
    output_thresholds: dict[str, int]
    prompt_shield: bool
    review_rule: str
    provider_moderation: str = ProviderModeration.AUTO
    limits: Limits | None = field(default=None)

    def __post_init__(self) -> None:
        if self.limits is None:  # regulated presets: the defaults are the limits
            object.__setattr__(
                self,
                "limits",
                Limits(
                    prompt_thresholds=dict(self.prompt_thresholds),
                    output_thresholds=dict(self.output_thresholds),
                    prompt_shield_required=self.prompt_shield,
                    provider_moderation=self.provider_moderation,
                    review_rule=self.review_rule,
                ),
            )

    def defaults(self) -> dict[str, Any]:
        return {
            "preset": self.name,
            "prompt_thresholds": dict(self.prompt_thresholds),
            "output_thresholds": dict(self.output_thresholds),
            "blocklist": [],
            "prompt_shield": self.prompt_shield,
            "provider_moderation": self.provider_moderation,
            "review_rule": self.review_rule,
        }

    def policy(self, *, tenant_id: int | None = None) -> SafetyPolicy:
        """The preset's defaults as an unsaved policy (version 0), for a tenant without a configuration."""
        return SafetyPolicy(
            version=0,
            preset=self.name,
            prompt_thresholds=dict(self.prompt_thresholds),
            output_thresholds=dict(self.output_thresholds),
            prompt_shield=self.prompt_shield,
            provider_moderation=self.provider_moderation,
            review_rule=self.review_rule,
            tenant_id=tenant_id,
        )

    def to_dict(self) -> dict[str, Any]:
        return {**self.defaults(), "label": self.label, "limits": self.limits.to_dict()}


def _all(value: int) -> dict[str, int]:
    return dict.fromkeys(CATEGORIES, value)


PRESETS: dict[str, SectorPreset] = {
    preset.name: preset
    for preset in (
        SectorPreset(
            name="general",
            label="General brands",
            prompt_thresholds=_all(4),
            output_thresholds=_all(4),
            prompt_shield=True,
            review_rule=ReviewRule.FLAGGED_ONLY,
            limits=Limits(
                prompt_thresholds=_all(6),
                output_thresholds=_all(6),
                prompt_shield_required=False,
                provider_moderation=ProviderModeration.LOW,
                review_rule=ReviewRule.NEVER,
            ),
        ),
        SectorPreset(
            name="financial_services",
            label="Financial services",
            prompt_thresholds={"hate": 2, "sexual": 2, "violence": 4, "self_harm": 2},
            output_thresholds={"hate": 2, "sexual": 2, "violence": 4, "self_harm": 2},
            prompt_shield=True,
            review_rule=ReviewRule.FLAGGED_ONLY,
        ),
        SectorPreset(
            name="healthcare",
            label="Healthcare",
            prompt_thresholds=_all(2),
            output_thresholds=_all(2),
            prompt_shield=True,
            review_rule=ReviewRule.ALWAYS,
        ),
        SectorPreset(
            name="childrens_media",
            label="Children's media",
            prompt_thresholds=_all(2),
            output_thresholds=_all(2),
            prompt_shield=True,
            review_rule=ReviewRule.ALWAYS,
        ),
    )
}
DEFAULT_PRESET = "general"


def loosenings(values: dict[str, Any], preset: SectorPreset) -> dict[str, str]:
    """field -> why, for every value looser than `preset` allows (empty when the values are within its limits)."""
    limits = preset.limits
    problems: dict[str, str] = {}
    rule = f"the {preset.name} preset allows at most"
    for name in ("prompt_thresholds", "output_thresholds"):
        bound = getattr(limits, name)
        for category in CATEGORIES:
            if values[name][category] > bound[category]:
                problems[f"{name}.{category}"] = f"{rule} {bound[category]}; a tenant may only tighten its preset"
    if limits.prompt_shield_required and not values["prompt_shield"]:
        problems["prompt_shield"] = f"the {preset.name} preset requires prompt-attack detection"
    if MODERATION_STRICTNESS[values["provider_moderation"]] < MODERATION_STRICTNESS[limits.provider_moderation]:
        problems["provider_moderation"] = (
            f"{rule} '{limits.provider_moderation}' provider moderation; '{values['provider_moderation']}' is looser"
        )
    if REVIEW_STRICTNESS[values["review_rule"]] < REVIEW_STRICTNESS[limits.review_rule]:
        problems["review_rule"] = f"the {preset.name} preset requires review rule '{limits.review_rule}' or stricter"
    return problems


def _limits_as_values(limits: Limits) -> dict[str, Any]:
    return {
        "prompt_thresholds": limits.prompt_thresholds,
        "output_thresholds": limits.output_thresholds,
        "prompt_shield": limits.prompt_shield_required,
        "provider_moderation": limits.provider_moderation,
        "review_rule": limits.review_rule,
    }


def preset_is_at_least_as_strict(new: SectorPreset, old: SectorPreset) -> bool:
    """Moving to `new` never allows anything `old` forbade."""
    return not loosenings(_limits_as_values(new.limits), old)


def tighten_to(values: dict[str, Any], preset: SectorPreset) -> dict[str, Any]:
    """The values moved onto `preset`: every field within its limits, nothing loosened."""
    limits = preset.limits
    tightened = dict(values)
    for name in ("prompt_thresholds", "output_thresholds"):
        bound = getattr(limits, name)
        tightened[name] = {c: min(values[name][c], bound[c]) for c in CATEGORIES}
    tightened["prompt_shield"] = values["prompt_shield"] or limits.prompt_shield_required
    if MODERATION_STRICTNESS[values["provider_moderation"]] < MODERATION_STRICTNESS[limits.provider_moderation]:
        tightened["provider_moderation"] = limits.provider_moderation
    if REVIEW_STRICTNESS[values["review_rule"]] < REVIEW_STRICTNESS[limits.review_rule]:
        tightened["review_rule"] = limits.review_rule
    return tightened
