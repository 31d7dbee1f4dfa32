"""Copy check: is the locale's copy string in the image, spelled as approved?

The reading (ocr.read_text) holds every line of text in the image: the copy, and whatever else is there (a
caption, a logo's lettering, the emulator's "EMULATOR" mark). So the copy is looked for, not demanded to be the
whole reading: every run of up to ``MAX_SPAN_LINES`` read lines in reading order (lines the copy wrapped onto,
possibly with a stray line of background noise between them skipped) is compared with the expected copy, as a
whole and by its best-matching substring, and the closest wins.

Both sides are normalised first (``normalise_copy``; docs/checks.md has the policy and why):
- NFKC (full-width Latin and digits, half-width kana, ligatures and compatibility forms fold to their plain
  letters; combining sequences compose).
- Invisible format characters are dropped, except ZERO WIDTH JOINER / NON-JOINER between two letters of an Indic
  script, where they choose the rendered form (half form, explicit virama) and so are part of the spelling.
- Whitespace runs become one space; a space beside a Han, kana or Hangul character (or CJK punctuation) is
  dropped: Chinese and Japanese do not separate words, Tesseract puts a space between CJK glyphs, and between
  Hangul syllables at random, so a Korean word space cannot be told from a misread one.
- Case is folded for cased letters only (``str.casefold`` per character: Latin, Greek, Cyrillic); other
  scripts have no case to fold.
- Punctuation: its KIND counts, its shape and spacing do not. Quote marks become ``"``, apostrophes ``'``,
  dashes ``-``, CJK full stops and commas ``.`` and ``,``; spaces before or after punctuation (the Indic danda
  too) are dropped (French "Soldes !" equals "Soldes!"). A missing or extra mark is still a difference: "50 %" and "50",
  "Jetzt!" and "Jetzt" are different copy, and a one-mark difference lands in NEAR (reviewed), not EXACT.

CER = Levenshtein distance / length of the normalised expected copy. EXACT: 0; NEAR: 0 < CER <= near_cer;
MISMATCH: beyond (or nothing read at all).
"""

from __future__ import annotations

import io
import itertools
import re
import unicodedata
from dataclasses import dataclass, replace
from enum import StrEnum

from PIL import Image, ImageDraw
from rapidfuzz import fuzz
from rapidfuzz.distance import Levenshtein

from dam.checks.ocr import OcrReading, TextBox, ocr_languages


class CopyVerdict(StrEnum):
    EXACT = "exact"
    NEAR = "near"
    MISMATCH = "mismatch"


NEAR_CER = 0.10  # one wrong character in ten: a typo a reviewer should look at, not a different copy
MAX_SPAN_LINES = 4  # read lines a copy may be wrapped onto (the emulator's headline takes at most 3)
MAX_CANDIDATE_LINES = 12  # the most confident read lines considered (spans of 4 of 12: 794 comparisons)

ZWNJ, ZWJ = "\u200c", "\u200d"
_INDIC_SCRIPTS = ("DEVANAGARI", "BENGALI", "GURMUKHI", "GUJARATI", "ORIYA", "TAMIL", "TELUGU", "KANNADA", "MALAYALAM")
_PUNCTUATION_KINDS = str.maketrans(
    {
        **dict.fromkeys("“”„‟«»〝〞＂「」『』", '"'),  # noqa: RUF001 - the shapes being unified
        **dict.fromkeys("‘’‚‛`´′", "'"),  # noqa: RUF001
        **dict.fromkeys("‐‑‒–—―−", "-"),  # noqa: RUF001
        "。": ".",
        "、": ",",
        "・": ".",
    }
)
# Devanagari and Bengali end a sentence with a danda (।, ॥), spaced either way in print.
_SPACE_AROUND_PUNCTUATION = re.compile(r"\s*([!\"#%'()*,\-./:;?\[\]{}¡¿…।॥])\s*")


def _is_cjk_unspaced(char: str) -> bool:
    """Han, kana and CJK punctuation: scripts written without spaces between words (not Hangul)."""
    cp = ord(char)
    return (
        0x3000 <= cp <= 0x30FF  # CJK punctuation, hiragana, katakana
        or 0x3400 <= cp <= 0x4DBF
        or 0x4E00 <= cp <= 0x9FFF
        or 0xF900 <= cp <= 0xFAFF
        or 0x20000 <= cp <= 0x3134F
        or 0x31F0 <= cp <= 0x31FF
    )


def _is_hangul(char: str) -> bool:
    cp = ord(char)
    return 0xAC00 <= cp <= 0xD7A3 or 0x1100 <= cp <= 0x11FF or 0x3130 <= cp <= 0x318F


