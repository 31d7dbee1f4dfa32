"""The one normalisation of text that is screened: invisible characters, Unicode forms, case and look-alikes.

Every screen (brand policy banned terms, safety blocklists, the local lexicon) compares text in these forms,
so a term cannot be hidden from one screen in a way another would see through:

1. `visible`: Unicode format characters (general category Cf: zero-width space and (non-)joiners, word
   joiner, soft hyphen, BOM, bidi marks, embeddings, overrides and isolates, the tag characters of the
   U+E0000 block) and every other Default_Ignorable_Code_Point (variation selectors, the combining
   grapheme joiner, Hangul fillers...) are removed. Only for matching: stored prompts and copy keep them,
   as ZWJ/ZWNJ are part of correct Indic spelling and of emoji sequences.
2. `fold`: NFKC, case folding, NFKC again (full-width letters, composed and decomposed accents, ß/SS);
   symbols that NFKC spells out as letters or digits (™, ①, ²) stand apart from the word they touch.
3. `ScreenedText.skeleton`: each character of the folded text mapped to its Unicode TR39 skeleton (ICU's
   SpoofChecker, the confusables data of the ICU build in use), then case-folded again: a Cyrillic a (U+0430) or a
   Greek omicron reads as the Latin letter it imitates. The map is per character (TR39 maps single code
   points), which keeps track of which characters of the folded text every part of the skeleton came from.

Bidi embeddings, overrides and isolates (`BIDI_CONTROLS`) are more than invisible: they reorder what a
reader sees (Trojan Source), so requests carrying them in prompts or in-image copy are refused outright
(`bidi_control_in`), not merely stripped.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from functools import lru_cache

import icu
import regex

# Cf is named on its own because a few format characters are not default-ignorable (the Arabic number
# signs U+0600-0605, the interlinear annotation marks U+FFF9-FFFB): they are still invisible inside a word.
_INVISIBLE = regex.compile(r"[\p{Cf}\p{Default_Ignorable_Code_Point}]+")

# Embeddings and overrides (LRE, RLE, PDF, LRO, RLO) and isolates (LRI, RLI, FSI, PDI). The marks LRM, RLM
# and ALM are left alone: they are ordinary punctuation of Arabic and Hebrew text and reorder nothing.
BIDI_CONTROLS = frozenset(map(chr, [*range(0x202A, 0x202F), *range(0x2066, 0x206A)]))

# TR39 skeletons are defined on single code points; the checker is only read (thread-safe in ICU).
_SPOOF_CHECKER = icu.SpoofChecker()


def bidi_control_in(text: str) -> str | None:
    """The first bidi embedding, override or isolate in `text` as `U+XXXX`, or None."""
    for char in text:
        if char in BIDI_CONTROLS:
            return f"U+{ord(char):04X}"
    return None


def visible(text: str) -> str:
    """`text` without format characters and other default-ignorable code points."""
    return _INVISIBLE.sub("", text)


# Symbols and non-decimal numbers that NFKC spells out as letters or digits (U+2122 TM, U+2460 circled 1,
# superscript 2, U+2120 SM): spelt out inside a word they would join it ("cheapTM" hides "cheap"), so each
# stands apart, as the reader sees it. Letters that NFKC folds (full-width, ligatures) are not among them.
_SPELT_OUT_SYMBOL = regex.compile(r"[\p{S}\p{No}]")


@lru_cache(maxsize=4096)
def _symbol_apart(char: str) -> str:
    spelt = unicodedata.normalize("NFKC", char)
    return f" {spelt} " if spelt != char and any(part.isalnum() for part in spelt) else char


def fold(text: str) -> str:
    # Invisible characters first (NFKC keeps most of them); NFKC before case folding so full-width letters
    # fold; again after, as case folding can un-normalise.
    text = _SPELT_OUT_SYMBOL.sub(lambda match: _symbol_apart(match.group()), visible(text))
    return unicodedata.normalize("NFKC", unicodedata.normalize("NFKC", text).casefold())


@lru_cache(maxsize=65536)
def char_skeleton(char: str) -> str:
    """The TR39 skeleton of one character, case-folded (`0` and `I` have upper-case skeletons)."""
    return _SPOOF_CHECKER.getSkeleton(0, char).casefold()


@dataclass(frozen=True)
class ScreenedText:
    """A text in its screening forms, with where each part of the skeleton comes from.

    `starts[k]` is the offset in `skeleton` where the skeleton of `folded[k]` begins (one more entry,
    `len(skeleton)`, at the end); `owner[j]` is the index in `folded` of the character that `skeleton[j]`
    came from. A skeleton can be longer or shorter than the folded text (`m` → `rn`), so a match found in
    the skeleton is mapped back through these before its word boundaries are judged.
    """

    folded: str
    skeleton: str
    starts: tuple[int, ...]
    owner: tuple[int, ...]

    @classmethod
    def of(cls, text: str) -> ScreenedText:
        folded = fold(text or "")
        pieces = [char_skeleton(char) for char in folded]
        starts, owner, offset = [], [], 0
        for index, piece in enumerate(pieces):
            starts.append(offset)
            owner += [index] * len(piece)
            offset += len(piece)
        starts.append(offset)
        return cls(folded=folded, skeleton="".join(pieces), starts=tuple(starts), owner=tuple(owner))

    def folded_span(self, start: int, end: int) -> tuple[int, int] | None:
        """The folded characters whose skeletons make exactly `skeleton[start:end]`, or None when the span
        begins or ends inside one character's skeleton (`n` alone is not found inside the `rn` of `m`)."""
        if start >= end:
            return None
        first, last = self.owner[start], self.owner[end - 1]
        if self.starts[first] != start or self.starts[last + 1] != end:
            return None
        return first, last + 1


def lookalikes_folded(text: str) -> str:
    """The folded text with every non-ASCII character replaced by its skeleton; ASCII is kept as written.

    What a regular expression is also searched in: a pattern spelt in Latin finds `free` written with
    Cyrillic ie (U+0435), while text typed in plain ASCII reads exactly as before (`rn` is never taken for `m`).
    """
    return "".join(char if char.isascii() else char_skeleton(char) for char in fold(text or ""))
