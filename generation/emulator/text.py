"""In-image text: the quoted parts of a prompt, set in a font that has their script, shaped by raqm.

Fonts are Debian's Noto families (`fonts-noto-core`, `fonts-noto-cjk`). Each line is split into runs by
script; each run gets the face for its script (Japanese, Korean and Chinese get their own CJK collection
index, so Han characters take the right regional forms) and is shaped by libraqm (HarfBuzz), which forms
Devanagari and Bengali conjuncts and reorders vowel signs. A character no configured face covers is logged
and drawn with the closest face (a visible box tells the reviewer something is missing, rather than
silently dropping text).
"""

from __future__ import annotations

import logging
import re
import threading
import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass
from enum import StrEnum
from functools import lru_cache
from pathlib import Path

from PIL import ImageDraw, ImageFont, features

logger = logging.getLogger(__name__)

FONT_DIRS = (Path("/usr/share/fonts"), Path("/usr/local/share/fonts"), Path.home() / ".local/share/fonts")

# "...", “...”, 「...」 and 『...』: the quotes a prompt uses for text that must appear in the image.
QUOTED = re.compile(r'"([^"]+)"|“([^”]+)”|「([^」]+)」|『([^』]+)』')


class Script(StrEnum):
    LATIN = "latin"
    JAPANESE = "japanese"
    KOREAN = "korean"
    CHINESE = "chinese"
    DEVANAGARI = "devanagari"
    BENGALI = "bengali"
    ARABIC = "arabic"
    HEBREW = "hebrew"
    THAI = "thai"
    TAMIL = "tamil"


@dataclass(frozen=True)
class Face:
    """A font file (and index inside a collection) with the language tag raqm shapes it with."""

    filename: str  # e.g. "NotoSansCJK-{weight}.ttc"; {weight} is Regular or Bold
    index: int = 0
    language: str | None = None


FACES: dict[Script, Face] = {
    Script.LATIN: Face("NotoSans-{weight}.ttf", 0, "en"),
    Script.JAPANESE: Face("NotoSansCJK-{weight}.ttc", 0, "ja"),
    Script.KOREAN: Face("NotoSansCJK-{weight}.ttc", 1, "ko"),
    Script.CHINESE: Face("NotoSansCJK-{weight}.ttc", 2, "zh-Hans"),
    Script.DEVANAGARI: Face("NotoSansDevanagari-{weight}.ttf", 0, "hi"),
    Script.BENGALI: Face("NotoSansBengali-{weight}.ttf", 0, "bn"),
    Script.ARABIC: Face("NotoSansArabic-{weight}.ttf", 0, "ar"),
    Script.HEBREW: Face("NotoSansHebrew-{weight}.ttf", 0, "he"),
    Script.THAI: Face("NotoSansThai-{weight}.ttf", 0, "th"),
    Script.TAMIL: Face("NotoSansTamil-{weight}.ttf", 0, "ta"),
}

_NAMED_SCRIPTS = {
    "LATIN": Script.LATIN,
    "GREEK": Script.LATIN,
    "CYRILLIC": Script.LATIN,
    "ARABIC": Script.ARABIC,
    "HEBREW": Script.HEBREW,
    "THAI": Script.THAI,
    "TAMIL": Script.TAMIL,
}


def quoted_texts(prompt: str) -> list[str]:
    """The quoted segments of a prompt, in order, stripped; empty quotes are ignored."""
    return [text.strip() for match in QUOTED.finditer(prompt) if (text := next(g for g in match.groups() if g))]


def _is_cjk(cp: int) -> bool:
    return (
        0x2E80 <= cp <= 0x2FDF  # radicals
        or 0x3000 <= cp <= 0x303F  # CJK punctuation
        or 0x3040 <= cp <= 0x30FF  # kana
        or 0x31F0 <= cp <= 0x31FF
        or 0x3400 <= cp <= 0x4DBF
        or 0x4E00 <= cp <= 0x9FFF
        or 0xF900 <= cp <= 0xFAFF
        or 0xFF00 <= cp <= 0xFFEF  # full- and half-width forms
        or 0x20000 <= cp <= 0x3FFFF
    )


