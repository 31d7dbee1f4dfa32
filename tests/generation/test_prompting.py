"""Prompt compilation (byte-stable brand prefix, the locale's copy as the first quoted text) and banned terms."""

from __future__ import annotations

import hashlib
import unicodedata

import pytest
from hypothesis import given
from hypothesis import strategies as st

from generation.emulator.text import quoted_texts
from generation.prompting import (
    LANGUAGES,
    BannedTermMatch,
    BrandPolicySnapshot,
    canonical_locale,
    compile_prompt,
    find_banned_terms,
)

POLICY = BrandPolicySnapshot(
    style_guide='Warm golden-hour light, soft shadows.\nNo "busy" backgrounds; product centred.',
    palette=["#1B1F3B", "#e84545", "#F9D56E"],
    banned_terms=["cheap", "激安"],
    version=3,
)

QUOTE_MARKS = '"\u201c\u201d\u201e\u300c\u300d\u300e\u300f\uff02'
# Latin, kana, Han, Devanagari, Bengali, every quote mark the emulator or a user might use, and whitespace.
PROMPT_TEXT = st.text(
    alphabet=st.sampled_from(list("aZé 新作セール\nसस्ता\u093cবোতল\u09c7\u09be,.!-") + list(QUOTE_MARKS)),
    max_size=60,
)
LOCALES = st.sampled_from([*LANGUAGES, "en-GB", "de-AT", "zh-hant-tw", "tlh", "sr-Latn"])


def _non_blank(text: str) -> bool:
    return bool(text.strip())


# --- the brand prefix ---------------------------------------------------------------------------------------


@given(request=PROMPT_TEXT.filter(_non_blank), locale=LOCALES, copy=PROMPT_TEXT.filter(_non_blank))
def test_brand_prefix_is_the_same_bytes_whatever_the_request_and_locale(request, locale, copy):
    reference = compile_prompt(policy=POLICY, request="A ceramic mug on a walnut table")
    compiled = compile_prompt(policy=POLICY, request=request, locale=locale, copy=copy)

    assert compiled.brand_prefix.encode() == reference.brand_prefix.encode()
    assert compiled.prefix_sha256 == reference.prefix_sha256
    assert compiled.text.encode().startswith(compiled.brand_prefix.encode())
    assert compiled.prefix_sha256 == hashlib.sha256(compiled.brand_prefix.encode("utf-8")).hexdigest()


def test_brand_prefix_carries_the_style_guide_and_palette_but_no_request_data():
    compiled = compile_prompt(policy=POLICY, request="A ceramic mug", locale="ja", copy="新作")

    assert "Warm golden-hour light" in compiled.brand_prefix
    assert "#1B1F3B, #E84545, #F9D56E" in compiled.brand_prefix  # the brand's order, upper-cased
    for request_data in ("ceramic mug", "新作", "Japanese", "ja"):
        assert request_data not in compiled.brand_prefix
    # Banned terms are screened, never written into the prompt (an image model tends to draw what it reads).
    assert "cheap" not in compiled.text and "激安" not in compiled.text


def test_brand_prefix_does_not_depend_on_spelling_that_does_not_change_the_policy():
    composed = BrandPolicySnapshot(style_guide="Caf\u00e9 tones.\n\nSoft light.", palette=["#aabbcc"])
    decomposed_crlf = BrandPolicySnapshot(
        style_guide="  Cafe\u0301 tones.  \r\n\r\n\r\nSoft light.\r\n", palette=["#AABBCC"]
    )
    composed_prefix = compile_prompt(policy=composed, request="x").brand_prefix
    assert compile_prompt(policy=decomposed_crlf, request="x").brand_prefix == composed_prefix
    assert unicodedata.is_normalized("NFC", composed_prefix)


def test_banned_terms_and_version_alone_do_not_invalidate_the_provider_cache():
    # The prefix is a function of what the model reads; a new policy version that only adds a banned term
    # keeps the cached prefix.
    next_version = BrandPolicySnapshot(
        style_guide=POLICY.style_guide,
        palette=POLICY.palette,
        banned_terms=[*POLICY.banned_terms, "bargain"],
        version=4,
    )
    assert compile_prompt(policy=next_version, request="x").prefix_sha256 == (
        compile_prompt(policy=POLICY, request="x").prefix_sha256
    )


