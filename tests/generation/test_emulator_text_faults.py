"""Text faults of the emulator, without HTTP: the string drawn (`faulted_copy`) for every supported script, and
what each layout fault does to the picture (card at the edge, tiny copy, colours off any palette)."""

from __future__ import annotations

import io
import random
import unicodedata

import pytest
from hypothesis import given
from hypothesis import strategies as st
from PIL import Image, ImageChops

from generation.emulator.composition import Palette
from generation.emulator.images import (
    OFF_PALETTE_CARD,
    OFF_PALETTE_GROUND,
    RenderSpec,
    crop_cut_line,
    draw_quoted_text,
    faulted_quotes,
    quotes_as_drawn,
    render_generation,
)
from generation.emulator.text_faults import _POOLS, VIRAMAS, ZWNJ, TextFault, _class_of, faulted_copy

# Realistic copy in every locale the platform supports.
COPY = {
    "en": "Summer Sale: up to 50% off",
    "de": "Große Auswahl für Ihre Küche",
    "fr": "Livraison gratuite dès 49 €",
    "es": "Nueva colección de otoño",
    "it": "Saldi di fine stagione",
    "pt": "Promoção de verão: até 40%",
    "ja": "春の新作コレクション",
    "ko": "새로운 컬렉션 특가",
    "zh-Hans": "新品上市 全场包邮",
    "zh-Hant": "新品上市 全館免運",
    "hi": "दिवाली की शुभकामनाएं",
    "bn": "শুভ দীপাবলি উৎসবের অফার",
}
CONJUNCTS = {"hi": "क्षत्रिय स्टाइल", "bn": "ক্ষত্রিয় স্টাইল"}
SEEDS = range(40)


def _no_surrogates(value: str) -> bool:
    value.encode("utf-8")  # raises on a lone surrogate
    return not any(0xD800 <= ord(c) <= 0xDFFF for c in value)


def _script_key(char: str) -> str | None:
    kind = _class_of(char)
    return "latin" if kind in ("latin_lower", "latin_upper") else kind


@pytest.mark.parametrize("locale", sorted(COPY))
def test_substitute_replaces_one_letter_by_a_different_looking_one_of_its_script(locale):
    copy = COPY[locale]
    positions = set()
    for seed in SEEDS:
        drawn = faulted_copy(copy, TextFault.SUBSTITUTE, random.Random(seed))
        assert _no_surrogates(drawn)
        assert len(drawn) == len(copy)
        (at,) = [i for i, (a, b) in enumerate(zip(copy, drawn, strict=True)) if a != b]
        positions.add(at)
        original, replaced = copy[at], drawn[at]
        assert unicodedata.category(original).startswith("L")
        assert _script_key(replaced) == _script_key(original), (original, replaced)
        kind = _class_of(original)
        if kind in _POOLS:
            base = unicodedata.normalize("NFD", original)[0]
            assert not any(base in group and replaced in group for group in _POOLS[kind][1]), (original, replaced)
        assert faulted_copy(copy, TextFault.SUBSTITUTE, random.Random(seed)) == drawn  # the seed decides
    assert len(positions) > 3  # not always the same letter


def test_hangul_substitution_keeps_the_vowel_and_changes_the_initial_group():
    for seed in SEEDS:
        drawn = faulted_copy("컬렉션", TextFault.SUBSTITUTE, random.Random(seed))
        (at,) = [i for i in range(3) if drawn[i] != "컬렉션"[i]]
        before, after = divmod(ord("컬렉션"[at]) - 0xAC00, 21 * 28), divmod(ord(drawn[at]) - 0xAC00, 21 * 28)
        assert before[1] == after[1]  # same vowel and final consonant
        assert {before[0], after[0]} not in ({0, 15}, {3, 16}, {7, 17}, {11, 18})  # ㄱ/ㅋ, ㄷ/ㅌ, ㅂ/ㅍ, ㅇ/ㅎ


@pytest.mark.parametrize("locale", sorted(COPY))
def test_drop_leaves_out_one_letter_with_its_marks(locale):
    copy = COPY[locale]
    for seed in SEEDS:
        drawn = faulted_copy(copy, TextFault.DROP, random.Random(seed))
        assert _no_surrogates(drawn)
        at = next(i for i in range(len(copy)) if i >= len(drawn) or copy[i] != drawn[i])
        removed = len(copy) - len(drawn)
        assert copy[:at] + copy[at + removed :] == drawn
        gone = copy[at : at + removed]
        assert unicodedata.category(gone[0]).startswith("L"), gone
        assert all(unicodedata.category(c).startswith("M") for c in gone[1:]), gone
        # No vowel sign or virama is left without its consonant.
        assert at == len(drawn) or not unicodedata.category(drawn[at]).startswith("M")


