"""Screening sees through invisible characters and look-alike letters of other scripts (TR39 skeletons),
for the brand policy's banned terms, the safety blocklists and the local lexicon alike, without taking
ordinary ASCII spellings or legitimate non-Latin text for a banned term."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from generation.prompting import find_banned_terms
from governance.safety.lexicon import lexicon_severities
from governance.safety.moderation import blocklist_hits
from governance.safety.policy import BlocklistItem, SafetyPolicy
from governance.safety.presets import PRESETS
from governance.safety.screening import ScreenedText, bidi_control_in, visible

# Spelt with escapes: the look-alikes are the point, and a reader must see which is which.
CYRILLIC_ES, CYRILLIC_IE, CYRILLIC_A, CYRILLIC_ER, CYRILLIC_I = "\u0441", "\u0435", "\u0430", "\u0440", "\u0456"
GREEK_OMICRON, GREEK_IOTA, GREEK_ALPHA = "\u03bf", "\u03b9", "\u03b1"

INVISIBLES = {
    "zero width space": "\u200b",
    "zero width non-joiner": "\u200c",
    "zero width joiner": "\u200d",
    "word joiner": "\u2060",
    "soft hyphen": "\u00ad",
    "byte order mark": "\ufeff",
    "variation selector 16": "\ufe0f",
    "variation selector 17": "\U000e0100",
    "tag characters": "\U000e0063\U000e0068\U000e007f",
    "right-to-left override": "\u202e",
    "left-to-right embedding and pop": "\u202a\u202c",
    "first strong isolate": "\u2068",
    "right-to-left mark": "\u200f",
    "arabic letter mark": "\u061c",
    "combining grapheme joiner": "\u034f",
    "hangul filler": "\u3164",
    "mongolian free variation selector": "\u180b",
}

LOOKALIKES = {
    "cyrillic es": f"{CYRILLIC_ES}heap",
    "cyrillic ie and a": f"ch{CYRILLIC_IE}{CYRILLIC_A}p",
    "cyrillic except the h": f"{CYRILLIC_ES}h{CYRILLIC_IE}{CYRILLIC_A}{CYRILLIC_ER}",
    "upper case with cyrillic": f"{CYRILLIC_ES.upper()}HEAP",
    "greek omicron": f"g{GREEK_OMICRON}{GREEK_OMICRON}d deal",
    "greek iota and alpha": f"m{GREEK_IOTA}r{GREEK_ALPHA}cle",
}
BANNED = ["cheap", "miracle", "good deal"]


def banned(text: str, terms=BANNED) -> list[str]:
    return [match.term for match in find_banned_terms(banned_terms=terms, texts={"prompt": text})]


def blocklist(*items: BlocklistItem) -> SafetyPolicy:
    preset = PRESETS["general"]
    return SafetyPolicy(
        version=1,
        preset="general",
        prompt_thresholds=preset.prompt_thresholds,
        output_thresholds=preset.output_thresholds,
        blocklist=items,
    )


def term(text: str) -> BlocklistItem:
    return BlocklistItem(BlocklistItem.item_id(text, False), text)


def pattern(text: str) -> BlocklistItem:
    return BlocklistItem(BlocklistItem.item_id(text, True), text, regex=True)


def blocked_by(policy: SafetyPolicy, text: str) -> list[str]:
    return [hit.text for hit in blocklist_hits(policy=policy, texts={"prompt": text})["prompt"]]


@pytest.mark.parametrize("name", sorted(INVISIBLES))
def test_an_invisible_character_inside_a_banned_term_does_not_hide_it(name):
    hidden = "ch" + INVISIBLES[name] + "eap"
    assert banned(f"A {hidden} sneaker") == ["cheap"]
    assert blocked_by(blocklist(term("cheap")), f"A {hidden} sneaker") == ["cheap"]


@pytest.mark.parametrize("name", sorted(LOOKALIKES))
def test_a_look_alike_letter_of_another_script_does_not_hide_a_banned_term(name):
    assert banned(f"A {LOOKALIKES[name]} offer") != []


def test_invisible_characters_and_look_alikes_together_do_not_hide_a_banned_term():
    mixed = f"{CYRILLIC_ES}\u200bh\u00ad{CYRILLIC_IE}\u2060a\ufe0fp"
    assert banned(f"so {mixed}!") == ["cheap"]
    assert blocked_by(blocklist(term("cheap")), f"so {mixed}!") == ["cheap"]


def test_the_term_is_reported_as_the_list_spells_it():
    assert banned(f"{CYRILLIC_ES}heap", terms=["Cheap"]) == ["Cheap"]
    # A term saved with a stray Cyrillic letter still finds the plain spelling.
    assert banned("so cheap", terms=[f"{CYRILLIC_ES}heap"]) == [f"{CYRILLIC_ES}heap"]


def test_a_non_latin_term_is_found_when_written_with_latin_look_alikes():
    cheap_ru = "\u0434\u0435\u0448\u0435\u0432\u043e"  # дешево
    with_latin = cheap_ru.replace("\u0435", "e").replace("\u043e", "o")
    assert banned(f"\u0441\u043e\u0432\u0441\u0435\u043c {with_latin}", terms=[cheap_ru]) == [cheap_ru]


def test_a_blocklist_regular_expression_sees_through_invisibles_and_look_alikes():
    policy = blocklist(pattern(r"free\s+gift"))
    assert blocked_by(policy, "fr\u00adee\u200b gift inside") == [r"free\s+gift"]
    assert blocked_by(policy, f"FR{CYRILLIC_IE.upper()}E GIFT inside") == [r"free\s+gift"]
    assert blocked_by(policy, "a freebie gift") == []


# Plain ASCII spellings that TR39 skeletons fold together (m -> rn, 1 -> l, 0 -> O): ordinary words,
# never taken for one another.
@pytest.mark.parametrize(
    ("listed", "text"),
    [("bum", "burn the midnight oil"), ("modem", "a modern kitchen"), ("hello", "he11o world"), ("gold", "g0ld")],
)
def test_ascii_look_alike_spellings_are_not_matched(listed, text):
    assert banned(text, terms=[listed]) == []
    assert blocked_by(blocklist(term(listed)), text) == []


def test_look_alikes_are_matched_as_whole_words_only():
    assert banned(f"{CYRILLIC_ES}heapest in town") == []
    assert banned(f"{CYRILLIC_ES}heap in town") == ["cheap"]
    # `ni` is not inside `m` + Cyrillic i, although the skeleton of that is `rni`.
    assert banned(f"m{CYRILLIC_I}", terms=["ni"]) == []


def test_legitimate_japanese_and_hindi_text_passes():
    terms = ["cheap", "激安", "エロ", "सस्ता", "घटिया"]
    japanese = "新しいエコバッグ、夏のコレクション。ロゴは左上に"
    # Conjuncts with ZWJ (half forms) and ZWNJ (explicit virama), and an emoji ZWJ sequence.
    hindi = (
        "\u0915\u094d\u200d\u0937\u092e\u093e \u0915\u0940\u091c\u093f\u090f, "
        "\u0915\u094d\u200c\u0937 \U0001f469\u200d\U0001f4bb"
    )
    for text in (japanese, hindi, "A summer sale in Tokyo"):
        assert banned(text, terms=terms) == []
        assert blocked_by(blocklist(*map(term, terms)), text) == []
    assert banned("夏の工口セール", terms=terms) == ["エロ"]  # kanji look-alikes of katakana are look-alikes too


def test_the_local_lexicon_sees_through_them_too():
    assert lexicon_severities("a nu\u200bde figure")["sexual"] == 4
    assert lexicon_severities(f"g{GREEK_OMICRON}re")["violence"] == 6


def test_invisible_characters_are_removed_only_for_matching():
    text = "\u0915\u094d\u200d\u0937"
    assert visible(text) == "\u0915\u094d\u0937" and text == "\u0915\u094d\u200d\u0937"
    assert ScreenedText.of(f"{CYRILLIC_ES}heap").skeleton == "cheap"


def test_bidi_embeddings_overrides_and_isolates_are_named():
    assert bidi_control_in("abc\u202edef") == "U+202E"
    assert bidi_control_in("\u2066x\u2069") == "U+2066"
    # Marks are ordinary in Arabic and Hebrew text.
    assert bidi_control_in("\u05e9\u05dc\u05d5\u05dd\u200f 1") is None


CF_CHARACTERS = st.characters(categories=["Cf"])


@given(
    word=st.sampled_from(["cheap", "miracle", "激安", "सस्ता", "\u0434\u0435\u0448\u0435\u0432\u043e"]),
    insertions=st.lists(st.tuples(st.integers(min_value=0), CF_CHARACTERS), min_size=1, max_size=4),
)
def test_inserting_format_characters_anywhere_into_a_banned_word_never_evades_the_match(word, insertions):
    hidden = list(word)
    for position, char in insertions:
        hidden.insert(position % (len(hidden) + 1), char)
    text = "the " + "".join(hidden) + " offer"
    assert banned(text, terms=[word]) == [word]
    assert blocked_by(blocklist(term(word)), text) == [word]


def _lookalikes_of_ascii_letters() -> dict[str, list[str]]:
    """Letters of Greek, Cyrillic and Armenian whose TR39 skeleton is one ASCII letter (from ICU's data)."""
    from governance.safety.screening import char_skeleton, fold

    table: dict[str, list[str]] = {}
    for code in range(0x0370, 0x0590):
        char = chr(code)
        if not char.isalpha() or len(fold(char)) != 1:
            continue
        skeleton = char_skeleton(fold(char))
        if len(skeleton) == 1 and skeleton.isascii() and skeleton.isalpha():
            table.setdefault(skeleton, []).append(char)
    return table


LOOKALIKE_TABLE = _lookalikes_of_ascii_letters()


@given(
    word=st.sampled_from(["cheap", "miracle", "guaranteed", "bargain"]),
    choices=st.lists(st.tuples(st.integers(min_value=0), st.integers(min_value=0)), min_size=1, max_size=5),
)
def test_replacing_letters_of_a_banned_word_with_look_alikes_of_other_scripts_never_evades_the_match(word, choices):
    letters = list(word)
    for position, pick in choices:
        index = position % len(letters)
        options = LOOKALIKE_TABLE.get(word[index])
        if options:
            letters[index] = options[pick % len(options)]
    text = "the " + "".join(letters) + " offer"
    assert banned(text, terms=[word]) == [word], text


@pytest.mark.parametrize(
    "text",
    ["so cheap\u2122 today", "cheap\u2460 offer", "\u2122cheap", "a miracle\u00b2 cream", "good deal\u2120 now"],
    ids=["trade mark sign", "circled digit", "sign before", "superscript two", "service mark"],
)
def test_a_compatibility_symbol_glued_to_a_word_does_not_hide_it(text):
    # NFKC spells these symbols out as letters or digits (TM, 1, 2, SM) that would join the word before them.
    assert banned(text)


def test_letters_that_nfkc_folds_still_join_their_word():
    # Full-width letters and ligatures are letters: they fold into the word, they do not split it.
    assert banned("\uff43\uff48\uff45\uff41\uff50") == ["cheap"]
    assert banned("mira\ufb02e") == []  # "mirafle": the fl ligature is two letters of another word
    assert banned("cheapest") == []
