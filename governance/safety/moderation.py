"""Moderation at generation time: prompts before any spend, each output image after generation.

Both checks combine the platform's own blocklist matcher (authoritative: it matches across case and
Unicode normalisation in any script), the configured classifier backend and, for prompts, the prompt
shield, and judge the result against the tenant's thresholds (`governance.safety.verdicts`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from enum import StrEnum

from governance.safety.backends import ModerationBackend, ModerationError
from governance.safety.backends.cached import with_answer_cache
from governance.safety.matching import find_terms, pattern_occurs
from governance.safety.policy import ReviewRule, SafetyPolicy
from governance.safety.verdicts import BlocklistHit, Stage, Verdict, evaluate
from tenants.errors import ServiceError


class ModerationFailed(ServiceError):
    """A check that could not run: nothing is allowed through unchecked, the request fails instead."""

    status_code = 503
    code = "moderation_unavailable"

    @classmethod
    def from_error(cls, error: ModerationError) -> ModerationFailed:
        retry = "try again shortly" if error.retryable else "the moderation service refused the check"
        return cls(f"content moderation is unavailable ({retry}): {error}", field="moderation")


def blocklist_hits(*, policy: SafetyPolicy, texts: Mapping[str, str]) -> dict[str, list[BlocklistHit]]:
    """field -> the blocklist items found in its text (plain terms and regular expressions)."""
    by_text = {item.text: item for item in policy.terms}
    hits: dict[str, list[BlocklistHit]] = {name: [] for name in texts}
    for match in find_terms(terms=by_text, texts=texts):
        item = by_text[match.term]
        hits[match.field].append(BlocklistHit(item_id=item.id, field=match.field, regex=False, text=item.text))
    for name, text in texts.items():
        for item in policy.patterns:
            if pattern_occurs(policy.compiled(item), text or ""):
                hits[name].append(BlocklistHit(item_id=item.id, field=name, regex=True, text=item.text))
    return hits


def moderate_prompt(
    *,
    policy: SafetyPolicy,
    texts: Mapping[str, str],
    user_prompt: str,
    documents: Mapping[str, str],
    backend: ModerationBackend,
) -> list[Verdict]:
    """One verdict per text (`{"prompt": compiled prompt, "locales.ja": copy, ...}`), in order.

    `user_prompt` is what the requester wrote (the prompt shield judges it, not the brand's own prefix);
    `documents` maps a field to further requester text the shield judges as documents (locale copies).
    """
    # Repeated checks of the same text (the live plan, on every pause in typing) are answered from a cache of
    # the backend's analyses, kept per tenant and safety configuration (`governance.safety.backends.cached`).
    backend = with_answer_cache(backend, policy=policy)
    platform_hits = blocklist_hits(policy=policy, texts=texts)
    attacks: dict[str, bool] = {}
    shield_ms = 0
    if policy.prompt_shield:
        fields = list(documents)
        shield = backend.shield_prompt(user_prompt, [documents[name] for name in fields])
        shield_ms = shield.latency_ms
        attacks["prompt"] = shield.user_prompt_attack
        attacks.update(zip(fields, shield.document_attacks, strict=False))
    verdicts = []
    for name, text in texts.items():
        analysis = backend.analyze_text(text or "", policy=policy)
        hits = list(platform_hits[name])
        seen = {hit.item_id for hit in hits}
        hits += [
            BlocklistHit(item_id=h.item_id, field=name, regex=h.regex, text=h.text, source=h.source)
            for h in analysis.blocklist_hits
            if h.item_id not in seen
        ]
        verdicts.append(
            evaluate(
                stage=Stage.PROMPT,
                target=name,
                backend=backend.name,
                thresholds=policy.prompt_thresholds,
                severities=analysis.severities,
                blocklist_hits=hits,
                prompt_attack=attacks.get(name) if policy.prompt_shield else None,
                latency_ms=analysis.latency_ms + (shield_ms if name == "prompt" else 0),
                safety_config_version=policy.version,
            )
        )
    return verdicts


def moderate_image(*, policy: SafetyPolicy, data: bytes, target: str, backend: ModerationBackend) -> Verdict:
    analysis = backend.analyze_image(data)
    return evaluate(
        stage=Stage.OUTPUT,
        target=target,
        backend=backend.name,
        thresholds=policy.output_thresholds,
        severities=analysis.severities,
        latency_ms=analysis.latency_ms,
        safety_config_version=policy.version,
    )


def first_block_reason(verdicts: Sequence[Verdict]) -> tuple[Verdict, str] | None:
    for verdict in verdicts:
        if verdict.blocked:
            return verdict, verdict.reasons[0]
    return None


class SafetyDecision(StrEnum):
    """What moderation and the review rule decide about a new image: a value the asset library maps to a
    version status (`dam.lifecycle.initial_status`)."""

    QUARANTINE = "quarantine"  # blocked by moderation: kept for audit, never served
    REVIEW = "review"  # a person looks first
    CLEAR = "clear"  # nothing asks for a person


def safety_decision(
    *, output_decision: str, prompt_flagged: bool, review_rule: str, brand_review_required: bool
) -> SafetyDecision:
    """Where a new image stands: quarantined, waiting for a person, or clear.

    `flagged_only` sends an image to review when its output or the prompt it came from was flagged (a
    severity above 0, or an image no classifier looked at). A brand policy that requires review adds to
    the safety rule, never removes from it.
    """
    if output_decision == "block":
        return SafetyDecision.QUARANTINE
    if review_rule == ReviewRule.ALWAYS or brand_review_required:
        return SafetyDecision.REVIEW
    if review_rule == ReviewRule.FLAGGED_ONLY and (output_decision == "flag" or prompt_flagged):
        return SafetyDecision.REVIEW
    return SafetyDecision.CLEAR
