"""Prompt compilation and banned-term screening: pure functions over plain values (no models, no I/O).

The compiled prompt is what the job stores and sends, in three parts:

1. the brand prefix, built only from the policy's style guide and palette, NFC-normalised with fixed wording
   and order, so every request under one policy starts with the same bytes and the provider can cache them;
2. the user's request;
3. when the request has in-image copy for a locale, an instruction to set exactly that copy, in that
   language's script, with the copy in straight double quotes.

The copy must be the first quoted text of the prompt: the local emulator sets the first quoted text as the
headline, and the model should not have two candidates either. So the quote marks the emulator reads as
in-image text (straight and curly double quotes, corner brackets) become marks it does not (curly single
quotes, angle brackets) in the brand prefix, always, which keeps it byte-stable, and in the request when
there is copy (without copy, the user's own quotes are how they ask for text in the image).

Banned terms are not written into the prompt ("no X" in an image prompt tends to draw X); they are
screened before any spend by `find_banned_terms`.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from governance.safety.matching import find_terms

_HEX_COLOUR = re.compile(r"^#[0-9A-Fa-f]{6}$")
_LOCALE = re.compile(r"^[A-Za-z]{2,3}(?:-[A-Za-z0-9]{2,8})*$")

# Opening/closing marks that quote in-image text, mapped to marks that do not: curly double quotes to curly
# single quotes, corner brackets to angle brackets. Straight quotes (ASCII and full-width) have no open/close
# form and are paired by position instead.
_QUOTE_MARKS = str.maketrans(
    {
        "\u201c": "\u2018",  # left double quotation mark -> left single
        "\u201d": "\u2019",  # right double -> right single
        "\u201e": "\u2018",  # low double (German opening) -> left single
        "\u300c": "\u3008",  # corner bracket -> angle bracket
        "\u300d": "\u3009",
        "\u300e": "\u300a",  # white corner bracket -> double angle bracket
        "\u300f": "\u300b",
    }
)
_STRAIGHT_QUOTES = re.compile('["\uff02]')
_ASCII_QUOTE = re.compile('"')
LEFT_SINGLE, RIGHT_SINGLE, LEFT_DOUBLE, RIGHT_DOUBLE = "\u2018", "\u2019", "\u201c", "\u201d"


@dataclass(frozen=True)
class Language:
    name: str
    script: str


# Names the model understands; the script is spelled out because several languages share one name
# across scripts (Chinese) or the script is what the emulator and reviewers check (Devanagari, Bengali).
_LATIN = "Latin script"
LANGUAGES: dict[str, Language] = {
    "ar": Language("Arabic", "Arabic script, right to left"),
    "bn": Language("Bengali", "Bengali script"),
    "de": Language("German", _LATIN),
    "en": Language("English", _LATIN),
    "es": Language("Spanish", _LATIN),
    "fr": Language("French", _LATIN),
    "hi": Language("Hindi", "Devanagari script"),
    "it": Language("Italian", _LATIN),
    "ja": Language("Japanese", "Japanese script (kanji and kana)"),
    "ko": Language("Korean", "Hangul"),
    "pt": Language("Portuguese", _LATIN),
    "zh": Language("Chinese (Simplified)", "simplified Chinese characters"),
    "zh-Hans": Language("Chinese (Simplified)", "simplified Chinese characters"),
    "zh-Hant": Language("Chinese (Traditional)", "traditional Chinese characters"),
    # Regions whose convention is Traditional characters, for tags that name the region but not the script.
    "zh-TW": Language("Chinese (Traditional)", "traditional Chinese characters"),
    "zh-HK": Language("Chinese (Traditional)", "traditional Chinese characters"),
    "zh-MO": Language("Chinese (Traditional)", "traditional Chinese characters"),
}


@dataclass(frozen=True)
class BrandPolicySnapshot:
    """The parts of one brand policy version that prompt compilation and screening read."""

    style_guide: str = ""
    palette: tuple[str, ...] = ()
    banned_terms: tuple[str, ...] = ()
    version: int = 1

    def __post_init__(self) -> None:
        # Accept lists (as stored on the model) but keep the snapshot hashable and immutable.
        object.__setattr__(self, "palette", tuple(self.palette))
        object.__setattr__(self, "banned_terms", tuple(self.banned_terms))
        bad = [colour for colour in self.palette if not _HEX_COLOUR.match(colour)]
        if bad:
            raise ValueError(f"palette colours must be #RRGGBB hex: {', '.join(map(str, bad))}")


@dataclass(frozen=True)
class CompiledPrompt:
    text: str
    brand_prefix: str
    prefix_sha256: str
    locale: str | None = None
    copy: str | None = None


@dataclass(frozen=True)
class BannedTermMatch:
    term: str  # as the policy spells it
    field: str  # the key of the text it was found in


def compile_prompt(
    *, policy: BrandPolicySnapshot, request: str, locale: str | None = None, copy: str | None = None
) -> CompiledPrompt:
    """The prompt sent for one generation: brand prefix, then the request, then the locale's copy."""
    request_text = _clean_block(request)
    if not request_text:
        raise ValueError("the request prompt is empty")
    tag = canonical_locale(locale) if locale is not None else None
    copy_text = None
    if copy is not None:
        if tag is None:
            raise ValueError("in-image copy needs the locale it is written for")
        copy_text = _clean_copy(copy)

    prefix = brand_prefix(policy)
    parts = [_neutralise_quotes(request_text) if copy_text is not None else request_text]
    if tag is not None:
        parts.append(_locale_instruction(tag, copy_text))
    return CompiledPrompt(
        text=prefix + "\n\n".join(parts),
        brand_prefix=prefix,
        prefix_sha256=hashlib.sha256(prefix.encode("utf-8")).hexdigest(),
        locale=tag,
        copy=copy_text,
    )