def _unspaced_pair(before: str, after: str) -> bool:
    """A space beside a Han, kana or Hangul character is not compared. Chinese and Japanese have no word spaces
    (a space between "最大" and "50%" is typography); Tesseract puts spaces between CJK glyphs, and between
    Hangul syllables at random ("고 객 이" for "고객이"), so a Korean word space cannot be told from a misread one."""
    return any(_is_cjk_unspaced(char) or _is_hangul(char) for char in (before, after))


def _is_indic_letter(char: str) -> bool:
    if not char:
        return False
    name = unicodedata.name(char, "")
    return unicodedata.category(char)[0] in "LM" and name.startswith(_INDIC_SCRIPTS)


def _drop_invisibles(text: str) -> str:
    def joins_indic(i: int) -> bool:
        return 0 < i < len(text) - 1 and _is_indic_letter(text[i - 1]) and _is_indic_letter(text[i + 1])

    return "".join(
        char
        for i, char in enumerate(text)
        if unicodedata.category(char) != "Cf" or (char in (ZWJ, ZWNJ) and joins_indic(i))
    )


def normalise_copy(text: str, *, locale: str) -> str:
    """The form copy is compared in (module docstring); `locale` must be one the copy check supports."""
    ocr_languages(locale)  # raises UnsupportedLocale
    text = unicodedata.normalize("NFKC", text)
    text = _drop_invisibles(text)
    text = text.translate(_PUNCTUATION_KINDS)
    text = "".join(char.casefold() if char.lower() != char.upper() else char for char in text)
    text = " ".join(text.split())
    text = _SPACE_AROUND_PUNCTUATION.sub(r"\1", text)
    chars = list(text)
    return "".join(
        char
        for i, char in enumerate(chars)
        if not (char == " " and 0 < i < len(chars) - 1 and _unspaced_pair(chars[i - 1], chars[i + 1]))
    )


@dataclass(frozen=True)
class CopyComparison:
    """`expected` and `read` are normalised; a difference's `at` is its index in `expected`."""

    verdict: CopyVerdict
    expected: str
    read: str
    cer: float
    differences: tuple[dict, ...]
    boxes: tuple[TextBox, ...]

    def to_dict(self) -> dict:
        return {
            "verdict": self.verdict.value,
            "expected": self.expected,
            "read": self.read,
            "cer": round(self.cer, 4),
            "differences": [dict(d) for d in self.differences],
            "boxes": [box.to_dict() for box in self.boxes],
        }


_OPS = {"replace": "substitute", "insert": "insert", "delete": "delete"}


def _differences(expected: str, read: str) -> tuple[dict, ...]:
    return tuple(
        {
            "op": _OPS[op.tag],
            "expected": expected[op.src_start : op.src_end],
            "read": read[op.dest_start : op.dest_end],
            "at": op.src_start,
        }
        for op in Levenshtein.opcodes(expected, read)
        if op.tag != "equal"
    )


def _in_word(char: str) -> bool:
    """A letter, mark or digit of a script that separates words with spaces (not Han or kana)."""
    return unicodedata.category(char)[0] in "LMN" and not _is_cjk_unspaced(char)


def _whole_words(text: str, start: int, end: int) -> tuple[int, int]:
    """Widen text[start:end] to whole words: a copy found inside a longer word ("estivi" in "estivii") is that
    word misspelled, not the copy; text beside it with a space or punctuation between is other text."""
    while 0 < start < len(text) and _in_word(text[start - 1]) and _in_word(text[start]):
        start -= 1
    while 0 < end < len(text) and _in_word(text[end - 1]) and _in_word(text[end]):
        end += 1
    return start, end


def _best_in(expected: str, text: str) -> tuple[int, str]:
    """(distance, substring): the part of `text` closest to `expected` (in whole words), or the whole of it."""
    best = (Levenshtein.distance(expected, text), text)
    if len(text) <= len(expected):
        return best
    alignment = fuzz.partial_ratio_alignment(expected, text)
    if alignment is None:
        return best
    # The alignment maximises the indel ratio; try it a character wider or narrower each side too (a substituted
    # first or last character falls outside an indel alignment), then widened to whole words.
    for first, last in itertools.product(
        range(max(0, alignment.dest_start - 1), min(len(text), alignment.dest_start + 2)),
        range(max(0, alignment.dest_end - 1), min(len(text), alignment.dest_end + 1) + 1),
    ):
        start, end = _whole_words(text, first, last)
        candidate = text[start:end].strip()
        if not candidate:
            continue
        distance = Levenshtein.distance(expected, candidate)
        closer = abs(len(candidate) - len(expected)) < abs(len(best[1]) - len(expected))
        if distance < best[0] or (distance == best[0] and closer):
            best = (distance, candidate)
    return best


