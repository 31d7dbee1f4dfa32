"""Text faults: the headline copy rendered wrong on purpose, so the platform's copy check has something to catch.

A real image model misspells in-image text, drops a letter, breaks an Indic conjunct, sets the copy where a
placement's crop cuts it, sets it too small to read after scaling, or ignores the brand's colours. The emulator
does each on request (header `x-emulator-text-fault`, config `text_fault`): the string faults below change what is
drawn; the layout faults (`crop_cut`, `tiny`, `off_palette`) change where and how it is drawn (generation.emulator.
images). Which character changes is drawn from `rng`, which the renderer seeds from the picture's seed.

Replacements are "visually different": a letter is replaced by one of a small pool of the same script that is not
in its look-alike group (no l for I, no র for ব, no 日 for 目), so an OCR that reads the replaced letter as the
original is wrong, not excused.
"""

from __future__ import annotations

import random
import unicodedata
from enum import StrEnum


class TextFault(StrEnum):
    SUBSTITUTE = "substitute"  # one letter replaced by a visually different letter of the same script
    DROP = "drop"  # one letter (with its vowel signs and marks) left out
    CONJUNCT = "conjunct"  # Devanagari/Bengali: a conjunct broken or a vowel sign misordered; else two letters swapped
    CROP_CUT = "crop_cut"  # the card hugs an edge, so the centre crop to another aspect cuts through the copy
    TINY = "tiny"  # the copy at 1.2% of the short side: illegible once scaled to a small placement
    OFF_PALETTE = "off_palette"  # saturated magenta background and a green card, far from any brand palette


STRING_FAULTS = frozenset({TextFault.SUBSTITUTE, TextFault.DROP, TextFault.CONJUNCT})

ZWNJ = "\u200c"
VIRAMAS = {"\u094d", "\u09cd"}  # Devanagari, Bengali

# (pool of replacements, look-alike groups): a replacement never shares a group with the letter it replaces.
_LATIN_LOWER = ("abdefghkmnprstwxyz", ("aceo", "bhn", "mnr", "uvwy", "gqy", "iljtf", "kx", "pq", "sz"))
_LATIN_UPPER = ("ABDEFGHKMNPRSTWXYZ", ("OQDCG", "IJLT", "EFB", "PRB", "MNWH", "VUY", "KXY", "SZ"))
_HIRAGANA = ("あかすたなまやるをく", ("あおめぬ", "るろ", "われね", "はほけ", "さちき", "いりこ", "くへ", "たな"))
_KATAKANA = ("アカサタナマヤラセホ", ("ソンリノ", "シツ", "クタケワウフラ", "カ力", "ロ口", "ニ二", "アマ", "セヤ"))
_HAN = (
    "山水火金月雨花石竹米羊耳",
    ("日目月田白曰旦百", "未末木本米来", "石右古占", "手毛年", "羊半平", "火大太犬天夫"),
)
_DEVANAGARI = ("कगचजटतनपमरलसह", ("मभ", "पषफ", "बवक", "घध", "डङढ", "टठ", "दढ", "रऱ", "यथ", "गम", "तन"))
_BENGALI = ("কচজটতনমসহ", ("বরৰক", "যয়", "ডড়", "ঢঢ়ট", "পগণ", "নলণ", "মস", "তভ"))
# Hangul: the syllable keeps its vowel and final, its initial moves to another look-alike group.
_HANGUL_INITIAL_GROUPS = ((0, 1, 15), (2, 3, 4, 16), (5,), (6,), (7, 8, 17), (9, 10, 12, 13, 14), (11, 18))
_DIGITS = ("0123456789", ("0689", "17", "35", "38", "56"))


def _class_of(char: str) -> str | None:
    """Which replacement pool a letter takes from; None for a letter no pool covers (left alone by `substitute`)."""
    cp = ord(char)
    if 0x3041 <= cp <= 0x309F:
        return "hiragana"
    if 0x30A1 <= cp <= 0x30FA:
        return "katakana"
    if 0x4E00 <= cp <= 0x9FFF or 0x3400 <= cp <= 0x4DBF:
        return "han"
    if 0xAC00 <= cp <= 0xD7A3:
        return "hangul"
    if 0x0904 <= cp <= 0x0939 or 0x0958 <= cp <= 0x0961:
        return "devanagari"
    if 0x0985 <= cp <= 0x09B9 or 0x09DC <= cp <= 0x09E1:
        return "bengali"
    base = unicodedata.normalize("NFD", char)[0]
    if base.isascii() and base.isalpha():
        return "latin_upper" if base.isupper() else "latin_lower"
    if "LATIN" in unicodedata.name(char, ""):
        return "latin_upper" if char.isupper() else "latin_lower"
    if char.isdigit() and char.isascii():
        return "digit"
    return None