def _is_kana(cp: int) -> bool:
    return 0x3040 <= cp <= 0x30FF or 0x31F0 <= cp <= 0x31FF or 0xFF66 <= cp <= 0xFF9F


def _is_hangul(cp: int) -> bool:
    return 0x1100 <= cp <= 0x11FF or 0x3130 <= cp <= 0x318F or 0xA960 <= cp <= 0xA97F or 0xAC00 <= cp <= 0xD7FF


def cjk_script(text: str) -> Script:
    """Kana make it Japanese, Hangul Korean; Han alone is set as (simplified) Chinese."""
    codepoints = [ord(c) for c in text]
    if any(_is_kana(cp) for cp in codepoints):
        return Script.JAPANESE
    if any(_is_hangul(cp) for cp in codepoints):
        return Script.KOREAN
    return Script.CHINESE


def char_script(char: str, *, cjk: Script) -> Script | None:
    """The script of a letter or mark; None for characters every script shares (spaces, digits, punctuation)."""
    cp = ord(char)
    if _is_hangul(cp):
        return Script.KOREAN
    if _is_cjk(cp):
        return cjk
    if (0x0900 <= cp <= 0x097F and cp not in (0x0964, 0x0965)) or 0xA8E0 <= cp <= 0xA8FF:
        return Script.DEVANAGARI
    if 0x0980 <= cp <= 0x09FF:
        return Script.BENGALI
    if unicodedata.category(char)[0] not in "LM":
        return None
    return _NAMED_SCRIPTS.get(unicodedata.name(char, "").split(" ")[0])


@lru_cache(maxsize=1)
def _font_files() -> dict[str, Path]:
    found: dict[str, Path] = {}
    for root in FONT_DIRS:
        if root.is_dir():
            for path in root.rglob("*.tt[fc]"):
                found.setdefault(path.name, path)
            for path in root.rglob("*.otf"):
                found.setdefault(path.name, path)
    return found


def font_path(face: Face, weight: str = "Regular") -> Path | None:
    return _font_files().get(face.filename.format(weight=weight))


@lru_cache(maxsize=64)
def _coverage(path: Path, index: int) -> frozenset[int]:
    from fontTools.ttLib import TTFont

    with TTFont(path, fontNumber=index, lazy=True) as font:
        return frozenset(font.getBestCmap() or {})


def covers(face: Face, text: str, weight: str = "Regular") -> bool:
    """Whether the face's file exists and maps every non-control character of `text` to a glyph."""
    path = font_path(face, weight)
    if path is None:
        return False
    cmap = _coverage(path, face.index)
    return all(ord(c) in cmap for c in text if unicodedata.category(c) not in ("Cc", "Cf"))


@lru_cache(maxsize=32)
def _warn_once(message: str) -> None:
    logger.warning(message)


def _face_for(script: Script, char: str, weight: str) -> Face:
    preferred = FACES[script]
    if covers(preferred, char, weight):
        return preferred
    for other in FACES.values():
        if covers(other, char, weight):
            _warn_once(
                f"emulator text: {preferred.filename} missing or without U+{ord(char):04X}; using {other.filename}"
            )
            return other
    _warn_once(
        f"emulator text: no installed font covers U+{ord(char):04X} ({unicodedata.name(char, '?')}); "
        "install fonts-noto-core and fonts-noto-cjk"
    )
    return preferred


def runs(text: str, weight: str = "Regular") -> list[tuple[str, Face]]:
    """Split a line into (text, face) runs; shared characters join the run before them (or after, at the start)."""
    cjk = cjk_script(text)
    scripts: list[Script | None] = []
    for char in text:
        if unicodedata.category(char) in ("Mn", "Mc", "Cf") and scripts:
            scripts.append(scripts[-1])  # marks and joiners stay with their base character
        else:
            scripts.append(char_script(char, cjk=cjk))
    first = next((s for s in scripts if s is not None), Script.LATIN)
    resolved: list[Script] = []
    for script in scripts:
        resolved.append(script or (resolved[-1] if resolved else first))
    pieces: list[tuple[str, Face]] = []
    for char, script in zip(text, resolved, strict=True):
        face = _face_for(script, char, weight) if not char.isspace() else FACES[script]
        if pieces and (pieces[-1][1] == face or char.isspace() or unicodedata.category(char) in ("Mn", "Mc", "Cf")):
            pieces[-1] = (pieces[-1][0] + char, pieces[-1][1])
        else:
            pieces.append((char, face))
    return pieces