def brand_prefix(policy: BrandPolicySnapshot) -> str:
    """The leading, cacheable part of every prompt under `policy`: a function of its style guide and palette only.

    It ends with a blank line so the request starts a new paragraph; an empty policy gives an empty prefix.
    """
    lines = []
    style = _neutralise_quotes(_clean_block(policy.style_guide))
    if style:
        lines += ["Brand style guide (apply to every image):", style]
    if policy.palette:
        # Keep the brand's order (the first colour is the primary); deduplicate case-insensitively.
        colours = ", ".join(dict.fromkeys(colour.upper() for colour in policy.palette))
        lines.append(f"Brand palette, in order of prominence: {colours}.")
    return "\n".join(lines) + "\n\n" if lines else ""


def canonical_locale(locale: str) -> str:
    """A BCP 47 tag in its conventional case (`zh-hant-tw` -> `zh-Hant-TW`); ValueError if it is not one."""
    if not _LOCALE.match(locale or ""):
        raise ValueError(f"not a BCP 47 language tag: {locale!r}")
    language, *subtags = locale.split("-")
    canonical = [language.lower()]
    for subtag in subtags:
        if len(subtag) == 4 and subtag.isalpha():
            canonical.append(subtag.title())
        elif (len(subtag) == 2 and subtag.isalpha()) or (len(subtag) == 3 and subtag.isdigit()):
            canonical.append(subtag.upper())
        else:
            canonical.append(subtag.lower())
    return "-".join(canonical)


def language_for(locale: str) -> Language:
    """The language name and script to ask for; an unknown tag names itself and its usual script."""
    tag = canonical_locale(locale)
    language, *subtags = tag.split("-")
    script = next((s for s in subtags if len(s) == 4 and s.isalpha()), None)
    region = next((s for s in subtags if s.isupper() or s.isdigit()), None)
    for candidate in (tag, script and f"{language}-{script}", region and f"{language}-{region}"):
        if candidate in LANGUAGES:
            return LANGUAGES[candidate]
    if language in LANGUAGES:
        base = LANGUAGES[language]
        if not region:
            return base
        name = f"{base.name[:-1]}, {region})" if base.name.endswith(")") else f"{base.name} ({region})"
        return Language(name, base.script)
    return Language(tag, f"the script normally used for {tag}")


def find_banned_terms(*, banned_terms: Iterable[str], texts: Mapping[str, str]) -> list[BannedTermMatch]:
    """Every (term, field) where a banned term occurs in a text, in field order then term order.

    Matching ignores case and Unicode normalisation differences (NFKC + case folding: composed or
    decomposed accents, full-width Latin, half-width kana). A term in a script written with spaces between
    words (Latin, Devanagari, Bengali...) must occur as a whole word; a term containing characters of a
    script written without spaces (Chinese, Japanese, Thai...) or Hangul (Korean attaches particles to the
    noun: 싸구려를) matches anywhere. Invisible characters inside a word and look-alike letters of other
    scripts do not hide a term (`governance.safety.screening`: format characters stripped, TR39 skeletons).
    The matcher is shared with the safety blocklists (`governance.safety.matching`), so both screens treat
    text alike; a match reports the term as the policy spells it.
    """
    return [BannedTermMatch(term=m.term, field=m.field) for m in find_terms(terms=banned_terms, texts=texts)]


def _clean_block(text: str) -> str:
    """NFC, one newline convention, no trailing spaces, at most one blank line in a row, trimmed."""
    text = unicodedata.normalize("NFC", text or "").replace("\r\n", "\n").replace("\r", "\n")
    text = "\n".join(line.rstrip() for line in text.split("\n"))
    return re.sub(r"\n{3,}", "\n\n", text).strip()


def _clean_copy(copy: str) -> str:
    text = unicodedata.normalize("NFC", copy).strip()
    if not text:
        raise ValueError("the in-image copy is empty")
    # A straight quote inside the copy would end the quoted copy early: use typographic ones, paired.
    return _pair_quotes(text, _ASCII_QUOTE, LEFT_DOUBLE, RIGHT_DOUBLE)


def _neutralise_quotes(text: str) -> str:
    return _pair_quotes(text, _STRAIGHT_QUOTES, LEFT_SINGLE, RIGHT_SINGLE).translate(_QUOTE_MARKS)


def _pair_quotes(text: str, pattern: re.Pattern[str], opening: str, closing: str) -> str:
    count = 0

    def replace(_match: re.Match[str]) -> str:
        nonlocal count
        count += 1
        return opening if count % 2 else closing

    return pattern.sub(replace, text)


def _locale_instruction(tag: str, copy: str | None) -> str:
    language = language_for(tag)
    if copy is None:
        return f"Any text in the image must be in {language.name} ({tag}), written in {language.script}."
    # No quote mark may precede the copy's opening quote in this sentence.
    return (
        f"Text in the image: render exactly the following {language.name} ({tag}) text, written in "
        f"{language.script}, character for character, without translating, transliterating or adding words: "
        f'"{copy}"'
    )