def test_drop_in_devanagari_takes_the_vowel_sign_with_its_consonant():
    drawn = {faulted_copy("की", TextFault.DROP, random.Random(seed)) for seed in SEEDS}
    assert drawn == {"की"}  # a one-letter copy stays: there would be nothing left to draw
    drawn = {faulted_copy("शुभ दिन", TextFault.DROP, random.Random(seed)) for seed in SEEDS}
    assert drawn == {"भ दिन", "शु दिन", "शुभ न", "शुभ दि"}


@pytest.mark.parametrize("locale", sorted(CONJUNCTS))
def test_conjunct_breaks_a_conjunct_with_a_zwnj_after_the_virama(locale):
    copy = CONJUNCTS[locale]
    seen = set()
    for seed in SEEDS:
        drawn = faulted_copy(copy, TextFault.CONJUNCT, random.Random(seed))
        assert _no_surrogates(drawn)
        at = drawn.index(ZWNJ)
        assert drawn[at - 1] in VIRAMAS
        assert drawn.replace(ZWNJ, "", 1) == copy
        seen.add(at)
    assert len(seen) == copy.count("\u094d") + copy.count("\u09cd")  # every conjunct can be the one


@pytest.mark.parametrize(("copy", "expected"), [("कि", "िक"), ("দিন", "িদন")])
def test_conjunct_without_a_conjunct_moves_the_vowel_sign_before_its_consonant(copy, expected):
    assert faulted_copy(copy, TextFault.CONJUNCT, random.Random(1)) == expected


@pytest.mark.parametrize("locale", ["en", "de", "ja", "ko", "zh-Hant"])
def test_conjunct_in_other_scripts_swaps_two_adjacent_letters(locale):
    copy = COPY[locale]
    for seed in SEEDS:
        drawn = faulted_copy(copy, TextFault.CONJUNCT, random.Random(seed))
        changed = [i for i, (a, b) in enumerate(zip(copy, drawn, strict=True)) if a != b]
        assert len(changed) == 2 and changed[1] == changed[0] + 1
        assert (drawn[changed[0]], drawn[changed[1]]) == (copy[changed[1]], copy[changed[0]])


@pytest.mark.parametrize("fault", [TextFault.CROP_CUT, TextFault.TINY, TextFault.OFF_PALETTE, None])
def test_layout_faults_draw_the_copy_as_written(fault):
    assert faulted_copy(COPY["hi"], fault, random.Random(0)) == COPY["hi"]


def test_a_copy_of_digits_gets_a_digit_changed_and_one_with_nothing_to_change_stays():
    assert faulted_copy("50%", TextFault.SUBSTITUTE, random.Random(0)) != "50%"
    assert faulted_copy("!!!", TextFault.SUBSTITUTE, random.Random(0)) == "!!!"


@given(st.text(min_size=1, max_size=40), st.sampled_from(sorted(TextFault)), st.integers(0, 2**32))
def test_any_copy_gives_a_drawable_string(copy, fault, seed):
    """No crash, no lone surrogate, at most one character's worth of change (plus a ZWNJ or a swap)."""
    drawn = faulted_copy(copy, fault, random.Random(seed))
    assert isinstance(drawn, str)
    if _no_surrogates(copy):
        assert _no_surrogates(drawn)
    assert abs(len(drawn) - len(copy)) <= 1 + sum(unicodedata.category(c).startswith("M") for c in copy)


def test_the_headline_alone_is_faulted_and_the_seed_decides_how():
    quotes = ["Summer Sale", "Only this week"]
    faulted = faulted_quotes(quotes, TextFault.SUBSTITUTE, seed=7)
    assert faulted[1] == "Only this week" and faulted[0] != "Summer Sale"
    assert faulted_quotes(quotes, TextFault.SUBSTITUTE, seed=7) == faulted
    assert faulted_quotes(quotes, None, seed=7) == quotes


def test_quotes_as_drawn_names_the_string_the_render_draws():
    correct = RenderSpec('Poster "Summer Sale" and "This week"', 1024, 1024, "low", "png", None, False)
    dropped = RenderSpec(correct.prompt, 1024, 1024, "low", "png", None, False, "drop")
    assert quotes_as_drawn(correct) == ["Summer Sale", "This week"]
    (headline, rest) = quotes_as_drawn(dropped)
    assert rest == "This week" and len(headline) == len("Summer Sale") - 1
    assert quotes_as_drawn(dropped) == [headline, rest]
    # It is the string drawn: rendering it as written gives the faulted picture's pixels.
    as_written = RenderSpec(f'Poster "{headline}" and "This week"', 1024, 1024, "low", "png", None, False)
    assert render_generation(as_written, 0) == render_generation(dropped, 0)


# --- the pictures -------------------------------------------------------------------------------------------------