def raqm_available() -> bool:
    return bool(features.check("raqm"))


_thread_fonts = threading.local()


def load_font(face: Face, size: int, weight: str = "Regular") -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    """A cached font for this thread. A FreeType face must not be used by two threads at once (Pillow
    issue #9497); today the GIL serialises them, a per-thread cache keeps that true without relying on it."""
    loader = getattr(_thread_fonts, "load", None)
    if loader is None:
        loader = _thread_fonts.load = lru_cache(maxsize=128)(_load_font)
    return loader(face, size, weight)


def _load_font(face: Face, size: int, weight: str) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    path = font_path(face, weight) or font_path(face, "Regular")
    if path is None:
        _warn_once(f"emulator text: font {face.filename} not found under {', '.join(map(str, FONT_DIRS))}")
        return ImageFont.load_default(size)
    if not raqm_available():
        _warn_once("emulator text: Pillow has no raqm (libraqm0): complex scripts will not be shaped correctly")
        return ImageFont.truetype(str(path), size, index=face.index, layout_engine=ImageFont.Layout.BASIC)
    return ImageFont.truetype(str(path), size, index=face.index, layout_engine=ImageFont.Layout.RAQM)


@dataclass(frozen=True)
class StyledLine:
    text: str
    size: int
    weight: str

    def pieces(self) -> Iterator[tuple[str, ImageFont.FreeTypeFont, str | None]]:
        for run_text, face in runs(self.text, self.weight):
            yield run_text, load_font(face, self.size, self.weight), face.language

    def width(self) -> float:
        return sum(font.getlength(t, language=lang) for t, font, lang in self.pieces())


_CLOSING = set("、。，．！？：；」』）〉》】〕ー…・")  # noqa: RUF001 - full-width punctuation on purpose
_OPENING = set("「『（〈《【〔")  # noqa: RUF001


def _break_units(text: str) -> list[str]:
    """Pieces a line may break between: words with their trailing space; in Chinese and Japanese, characters
    (closing punctuation stays with the character before it, opening punctuation with the one after)."""
    units: list[str] = []
    for word in re.findall(r"\S+\s*|\s+", text):
        if not any(_is_cjk(ord(c)) for c in word):
            # A lone dash or punctuation mark never starts a line: it stays with the word before it.
            if units and all(unicodedata.category(c).startswith("P") for c in word.strip()):
                units[-1] += word
            else:
                units.append(word)
            continue
        for char in word:
            glue = char in _CLOSING or char.isspace() or not _is_cjk(ord(char))
            if units and (glue or units[-1] in _OPENING):
                units[-1] += char
            else:
                units.append(char)
    return units


def wrap(text: str, *, size: int, weight: str, max_width: float) -> list[StyledLine]:
    lines: list[StyledLine] = []
    current = ""
    for unit in _break_units(text):
        candidate = current + unit
        if current and StyledLine(candidate.rstrip(), size, weight).width() > max_width:
            lines.append(StyledLine(current.rstrip(), size, weight))
            current = unit.lstrip()
        else:
            current = candidate
    if current.strip():
        lines.append(StyledLine(current.rstrip(), size, weight))
    return lines


def line_metrics(line: StyledLine) -> tuple[int, int]:
    """(ascent, descent) of the tallest face in the line, for even line spacing across scripts."""
    ascent = descent = 0
    for _, font, _ in line.pieces():
        a, d = font.getmetrics()
        ascent, descent = max(ascent, a), max(descent, d)
    return ascent, descent


def draw_line(draw: ImageDraw.ImageDraw, line: StyledLine, *, x: float, baseline: float, fill: tuple) -> None:
    for run_text, font, language in line.pieces():
        draw.text((x, baseline), run_text, font=font, fill=fill, anchor="ls", language=language)
        x += font.getlength(run_text, language=language)
