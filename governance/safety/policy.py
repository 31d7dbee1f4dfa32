"""A safety configuration as plain values: what moderation reads, and the rules for valid values.

`SafetyPolicy` is the immutable snapshot a check runs under (built from one `SafetyConfig` version, or
from a preset when a tenant has none yet); `clean_policy_values` validates and normalises the editable
fields, raising Django's ValidationError keyed by the field (`prompt_thresholds.hate`, `blocklist[2]`).
"""

from __future__ import annotations

import hashlib
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from django.core.exceptions import ValidationError

from governance.safety.categories import CATEGORIES, THRESHOLD_CHOICES
from governance.safety.matching import MAX_PATTERN_CHARS, compile_pattern, fold
from governance.safety.screening import visible

MAX_BLOCKLIST_ITEMS = 10_000  # Azure's limit per blocklist


class ReviewRule(StrEnum):
    ALWAYS = "always"
    FLAGGED_ONLY = "flagged_only"
    NEVER = "never"


class ProviderModeration(StrEnum):
    """The image API's own `moderation` parameter: `auto` is the service's standard, `low` less strict."""

    AUTO = "auto"
    LOW = "low"


# Higher is stricter.
REVIEW_STRICTNESS = {ReviewRule.NEVER: 0, ReviewRule.FLAGGED_ONLY: 1, ReviewRule.ALWAYS: 2}
MODERATION_STRICTNESS = {ProviderModeration.LOW: 0, ProviderModeration.AUTO: 1}


@dataclass(frozen=True)
class BlocklistItem:
    """A custom blocklist entry: a plain term or a regular expression. `id` names it without repeating it."""

    id: str
    text: str
    regex: bool = False
    description: str = ""

    @staticmethod
    def item_id(text: str, regex: bool) -> str:
        # Stable across versions and processes: the same entry keeps its id when other entries change.
        basis = ("re:" if regex else "term:") + (text if regex else fold(text))
        return "bl-" + hashlib.sha256(basis.encode("utf-8")).hexdigest()[:10]

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.id, "text": self.text, "regex": self.regex, "description": self.description}

    @classmethod
    def from_dict(cls, raw: Mapping[str, Any]) -> BlocklistItem:
        text, regex = str(raw["text"]), bool(raw.get("regex", False))
        return cls(
            id=str(raw.get("id") or cls.item_id(text, regex)),
            text=text,
            regex=regex,
            description=str(raw.get("description") or ""),
        )


@dataclass(frozen=True)
class SafetyPolicy:
    version: int  # 0: a preset's defaults, not yet saved for the tenant
    preset: str
    prompt_thresholds: Mapping[str, int]
    output_thresholds: Mapping[str, int]
    blocklist: tuple[BlocklistItem, ...] = ()
    prompt_shield: bool = True
    provider_moderation: str = ProviderModeration.AUTO
    review_rule: str = ReviewRule.FLAGGED_ONLY
    tenant_id: int | None = None
    _patterns: dict = field(default_factory=dict, compare=False, repr=False)

    @property
    def terms(self) -> tuple[BlocklistItem, ...]:
        return tuple(item for item in self.blocklist if not item.regex)

    @property
    def patterns(self) -> tuple[BlocklistItem, ...]:
        return tuple(item for item in self.blocklist if item.regex)

    def compiled(self, item: BlocklistItem):
        if item.id not in self._patterns:
            self._patterns[item.id] = compile_pattern(item.text)
        return self._patterns[item.id]

    def same_rules_as(self, other: SafetyPolicy) -> bool:
        """Whether both judge alike (everything but the version number)."""
        return (
            self.preset,
            dict(self.prompt_thresholds),
            dict(self.output_thresholds),
            self.blocklist,
            self.prompt_shield,
            self.provider_moderation,
            self.review_rule,
        ) == (
            other.preset,
            dict(other.prompt_thresholds),
            dict(other.output_thresholds),
            other.blocklist,
            other.prompt_shield,
            other.provider_moderation,
            other.review_rule,
        )

    @property
    def blocklist_fingerprint(self) -> str:
        """Changes whenever the blocklist's content does (names the list synced to a provider)."""
        basis = "\n".join(f"{int(i.regex)}:{i.text}" for i in sorted(self.blocklist, key=lambda i: i.id))
        return hashlib.sha256(basis.encode("utf-8")).hexdigest()[:12]