@pytest.mark.parametrize(
    "changed",
    [
        BrandPolicySnapshot(style_guide=POLICY.style_guide + " Matte finishes.", palette=POLICY.palette),
        BrandPolicySnapshot(style_guide=POLICY.style_guide, palette=POLICY.palette[:2]),
        BrandPolicySnapshot(style_guide=POLICY.style_guide, palette=list(reversed(POLICY.palette))),
        BrandPolicySnapshot(style_guide="", palette=POLICY.palette),
    ],
    ids=["style guide", "fewer colours", "colour order", "no style guide"],
)
def test_brand_prefix_changes_when_what_the_model_reads_changes(changed):
    before = compile_prompt(policy=POLICY, request="A ceramic mug")
    after = compile_prompt(policy=changed, request="A ceramic mug")

    assert after.brand_prefix != before.brand_prefix
    assert after.prefix_sha256 != before.prefix_sha256


def test_an_empty_policy_gives_an_empty_prefix_and_the_request_alone():
    compiled = compile_prompt(policy=BrandPolicySnapshot(), request="  A ceramic mug  ")

    assert compiled.brand_prefix == ""
    assert compiled.text == "A ceramic mug"


# --- the locale's copy --------------------------------------------------------------------------------------


@given(style=PROMPT_TEXT, request=PROMPT_TEXT.filter(_non_blank), locale=LOCALES, copy=PROMPT_TEXT.filter(_non_blank))
def test_the_copy_is_the_first_quoted_text_the_emulator_finds(style, request, locale, copy):
    policy = BrandPolicySnapshot(style_guide=style, palette=["#112233"])
    compiled = compile_prompt(policy=policy, request=request, locale=locale, copy=copy)

    assert quoted_texts(compiled.text)[0] == compiled.copy
    # The copy is the user's, NFC-normalised and trimmed; only straight quotes inside it became curly.
    unify = str.maketrans({"\u201c": '"', "\u201d": '"'})
    assert compiled.copy.translate(unify) == unicodedata.normalize("NFC", copy).strip().translate(unify)
    assert compiled.text.endswith(f'"{compiled.copy}"')


def test_quotes_in_the_request_are_kept_when_there_is_no_copy():
    compiled = compile_prompt(policy=POLICY, request='A shop window with a sign reading "SALE"')

    assert quoted_texts(compiled.text) == ["SALE"]


@pytest.mark.parametrize(
    ("locale", "copy", "language", "script"),
    [
        ("ja", "秋の新作コレクション", "Japanese", "kana"),
        ("ko", "가을 신상품", "Korean", "Hangul"),
        ("zh", "秋季新品", "Chinese (Simplified)", "simplified Chinese characters"),
        ("zh-Hant", "秋季新品", "Chinese (Traditional)", "traditional Chinese characters"),
        ("zh-TW", "秋季新品", "Chinese (Traditional)", "traditional Chinese characters"),
        ("hi", "शरद ऋतु का नया संग्रह", "Hindi", "Devanagari"),
        ("bn", "শরতের নতুন সংগ্রহ", "Bengali", "Bengali script"),
        ("en-GB", "Autumn colour", "English (GB)", "Latin script"),
        ("de", "Neue Herbstkollektion", "German", "Latin script"),
        ("ar", "مجموعة الخريف", "Arabic", "Arabic script"),
    ],
)
def test_the_copy_instruction_names_the_language_and_its_script(locale, copy, language, script):
    compiled = compile_prompt(policy=POLICY, request="A ceramic mug", locale=locale, copy=copy)

    instruction = compiled.text.removeprefix(compiled.brand_prefix).split("\n\n")[-1]
    assert f"{language} ({compiled.locale})" in instruction
    assert script in instruction
    assert compiled.copy == copy


def test_unknown_locales_fall_back_to_their_code_and_tags_are_canonicalised():
    compiled = compile_prompt(policy=POLICY, request="A mug", locale="TLH", copy="Qapla'")

    assert compiled.locale == "tlh"
    assert "following tlh (tlh) text" in compiled.text
    assert canonical_locale("zh-hant-tw") == "zh-Hant-TW"
    assert canonical_locale("EN-gb") == "en-GB"


