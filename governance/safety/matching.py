"""Finding terms and patterns in text in any script, through invisible characters, Unicode forms, case and
look-alike letters of other scripts.

Shared by the brand policy's banned terms (`generation.prompting.find_banned_terms`), the safety
configuration's blocklists and the local lexicon, so every screen treats text the same way. Text and terms
are put in the screening forms of `governance.safety.screening` (invisible characters removed, NFKC, case
folding, TR39 skeleton), both sides alike; the term is reported as the list spells it.

- A term is found in the folded text (invisible characters removed, NFKC + case folding: composed or
  decomposed accents, full-width Latin, half-width kana and upper/lower case all compare equal), or in the
  skeleton of the text (its TR39 skeleton equals the term's: `cheap` spelt with a Cyrillic es, U+0441). A skeleton match
  counts only when the text or the term has a character outside ASCII there: within plain ASCII the
  skeleton's look-alikes are ordinary spellings (`rn`/`m`: `burn` is not `bum`; `1`/`l`, `0`/`o`), so a
  brand banning `bum` can still say `burn`.
- A term in a script written with spaces between words (Latin, Devanagari, Bengali...) must occur as a
  whole word, judged on the folded characters around the match; a term containing characters of a script
  written without spaces (Chinese, Japanese, Thai...) or Hangul (Korean attaches particles to the noun:
  싸구려를) matches anywhere.
- A regular expression is searched case-insensitively in the folded text, in the NFKC text (a pattern
  spelling `ß` still finds `ß` although case folding turns it into `ss`), both without invisible characters,
  and in the folded text with its non-ASCII look-alikes replaced by their skeletons. Patterns run on the
  `regex` engine with a time limit: one that backtracks catastrophically on repetitive text (`(a|aa)+$`) is
  refused when saved, and a search that still runs out of time counts as a match (a safety screen fails
  closed).
"""

from __future__ import annotations

import logging
import unicodedata
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import lru_cache

import regex

from governance.safety.screening import ScreenedText, char_skeleton, fold, lookalikes_folded, visible

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


@dataclass(frozen=True, slots=True)
class PreparedTerm:
    """A term in its screening forms (computed once per term list: `prepared_terms`)."""

    term: str  # as the list spells it
    folded: str
    skeleton: str
    unspaced: bool  # has characters of a script written without spaces: matches anywhere, not as a word
    ascii: bool

    @classmethod
    def of(cls, term: str) -> PreparedTerm:
        folded = fold(term).strip()
        return cls(
            term=term,
            folded=folded,
            skeleton="".join(char_skeleton(char) for char in folded),
            unspaced=any(_is_unspaced(char) for char in folded),
            ascii=folded.isascii(),
        )


# A list is at most 10,000 items (a few MB prepared): a process screens for a handful of tenants at a time.
@lru_cache(maxsize=32)
def prepared_terms(terms: tuple[str, ...]) -> tuple[PreparedTerm, ...]:
    """The distinct terms of a list in their screening forms, first spelling kept (cached per list)."""
    prepared: dict[str, PreparedTerm] = {}
    for term in terms:
        candidate = PreparedTerm.of(term)
        if candidate.folded:
            prepared.setdefault(candidate.folded, candidate)
    return tuple(prepared.values())


def find_terms(*, terms: Iterable[str], texts: Mapping[str, str]) -> list[TermMatch]:
    """Every (term, field) where a term occurs in a text, in field order then term order."""
    prepared = prepared_terms(tuple(terms))
    matches = []
    for field_name, text in texts.items():
        screened = ScreenedText.of(text or "")
        matches += [TermMatch(term=p.term, field=field_name) for p in prepared if term_found(p, screened)]
    return matches


def term_found(term: PreparedTerm, text: ScreenedText) -> bool:
    """Whether `term` occurs in `text`: in its folded form, or through look-alikes in its skeleton."""
    return term_occurs(term.folded, text.folded, unspaced=term.unspaced) or _skeleton_occurs(term, text)


def _skeleton_occurs(term: PreparedTerm, text: ScreenedText) -> bool:
    if not term.skeleton:
        return False
    start = 0
    while (index := text.skeleton.find(term.skeleton, start)) >= 0:
        start = index + 1
        span = text.folded_span(index, index + len(term.skeleton))
        if span is None:
            continue
        first, end = span
        if term.ascii and text.folded[first:end].isascii():
            continue  # ASCII look-alike spellings (rn/m, 1/l) are words of their own: see the module docstring
        if term.unspaced or _whole_word(term.folded, text.folded, first, end):
            return True
    return False


def term_occurs(term: str, text: str, *, unspaced: bool | None = None) -> bool:
    """Whether the folded `term` occurs in the folded `text` (whole words for spaced scripts).

    `unspaced` is whether the term has characters of a script written without spaces (worked out when None).
    """
    if not term:
        return False
    if unspaced is None:
        unspaced = any(_is_unspaced(char) for char in term)
    if unspaced:
        return term in text
    start = 0
    while (index := text.find(term, start)) >= 0:
        if _whole_word(term, text, index, index + len(term)):
            return True
        start = index + 1
    return False


def _whole_word(term: str, text: str, index: int, end: int) -> bool:
    left_ok = not _is_word_char(term[0]) or index == 0 or not _is_word_char(text[index - 1])
    right_ok = not _is_word_char(term[-1]) or end == len(text) or not _is_word_char(text[end])
    return left_ok and right_ok


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
        return any(
            pattern.search(form, timeout=SEARCH_TIMEOUT_SECONDS)
            for form in (fold(text), unicodedata.normalize("NFKC", visible(text)), lookalikes_folded(text))
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
    # digits and connectors. The zero-width (non-)joiners inside Indic words never get here: folding removed
    # them. A character of an unspaced script next to a Latin term is a boundary: Japanese text embeds Latin
    # words without spaces.
    category = unicodedata.category(char)
    return (category[0] in "LMN" or category == "Pc") and not _is_unspaced(char)
