"""The verdict model: what one moderation check decided and why, in one shape for every source.

A verdict comes from the platform's checks (blocklists, the classifier backend, the prompt shield) or
from the image provider refusing a prompt or an output (`provider_refusal_verdict`). Jobs and versions
store verdicts as dicts (`to_dict`); the API shows them with blocklist terms removed for callers who may
not see them (`redact`).

    {"stage": "prompt" | "output", "target": "prompt" | "locales.ja" | "output 0",
     "decision": "pass" | "flag" | "block", "backend": "local" | "azure" | "provider", "latency_ms": 12,
     "categories": {"violence": {"severity": 4, "threshold": 4, "blocked": true}, ...},
     "blocklist_matches": [{"item_id": "bl-…", "field": "locales.ja", "regex": false, "text": "…",
                            "source": "platform" | "provider"}],
     "prompt_attack": false | true | null, "analysed": true, "reasons": ["…"], "safety_config_version": 3}

Decisions: `block` when a blocklist item matches, a prompt attack is detected, or a category's severity is
at or above its threshold; otherwise `flag` when any severity is above 0 or the content was not analysed
by a classifier; otherwise `pass`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from governance.safety.categories import CATEGORIES, PROVIDER_SEVERITY_NAMES, category_from_provider


class Decision(StrEnum):
    PASS = "pass"
    FLAG = "flag"
    BLOCK = "block"


class Stage(StrEnum):
    PROMPT = "prompt"
    OUTPUT = "output"


@dataclass(frozen=True)
class BlocklistHit:
    item_id: str
    field: str
    regex: bool = False
    text: str = ""  # the item as configured: shown only to callers allowed to see blocklists
    source: str = "platform"  # the platform's matcher, or the provider's blocklist (Azure)

    def to_dict(self) -> dict[str, Any]:
        return {
            "item_id": self.item_id,
            "field": self.field,
            "regex": self.regex,
            "text": self.text,
            "source": self.source,
        }


@dataclass(frozen=True)
class Verdict:
    stage: str
    target: str
    decision: str
    backend: str
    latency_ms: int = 0
    severities: Mapping[str, int] = field(default_factory=dict)
    thresholds: Mapping[str, int] = field(default_factory=dict)
    blocked_categories: tuple[str, ...] = ()
    blocklist_hits: tuple[BlocklistHit, ...] = ()
    prompt_attack: bool | None = None
    analysed: bool = True
    reasons: tuple[str, ...] = ()
    safety_config_version: int | None = None

    @property
    def blocked(self) -> bool:
        return self.decision == Decision.BLOCK

    @property
    def flagged(self) -> bool:
        return self.decision == Decision.FLAG

    def to_dict(self) -> dict[str, Any]:
        return {
            "stage": self.stage,
            "target": self.target,
            "decision": self.decision,
            "backend": self.backend,
            "latency_ms": self.latency_ms,
            "categories": {
                category: {
                    "severity": self.severities.get(category),
                    "threshold": self.thresholds.get(category),
                    "blocked": category in self.blocked_categories,
                }
                for category in CATEGORIES
            },
            "blocklist_matches": [hit.to_dict() for hit in self.blocklist_hits],
            "prompt_attack": self.prompt_attack,
            "analysed": self.analysed,
            "reasons": list(self.reasons),
            "safety_config_version": self.safety_config_version,
        }


def evaluate(
    *,
    stage: str,
    target: str,
    backend: str,
    thresholds: Mapping[str, int],
    severities: Mapping[str, int] | None,
    blocklist_hits: Iterable[BlocklistHit] = (),
    prompt_attack: bool | None = None,
    latency_ms: int = 0,
    safety_config_version: int | None = None,
) -> Verdict:
    """Judge one text or image against the thresholds. `severities=None`: no classifier looked at it."""
    hits = tuple(blocklist_hits)
    reasons = [
        f"blocklist item {hit.item_id}{' (regular expression)' if hit.regex else ''} matched {hit.field}"
        for hit in hits
    ]
    if prompt_attack:
        reasons.append("prompt attack detected by the prompt shield")
    blocked_categories = []
    flagged = severities is None
    for category in CATEGORIES:
        severity = (severities or {}).get(category, 0)
        threshold = thresholds[category]
        if severity >= threshold:
            blocked_categories.append(category)
            reasons.append(f"{category} severity {severity} at or above the {stage} threshold {threshold}")
        elif severity > 0:
            flagged = True
            reasons.append(f"{category} severity {severity} below the {stage} threshold {threshold}")
    if severities is None:
        reasons.append(f"the {backend} backend has no classifier for this content: it was not analysed")
    if hits or prompt_attack or blocked_categories:
        decision = Decision.BLOCK
    else:
        decision = Decision.FLAG if flagged else Decision.PASS
    return Verdict(
        stage=stage,
        target=target,
        decision=decision,
        backend=backend,
        latency_ms=latency_ms,
        severities=dict(severities or {}),
        thresholds=dict(thresholds),
        blocked_categories=tuple(blocked_categories),
        blocklist_hits=hits,
        prompt_attack=prompt_attack,
        analysed=severities is not None,
        reasons=tuple(reasons),
        safety_config_version=safety_config_version,
    )


def provider_refusal_verdict(
    *,
    stage: str,
    target: str,
    results: Iterable[tuple[str, bool, str | None]],
    thresholds: Mapping[str, int],
    provider_request_id: str | None = None,
    safety_config_version: int | None = None,
) -> Verdict:
    """The image provider refused (`content_filter` / `moderation_blocked`): always a block.

    `results` are (category, filtered, severity name) as the provider annotated them; categories outside
    the four harm categories (jailbreak, profanity, custom blocklists) are kept as reasons.
    """
    severities: dict[str, int] = {}
    blocked, reasons = [], []
    for name, filtered, severity_name in results:
        category = category_from_provider(name)
        severity = PROVIDER_SEVERITY_NAMES.get((severity_name or "").lower())
        if category is None:
            if filtered:
                reasons.append(f"the provider filtered {name}")
            continue
        if severity is not None:
            severities[category] = severity
        if filtered:
            blocked.append(category)
            reasons.append(f"the provider filtered {category} (severity {severity_name or 'unknown'})")
    if not reasons:
        reasons.append("the provider refused the request without naming a category")
    if provider_request_id:
        reasons.append(f"provider request {provider_request_id}")
    return Verdict(
        stage=stage,
        target=target,
        decision=Decision.BLOCK,
        backend="provider",
        severities=severities,
        thresholds=dict(thresholds),
        blocked_categories=tuple(blocked),
        reasons=tuple(reasons),
        analysed=True,
        safety_config_version=safety_config_version,
    )


def redact(verdicts: Iterable[Mapping[str, Any]], *, reveal_terms: bool) -> list[dict[str, Any]]:
    """Stored verdicts for display: without the blocklist items' text unless the caller may see it."""
    shown = []
    for verdict in verdicts:
        copy = dict(verdict)
        if not reveal_terms:
            copy["blocklist_matches"] = [
                {key: value for key, value in match.items() if key != "text"}
                for match in verdict.get("blocklist_matches", [])
            ]
        shown.append(copy)
    return shown