def test_a_locale_without_copy_asks_for_text_in_that_language_without_quoting_anything():
    compiled = compile_prompt(policy=POLICY, request="A mug", locale="ja")

    assert compiled.copy is None
    assert "Japanese (ja)" in compiled.text
    assert quoted_texts(compiled.text) == []


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"request": "   "}, "request prompt is empty"),
        ({"request": "A mug", "copy": "新作"}, "needs the locale"),
        ({"request": "A mug", "locale": "ja", "copy": " \n "}, "copy is empty"),
        ({"request": "A mug", "locale": "japanese!"}, "not a BCP 47"),
    ],
)
def test_invalid_inputs_are_refused_with_the_reason(kwargs, message):
    with pytest.raises(ValueError, match=message):
        compile_prompt(policy=POLICY, **kwargs)


def test_a_palette_colour_that_is_not_hex_is_refused():
    with pytest.raises(ValueError, match="#RRGGBB"):
        BrandPolicySnapshot(palette=["#12345", "red"])


# --- banned terms -------------------------------------------------------------------------------------------


def _found(terms: list[str], text: str) -> list[str]:
    return [match.term for match in find_banned_terms(banned_terms=terms, texts={"prompt": text})]


@pytest.mark.parametrize(
    ("term", "text", "found"),
    [
        # Latin: whole words, any case, through normalisation.
        ("cheap", "Cheap! Shoes for everyone", True),
        ("cheap", "a cheaper option, cheapskate", False),
        ("cheap", "\uff23\uff28\uff25\uff21\uff30 shoes", True),  # full-width CHEAP
        ("STRASSE", "the straße at night", True),  # case folding, not lower()
        ("café", "Cafe\u0301 au lait", True),  # decomposed accent in the text
        ("cafe\u0301", "CAFÉ AU LAIT", True),  # decomposed accent in the term
        ("cafe", "café culture", False),  # an accent makes another word
        ("best price", "the best  price", False),  # terms match as written, spaces included
        ("best price", "our BEST PRICE ever", True),
        ("cheap", "新しいcheapなデザイン", True),  # a Latin word embedded in Japanese text
        # Japanese: substrings, full-width and half-width forms.
        ("激安", "今だけ激安セール", True),
        ("セール", "今だけｾｰﾙ開催中", True),  # half-width katakana in the text
        ("ｾｰﾙ", "今だけセール", True),  # half-width katakana in the term
        ("激安", "安い", False),
        # Hindi (Devanagari): whole words, vowel signs and viramas belong to the word.
        ("सस्ता", "यह सस्ता उत्पाद है", True),
        ("सस्त", "यह सस्ता उत्पाद है", False),  # a prefix of the word ending before a vowel sign
        ("सस्ता", "सस्तापन", False),
        ("क़ीमत", "कम क\u093cीमत पर", True),  # precomposed nukta letter vs letter + nukta
        # Bengali: whole words, composed and decomposed vowel sign o.
        ("সস্তা", "এটি সস্তা পণ্য", True),
        ("বোতল", "নতুন ব\u09c7\u09beতল", True),
        ("বোত", "নতুন বোতল", False),
        # Korean: particles attach to the noun, so substrings.
        ("싸구려", "싸구려를 팔지 마세요", True),
    ],
)
def test_banned_terms_match_across_scripts_and_normalisation(term, text, found):
    assert bool(_found([term], text)) is found


def test_banned_term_matches_name_the_term_as_configured_and_the_field():
    matches = find_banned_terms(
        banned_terms=["cheap", "CHEAP", "  ", "激安"],
        texts={"prompt": "Cheap mugs", "locales.ja": "激安マグ", "locales.hi": "सस्ता"},
    )

    assert matches == [
        BannedTermMatch(term="cheap", field="prompt"),
        BannedTermMatch(term="激安", field="locales.ja"),
    ]


@given(text=PROMPT_TEXT, term=st.sampled_from(["sale", "セール", "सस्ता", "বোতল", "क़"]))
def test_matching_does_not_depend_on_the_normal_form_of_the_text(text, term):
    forms = {form: _found([term], unicodedata.normalize(form, text)) for form in ("NFC", "NFD", "NFKC", "NFKD")}

    assert len({tuple(found) for found in forms.values()}) == 1


@given(
    term=st.text(alphabet="abcdefghijklmnopqrstuvwxyzé", min_size=1, max_size=12),
    before=st.sampled_from(["", " ", "new ", "(", "今だけ", "यह "]),
    after=st.sampled_from(["", " ", "!", " shoes", "です", ", "]),
)
def test_a_latin_term_is_found_in_any_case_between_word_boundaries(term, before, after):
    assert _found([term], f"{before}{term.upper()}{after}") == [term]
    assert _found([term], f"{before}{term}x{after}") == []