def _clean_thresholds(name: str, raw: Any) -> dict[str, int]:
    if not isinstance(raw, Mapping):
        raise ValidationError({name: f"an object with a threshold per category ({', '.join(CATEGORIES)})"})
    unknown = sorted(set(raw) - set(CATEGORIES))
    if unknown:
        raise ValidationError({f"{name}.{unknown[0]}": f"not a category; use {', '.join(CATEGORIES)}"})
    missing = sorted(set(CATEGORIES) - set(raw))
    if missing:
        raise ValidationError({f"{name}.{missing[0]}": "a threshold is required for every category"})
    cleaned = {}
    for category in CATEGORIES:
        value = raw[category]
        if isinstance(value, bool) or value not in THRESHOLD_CHOICES:
            choices = ", ".join(map(str, THRESHOLD_CHOICES))
            raise ValidationError({f"{name}.{category}": f"must be one of {choices} (block at or above)"})
        cleaned[category] = int(value)
    return cleaned


def _clean_blocklist(raw: Any) -> list[dict[str, Any]]:
    if not isinstance(raw, list):
        raise ValidationError({"blocklist": 'a list of {"text", "regex"?, "description"?} items'})
    if len(raw) > MAX_BLOCKLIST_ITEMS:
        raise ValidationError({"blocklist": f"at most {MAX_BLOCKLIST_ITEMS} items"})
    items: dict[str, BlocklistItem] = {}
    for index, raw_entry in enumerate(raw):
        key = f"blocklist[{index}]"
        entry = {"text": raw_entry} if isinstance(raw_entry, str) else raw_entry
        if not isinstance(entry, Mapping) or not isinstance(entry.get("text"), str):
            raise ValidationError({key: 'an item is {"text": ..., "regex": false, "description": ""}'})
        regex = entry.get("regex", False)
        if not isinstance(regex, bool):
            raise ValidationError({f"{key}.regex": "must be true or false"})
        text = unicodedata.normalize("NFC", entry["text"]).strip()
        if regex:
            try:
                compile_pattern(text)
            except ValueError as exc:
                raise ValidationError({f"{key}.text": str(exc)}) from None
        elif not visible(text).strip():
            raise ValidationError({f"{key}.text": "must not be blank (invisible characters do not count)"})
        elif len(text) > MAX_PATTERN_CHARS:
            raise ValidationError({f"{key}.text": f"at most {MAX_PATTERN_CHARS} characters"})
        description = str(entry.get("description") or "")[:200]
        item = BlocklistItem(BlocklistItem.item_id(text, regex), text, regex, description)
        items.setdefault(item.id, item)  # the same term twice (in any normalisation) is one item
    return [item.to_dict() for item in items.values()]


def clean_policy_values(values: dict[str, Any]) -> dict[str, Any]:
    """Validate and normalise the editable fields of a safety configuration (all of them present)."""
    from governance.safety.presets import PRESETS  # presets are built from this module's types

    if values["preset"] not in PRESETS:
        raise ValidationError({"preset": f"must be one of {', '.join(PRESETS)}"})
    values["prompt_thresholds"] = _clean_thresholds("prompt_thresholds", values["prompt_thresholds"])
    values["output_thresholds"] = _clean_thresholds("output_thresholds", values["output_thresholds"])
    values["blocklist"] = _clean_blocklist(values["blocklist"])
    if not isinstance(values["prompt_shield"], bool):
        raise ValidationError({"prompt_shield": "must be true or false"})
    if values["provider_moderation"] not in ProviderModeration.__members__.values():
        raise ValidationError({"provider_moderation": f"must be one of {', '.join(ProviderModeration)}"})
    if values["review_rule"] not in ReviewRule.__members__.values():
        raise ValidationError({"review_rule": f"must be one of {', '.join(ReviewRule)}"})
    return values