PROMPT = 'Summer campaign banner with "Summer Sale: up to 50% off"'
DARK_CARD = Palette(((20, 20, 40), (60, 60, 90), (200, 80, 60), (220, 220, 220), (250, 250, 240)))


def _render(fault: str | None, size=(1024, 1024), prompt=PROMPT) -> Image.Image:
    spec = RenderSpec(prompt, *size, "low", "png", None, False, fault)
    return Image.open(io.BytesIO(render_generation(spec, 0))).convert("RGB")


def _ink_box(fault: TextFault | None, size: tuple[int, int], copy: str = "Summer Sale: up to 50% off"):
    """The card's box and the bounding box of the ink (the palette's lightest colour) on a flat grey picture."""
    image = Image.new("RGBA", size, (128, 128, 128, 255))
    card = draw_quoted_text(image, [copy], DARK_CARD, random.Random(3), fault=fault)
    ink = Image.new("RGB", size, DARK_CARD.lightest)
    mask = ImageChops.difference(image.convert("RGB"), ink).convert("L").point(lambda v: 255 if v < 8 else 0)
    return card, mask.getbbox()


@pytest.mark.parametrize("fault", ["substitute", "drop", "conjunct"])
def test_string_faults_change_the_text_and_nothing_else(fault):
    correct, faulted = _render(None), _render(fault)
    changed = ImageChops.difference(correct, faulted).getbbox()
    assert changed is not None
    # Only the card's region changes: the scene, its palette and the card's place are the same.
    x0, y0, x1, y1 = changed
    assert (x1 - x0) * (y1 - y0) < 0.5 * 1024 * 1024
    assert (
        ImageChops.difference(correct.crop((0, 900, 1024, 1024)), faulted.crop((0, 900, 1024, 1024))).getbbox() is None
    )


@pytest.mark.parametrize(("size", "edge"), [((1536, 1024), "left"), ((1024, 1536), "top"), ((1024, 1024), "top")])
@pytest.mark.parametrize("copy", ["Sale", "Summer Sale: up to 50% off", "新品上市", "শুভ দীপাবলি উৎসবের অফার"])
def test_crop_cut_sets_the_card_on_the_edge_and_the_centre_crop_line_through_the_copy(size, edge, copy):
    (card, ink), (normal, _) = _ink_box(TextFault.CROP_CUT, size, copy), _ink_box(None, size, copy)
    side, line = crop_cut_line(*size)
    assert side == edge
    if edge == "left":
        assert card[0] == 0 and normal[0] > 0
        assert ink[0] < line < ink[2], (ink, line)  # the square centre crop starts inside the copy
    else:
        assert card[1] == 0
        assert ink[1] < line < ink[3], (ink, line)


def test_crop_cut_line_is_the_centre_crop_to_another_aspect():
    assert crop_cut_line(1536, 1024) == ("left", 256)  # square crop keeps x 256..1280
    assert crop_cut_line(1024, 1536) == ("top", 256)
    assert crop_cut_line(1024, 1024) == ("top", 224)  # 16:9 crop keeps y 224..800
    # At the model's widest and tallest aspects, the crops a size plan makes: a leaderboard, a skyscraper.
    assert crop_cut_line(1536, 512) == ("top", 58)  # 970x250 from 1536x512 keeps y 58..454
    assert crop_cut_line(512, 1536) == ("left", 51)  # 160x600 from 512x1536 keeps x 51..461


def test_tiny_sets_the_copy_at_about_one_percent_of_the_short_side():
    (tiny_card, tiny_ink), (_, normal_ink) = _ink_box(TextFault.TINY, (1536, 1024)), _ink_box(None, (1536, 1024))
    tiny_height, normal_height = tiny_ink[3] - tiny_ink[1], normal_ink[3] - normal_ink[1]
    assert tiny_height <= 0.02 * 1024, tiny_height  # a 12 px font: ~3 px once 1024 becomes a 250 px banner
    assert normal_height > 5 * tiny_height
    assert tiny_card[3] - tiny_card[1] < 0.04 * 1024


def test_off_palette_paints_magenta_and_green_and_keeps_the_copy():
    image, normal = _render("off_palette"), _render(None)
    colours = {rgb: n for n, rgb in image.getcolors(1024 * 1024)}
    pixels = 1024 * 1024
    assert colours.get(OFF_PALETTE_GROUND, 0) > 0.4 * pixels
    assert colours.get(OFF_PALETTE_GROUND, 0) + colours.get(OFF_PALETTE_CARD, 0) > 0.75 * pixels
    normal_colours = {rgb for _, rgb in normal.getcolors(1024 * 1024)}
    assert OFF_PALETTE_GROUND not in normal_colours
    assert colours.get((0, 0, 0), 0) > 500  # black ink on the green card: the copy is still there and legible
