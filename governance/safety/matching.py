"""Finding terms and patterns in text in any script, ignoring case and Unicode normalisation.

Shared by the brand policy's banned terms (`generation.prompting.find_banned_terms`), the safety
configuration's blocklists and the local lexicon, so every screen treats text the same way:

- Text and terms are folded with NFKC + case folding: composed or decomposed accents, full-width Latin,
  half-width kana and upper/lower case all compare equal.
- A term in a script written with spaces between words (Latin, Devanagari, Bengali...) must occur as a
  whole word; a term containing characters of a script written without spaces (Chinese, Japanese,
  Thai...) or Hangul (Korean attaches particles to the noun: 싸구려를) matches anywhere.
- A regular expression is searched case-insensitively in the folded text and in the NFKC text (a pattern
  spelling `ß` still finds `ß` although case folding turns it into `ss`). Patterns run on the `regex`
  engine with a time limit: one that backtracks catastrophically on repetitive text (`(a|aa)+$`) is refused
  when saved, and a search that still runs out of time counts as a match (a safety screen fails closed).
"""

from __future__ import annotations

import logging
import unicodedata
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

import regex

logger = logging.getLogger(__name__)
MAX_PATTERN_CHARS = 128  # Azure's limit for one blocklist item
# A prompt and its copy are a few kB: an honest pattern answers in microseconds; the limits are
# generous so that a busy machine never passes for a slow pattern.
SEARCH_TIMEOUT_SECONDS = 0.25
PROBE_TIMEOUT_SECONDS = 0.2
PROBE_LENGTH = 4000


@dataclass(frozen=True)
class TermMatch:
    term: str  # as the list spells it
    field: str  # the key of the text it was found in


def fold(text: str) -> str:
    # NFKC before case folding so full-width letters fold; again after, as case folding can un-normalise.
    return unicodedata.normalize("NFKC", unicodedata.normalize("NFKC", text).casefold())


def find_terms(*, terms: Iterable[str], texts: Mapping[str, str]) -> list[TermMatch]:
    """Every (term, field) where a term occurs in a text, in field order then term order."""
    folded_terms: dict[str, str] = {}
    for term in terms:
        folded = fold(term).strip()
        if folded:
            folded_terms.setdefault(folded, term)
    matches = []
    for field_name, text in texts.items():
        folded_text = fold(text or "")
        matches += [
            TermMatch(term=term, field=field_name)
            for folded, term in folded_terms.items()
            if term_occurs(folded, folded_text)
        ]
    return matches


def term_occurs(term: str, text: str) -> bool:
    """Whether the folded `term` occurs in the folded `text` (whole words for spaced scripts)."""
    if not term:
        return False
    if any(_is_unspaced(char) for char in term):
        return term in text
    start = 0
    while (index := text.find(term, start)) >= 0:
        end = index + len(term)
        left_ok = not _is_word_char(term[0]) or index == 0 or not _is_word_char(text[index - 1])
        right_ok = not _is_word_char(term[-1]) or end == len(text) or not _is_word_char(text[end])
        if left_ok and right_ok:
            return True
        start = index + 1
    return False


def compile_pattern(pattern: str) -> regex.Pattern[str]:
    """A blocklist regular expression, NFKC-normalised (not case-folded: `\\D` must stay `\\D`).

    Raises ValueError naming the problem for an empty, too long, invalid or catastrophically slow pattern.
    """
    normalised = unicodedata.normalize("NFKC", pattern).strip()
    if not normalised:
        raise ValueError("the pattern is empty")
    if len(normalised) > MAX_PATTERN_CHARS:
        raise ValueError(f"at most {MAX_PATTERN_CHARS} characters")
    try:
        compiled = regex.compile(normalised, regex.IGNORECASE | regex.VERSION0)
    except regex.error as exc:
        raise ValueError(f"not a valid regular expression: {exc}") from None
    if compiled.search(""):
        raise ValueError("the pattern matches empty text, so it would block everything")
    for probe in _probes(normalised):
        try:
            compiled.search(probe, timeout=PROBE_TIMEOUT_SECONDS)
        except TimeoutError:
            raise ValueError(
                "the pattern is too slow on repetitive text (catastrophic backtracking, as in (a|aa)+): "
                "avoid nested or overlapping repetition"
            ) from None
    return compiled


def _probes(pattern: str) -> list[str]:
    """Long runs of each character the pattern names, then a character that makes the match fail:
    where a backtracking pattern explodes."""
    characters = sorted({c for c in pattern if c.isalnum()} | {"a", "0", " "})
    # The pattern's own characters after the failing one too: an engine that first looks for a
    # required literal (`z` in `(\d|\d\d)+z`) must still be made to try.
    tail = "\x00" + "".join(characters)
    return [c * PROBE_LENGTH + tail for c in characters] + ["ab" * (PROBE_LENGTH // 2) + tail]


def pattern_occurs(pattern: regex.Pattern[str], text: str) -> bool:
    try:
        return bool(
            pattern.search(fold(text), timeout=SEARCH_TIMEOUT_SECONDS)
            or pattern.search(unicodedata.normalize("NFKC", text), timeout=SEARCH_TIMEOUT_SECONDS)
        )
    except TimeoutError:
        logger.warning(
            "blocklist pattern %r ran out of time on %d characters: counted as a match", pattern.pattern, len(text)
        )
        return True


# Scripts written without spaces between words, plus Hangul (see the module docstring).
_UNSPACED_RANGES = (
    (0x0E00, 0x0EFF),  # Thai, Lao
    (0x1000, 0x109F),  # Myanmar
    (0x1100, 0x11FF),  # Hangul Jamo
    (0x1780, 0x17FF),  # Khmer
    (0x2E80, 0x2FDF),  # CJK radicals
    (0x3005, 0x3007),  # ideographic iteration mark, closing mark, number zero
    (0x3040, 0x31FF),  # Hiragana, Katakana, Bopomofo, Hangul compatibility jamo, Katakana extensions
    (0x3400, 0x4DBF),  # CJK extension A
    (0x4E00, 0x9FFF),  # CJK unified ideographs
    (0xA960, 0xA97F),  # Hangul Jamo extended A
    (0xAC00, 0xD7FF),  # Hangul syllables, Jamo extended B
    (0xF900, 0xFAFF),  # CJK compatibility ideographs
    (0x20000, 0x323AF),  # CJK extensions B-H
)


def _is_unspaced(char: str) -> bool:
    code = ord(char)
    return any(low <= code <= high for low, high in _UNSPACED_RANGES)


def _is_word_char(char: str) -> bool:
    # Letters, marks (Devanagari and Bengali vowel signs and viramas are marks, which `\w` does not count),
    # digits, connectors and the zero-width (non-)joiners used inside Indic words. A character of an unspaced
    # script next to a Latin term is a boundary: Japanese text embeds Latin words without spaces.
    if char in "\u200c\u200d":
        return True
    category = unicodedata.category(char)
    return (category[0] in "LMN" or category == "Pc") and not _is_unspaced(char)
