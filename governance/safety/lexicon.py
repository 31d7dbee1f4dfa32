"""The local lexicon: a small, documented word list that stands in for a content classifier offline.

It is not a classifier and does not pretend to be one. It gives the local moderation backend and the
emulator's Content Safety endpoints the same predictable answers, so tests and offline runs exercise
every threshold without Azure:

1. Triggers: `cs-<category>-<severity>` anywhere in a text (`cs-violence-4`, `cs-self_harm-6`; `selfharm`
   and `self-harm` are accepted too) report that severity (0-7) for that category.
2. Words: the entries of `LEXICON` below, matched as whole words across case, Unicode normalisation,
   invisible characters and look-alike letters (`governance.safety.matching`), each with a category and a
   severity on the 0-7 scale.
3. Prompt attacks: the phrases of `ATTACK_PHRASES` make the prompt shield report an attack.

A text's severity per category is the highest of everything found in it.
"""

from __future__ import annotations

import re

from governance.safety.categories import CATEGORIES, MAX_SEVERITY, Category
from governance.safety.matching import prepared_terms, term_found
from governance.safety.screening import ScreenedText

TRIGGER = re.compile(r"(?<![\w-])cs-(hate|sexual|violence|self[_-]?harm)-([0-7])(?![\w-])", re.IGNORECASE)

# term -> (category, severity 0-7). Kept short on purpose; extend with care (tests rely on it).
LEXICON: dict[str, tuple[str, int]] = {
    # violence
    "gore": (Category.VIOLENCE, 6),
    "massacre": (Category.VIOLENCE, 6),
    "decapitated": (Category.VIOLENCE, 6),
    "bloodied": (Category.VIOLENCE, 4),
    "stabbing": (Category.VIOLENCE, 4),
    "brawl": (Category.VIOLENCE, 2),
    # hate
    "ethnic cleansing": (Category.HATE, 6),
    "racial slur": (Category.HATE, 6),
    "white supremacist": (Category.HATE, 4),
    "bigot": (Category.HATE, 2),
    # sexual
    "explicit nudity": (Category.SEXUAL, 6),
    "nude": (Category.SEXUAL, 4),
    "lingerie": (Category.SEXUAL, 2),
    # self-harm
    "suicide": (Category.SELF_HARM, 6),
    "self-harm": (Category.SELF_HARM, 6),
    "overdose": (Category.SELF_HARM, 4),
    "crash diet": (Category.SELF_HARM, 2),
}

ATTACK_PHRASES: tuple[str, ...] = (
    "ignore previous instructions",
    "ignore all previous instructions",
    "ignore your instructions",
    "disregard your rules",
    "developer mode",
    "jailbreak",
)


def lexicon_severities(text: str) -> dict[str, int]:
    """Severity 0-7 per category for `text`: the highest trigger or lexicon entry found."""
    severities = dict.fromkeys(CATEGORIES, 0)
    screened = ScreenedText.of(text or "")
    for match in TRIGGER.finditer(screened.folded):
        name = match.group(1).replace("-", "_")
        category = Category.SELF_HARM if name.startswith("self") else name
        severities[category] = max(severities[category], min(MAX_SEVERITY, int(match.group(2))))
    for term in prepared_terms(tuple(LEXICON)):
        category, severity = LEXICON[term.term]
        if severity > severities[category] and term_found(term, screened):
            severities[category] = severity
    return severities


def attack_detected(text: str) -> bool:
    screened = ScreenedText.of(text or "")
    return any(term_found(phrase, screened) for phrase in prepared_terms(ATTACK_PHRASES))