def _shown_as(box: TextBox, text: str) -> TextBox:
    """`box` with `text` (one of its readings) as its text and the others as its alternatives: a matched line
    shows the reading the copy was found in (the legibility check labels its lines so, the evidence lists it)."""
    if text == box.text:
        return box
    return replace(box, text=text, alternatives=tuple(other for other in box.readings if other != text))


def compare_copy(*, expected: str, reading: OcrReading, locale: str, near_cer: float = NEAR_CER) -> CopyComparison:
    """Find `expected` (the locale's copy string) in `reading`; ValueError for copy that normalises to nothing."""
    want = normalise_copy(expected, locale=locale)
    if not want:
        raise ValueError("the expected copy is empty (after normalisation): there is nothing to check")
    # Lines that share no character with the copy cannot be part of it (the emulator mark, background noise).
    # A line read by two models (`TextBox.alternatives`, dam.checks.ocr's step 7) has both readings, each tried.
    letters = set(want) - {" "}
    candidates = []
    for i, box in enumerate(reading.boxes):
        # Each reading once (as normalised), with the box that shows it: the line as read by that model.
        readings: dict[str, TextBox] = {}
        for text in box.readings:
            readings.setdefault(normalise_copy(text, locale=locale), _shown_as(box, text))
        readings = {text: shown for text, shown in readings.items() if letters & set(text)}
        if readings:
            candidates.append((i, box, readings))
    # The reading's own order (rows top to bottom, left to right within a row) is kept.
    candidates.sort(key=lambda c: -c[1].confidence)
    candidates = sorted(candidates[:MAX_CANDIDATE_LINES], key=lambda c: c[0])
    lines = [list(texts.items()) for _, _, texts in candidates]
    best: tuple[int, int, str, tuple[TextBox, ...]] = (len(want), 0, "", ())
    for count in range(1, min(MAX_SPAN_LINES, len(lines)) + 1):
        for chosen in itertools.combinations(range(len(lines)), count):
            for texts in itertools.product(*(lines[i] for i in chosen)):
                joined = normalise_copy(" ".join(text for text, _ in texts), locale=locale)
                distance, part = _best_in(want, joined)
                if (distance, count) < best[:2]:
                    best = (distance, count, part, tuple(shown for _, shown in texts))
        if best[0] == 0:
            break
    distance, _, read, boxes = best
    cer = distance / len(want)
    if distance == 0:
        verdict = CopyVerdict.EXACT
    elif cer <= near_cer:
        verdict = CopyVerdict.NEAR
    else:
        verdict = CopyVerdict.MISMATCH
    return CopyComparison(verdict, want, read, cer, _differences(want, read), boxes)


_VERDICT_COLOURS = {
    CopyVerdict.EXACT: (30, 170, 90),
    CopyVerdict.NEAR: (230, 160, 20),
    CopyVerdict.MISMATCH: (220, 40, 40),
}
EVIDENCE_SIDE = 1024  # px, the long side of the evidence picture


def copy_evidence_png(image: Image.Image, *, comparison: CopyComparison, reading: OcrReading) -> bytes:
    """The image with every read line outlined in grey and the lines matched to the copy in the verdict's
    colour (green exact, amber near, red mismatch), at most EVIDENCE_SIDE px on the long side."""
    picture = image.convert("RGB")
    scale = min(1.0, EVIDENCE_SIDE / max(picture.size))
    if scale < 1.0:
        picture = picture.resize(
            (round(picture.width * scale), round(picture.height * scale)), Image.Resampling.BILINEAR
        )
    draw = ImageDraw.Draw(picture)
    stroke = max(2, round(max(picture.size) / 400))

    def outline(box: TextBox, colour: tuple[int, int, int]) -> None:
        pad = stroke * 2
        draw.rectangle(
            (box.left * scale - pad, box.top * scale - pad, box.right * scale + pad, box.bottom * scale + pad),
            outline=colour,
            width=stroke,
        )

    matched = set(comparison.boxes)
    for box in reading.boxes:
        if box not in matched:
            outline(box, (150, 150, 150))
    for box in comparison.boxes:
        outline(box, _VERDICT_COLOURS[comparison.verdict])
    buffer = io.BytesIO()
    picture.save(buffer, "PNG", optimize=False, compress_level=6)
    return buffer.getvalue()