_POOLS = {
    "latin_lower": _LATIN_LOWER,
    "latin_upper": _LATIN_UPPER,
    "hiragana": _HIRAGANA,
    "katakana": _KATAKANA,
    "han": _HAN,
    "devanagari": _DEVANAGARI,
    "bengali": _BENGALI,
    "digit": _DIGITS,
}


def _base(char: str) -> str:
    """The letter without accents, dakuten or nukta: 'é' -> 'e', 'が' -> 'か', 'ড়' -> 'ড'."""
    return unicodedata.normalize("NFD", char)[0]


def _replacement(char: str, kind: str, rng: random.Random) -> str:
    if kind == "hangul":
        index = ord(char) - 0xAC00
        initial, rest = divmod(index, 21 * 28)
        others = [group for group in _HANGUL_INITIAL_GROUPS if initial not in group]
        return chr(0xAC00 + rng.choice(others)[0] * 21 * 28 + rest)
    pool, groups = _POOLS[kind]
    base = _base(char)
    near = {base} | {c for group in groups if base in group for c in group}
    return rng.choice([c for c in pool if c not in near])


def _is_letter(char: str) -> bool:
    return unicodedata.category(char) in ("Lu", "Ll", "Lt", "Lo")


def _is_mark(char: str) -> bool:
    return unicodedata.category(char) in ("Mn", "Mc", "Me")


def _substitute(copy: str, rng: random.Random) -> str:
    letters = [(i, kind) for i, c in enumerate(copy) if _is_letter(c) and (kind := _class_of(c)) not in (None, "digit")]
    if not letters:  # a copy of digits only ("50%"): change a digit, a price misread is the costliest error
        letters = [(i, "digit") for i, c in enumerate(copy) if _class_of(c) == "digit"]
    if not letters:
        return copy
    index, kind = rng.choice(letters)
    return copy[:index] + _replacement(copy[index], kind, rng) + copy[index + 1 :]


def _drop(copy: str, rng: random.Random) -> str:
    """One letter out, with the marks that belong to it (an Indic vowel sign or virama would otherwise be left
    without its consonant and drawn on a dotted circle: a different fault)."""
    letters = [i for i, c in enumerate(copy) if _is_letter(c)] or [i for i, c in enumerate(copy) if c.isdigit()]
    if not letters:
        return copy
    index = rng.choice(letters)
    end = index + 1
    while end < len(copy) and _is_mark(copy[end]):
        end += 1
    dropped = copy[:index] + copy[end:]
    return dropped if dropped.strip() else copy  # a one-letter copy: nothing would be left to draw


def _swap_adjacent(copy: str, rng: random.Random) -> str:
    pairs = [
        i
        for i in range(len(copy) - 1)
        if _is_letter(copy[i]) and _is_letter(copy[i + 1]) and copy[i] != copy[i + 1] and not _is_mark(copy[i + 1])
    ]
    if not pairs:
        return copy
    i = rng.choice(pairs)
    return copy[:i] + copy[i + 1] + copy[i] + copy[i + 2 :]


def _is_vowel_sign(char: str) -> bool:
    return 0x093E <= ord(char) <= 0x094C or 0x09BE <= ord(char) <= 0x09CC


def _conjunct(copy: str, rng: random.Random) -> str:
    """Devanagari/Bengali: a ZWNJ after a virama that joins two consonants (the conjunct falls apart into a half
    form with a visible virama), else the vowel sign after a consonant moved before it (drawn on its own, out of
    order); other scripts, or Indic text with neither: two adjacent letters swapped."""
    joins = [
        i + 1
        for i, c in enumerate(copy[:-1])
        if c in VIRAMAS and _class_of(copy[i + 1]) in ("devanagari", "bengali") and copy[i + 1] != ZWNJ
    ]
    if joins:
        at = rng.choice(joins)
        return copy[:at] + ZWNJ + copy[at:]
    signs = [
        i
        for i in range(1, len(copy))
        if _is_vowel_sign(copy[i]) and _class_of(copy[i - 1]) in ("devanagari", "bengali")
    ]
    if signs:
        i = rng.choice(signs)
        return copy[: i - 1] + copy[i] + copy[i - 1] + copy[i + 1 :]
    return _swap_adjacent(copy, rng)


def faulted_copy(copy: str, fault: TextFault | str | None, rng: random.Random) -> str:
    """The string the emulator draws for `copy` under `fault`: changed by one character for the string faults,
    unchanged for the layout faults and for a copy that has nothing the fault can change (no letter, no digit)."""
    if fault is None:
        return copy
    fault = TextFault(fault)
    if fault == TextFault.SUBSTITUTE:
        return _substitute(copy, rng)
    if fault == TextFault.DROP:
        return _drop(copy, rng)
    if fault == TextFault.CONJUNCT:
        return _conjunct(copy, rng)
    return copy
