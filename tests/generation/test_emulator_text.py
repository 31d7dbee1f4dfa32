"""In-image text: quoted text is found, every script gets a font that really has its glyphs, and complex
scripts are shaped (raqm), so nothing renders as boxes."""

from __future__ import annotations

import pytest
from fontTools.ttLib import TTFont
from PIL import Image, ImageChops, ImageDraw, ImageFont, features

from generation.emulator import text

SAMPLES = {
    "japanese": "春の新作コレクション",
    "korean": "새로운 컬렉션",
    "chinese": "新品上市",
    "hindi": "दिवाली की शुभकामनाएं",
    "bengali": "শুভ দীপাবলি",
    "latin": "Summer Sale — 50% off",
}
SHAPED = {"hindi": "कि क्षत्रिय", "bengali": "কি ক্ষত্রিয়"}  # a reordered vowel sign and conjuncts


def test_quoted_texts_in_every_quote_style():
    prompt = 'Banner "Summer Sale" with “春のセール”, 「新品」 and 『限定』 but not "" or an apostrophe\'s'
    assert text.quoted_texts(prompt) == ["Summer Sale", "春のセール", "新品", "限定"]


def test_a_prompt_without_quotes_has_no_text():
    assert text.quoted_texts("a quiet lake at dawn") == []


def test_raqm_layout_is_available():
    assert features.check("raqm"), "install libraqm0: complex scripts need raqm to be shaped"


@pytest.mark.parametrize("name", sorted(SAMPLES))
def test_every_character_maps_to_a_glyph_of_the_chosen_font(name):
    for run_text, face in text.runs(SAMPLES[name], "Bold"):
        path = text.font_path(face, "Bold")
        assert path is not None, f"{face.filename} is not installed"
        with TTFont(path, fontNumber=face.index, lazy=True) as font:
            cmap = font.getBestCmap()
        missing = [f"U+{ord(c):04X}" for c in run_text if ord(c) not in cmap]
        assert not missing, f"{path.name}#{face.index} lacks {missing}"


@pytest.mark.parametrize(
    ("name", "expected_file", "expected_index"),
    [
        ("japanese", "NotoSansCJK-Bold.ttc", 0),
        ("korean", "NotoSansCJK-Bold.ttc", 1),
        ("chinese", "NotoSansCJK-Bold.ttc", 2),
        ("hindi", "NotoSansDevanagari-Bold.ttf", 0),
        ("bengali", "NotoSansBengali-Bold.ttf", 0),
        ("latin", "NotoSans-Bold.ttf", 0),
    ],
)
def test_each_script_gets_its_own_face(name, expected_file, expected_index):
    faces = {(face.filename.format(weight="Bold"), face.index) for _, face in text.runs(SAMPLES[name], "Bold")}
    assert faces == {(expected_file, expected_index)}


def test_mixed_lines_split_into_runs_per_script():
    pieces = text.runs("Sale नमस्ते 日本", "Regular")
    assert [face.filename.split("-")[0] for _, face in pieces] == ["NotoSans", "NotoSansDevanagari", "NotoSansCJK"]
    assert "".join(run for run, _ in pieces) == "Sale नमस्ते 日本"


def _ink(font: ImageFont.FreeTypeFont, value: str, language: str | None = None) -> Image.Image:
    left, top, right, bottom = font.getbbox(value, language=language)
    image = Image.new("L", (right - left + 8, bottom - top + 8), 0)
    ImageDraw.Draw(image).text((4 - left, 4 - top), value, font=font, fill=255, language=language)
    return image


@pytest.mark.parametrize("name", ["japanese", "korean", "chinese", "hindi", "bengali"])
def test_glyphs_are_real_not_notdef_boxes(name):
    """Each character draws ink, and not the font's .notdef box (what a missing glyph looks like)."""
    ((run_text, face),) = text.runs(SAMPLES[name], "Regular")
    font = text.load_font(face, 64, "Regular")
    notdef = _ink(font, "\U0010fffd").tobytes()  # a private-use code point no Noto font maps
    for char in {c for c in run_text if not c.isspace() and ord(c) > 0x7F}:
        glyph = _ink(font, char, face.language)
        assert glyph.getbbox() is not None, f"U+{ord(char):04X} draws nothing"
        assert glyph.tobytes() != notdef, f"U+{ord(char):04X} draws the .notdef box"


@pytest.mark.parametrize("name", sorted(SHAPED))
def test_complex_scripts_are_shaped(name):
    """raqm reorders the i-sign before its consonant and forms conjuncts; per-codepoint layout does not."""
    ((run_text, face),) = text.runs(SHAPED[name], "Regular")
    path = str(text.font_path(face, "Regular"))
    shaped = ImageFont.truetype(path, 64, layout_engine=ImageFont.Layout.RAQM)
    unshaped = ImageFont.truetype(path, 64, layout_engine=ImageFont.Layout.BASIC)
    assert text.load_font(face, 64, "Regular").layout_engine == ImageFont.Layout.RAQM
    a, b = _ink(shaped, run_text, face.language), _ink(unshaped, run_text)
    if a.size == b.size:
        assert ImageChops.difference(a, b).getbbox() is not None
    # Conjuncts make the shaped text narrower than its codepoints set side by side.
    assert shaped.getlength(run_text, language=face.language) < unshaped.getlength(run_text)


def test_long_text_wraps_within_the_width():
    lines = text.wrap(
        "Discover the new spring collection in stores and online today", size=48, weight="Bold", max_width=500
    )
    assert len(lines) > 1
    assert all(line.width() <= 500 for line in lines)
    assert " ".join(line.text for line in lines) == "Discover the new spring collection in stores and online today"


def test_japanese_wraps_between_characters_keeping_punctuation():
    lines = text.wrap("春の新作コレクション、今すぐ購入してください。", size=64, weight="Regular", max_width=400)
    assert len(lines) > 1
    assert "".join(line.text for line in lines) == "春の新作コレクション、今すぐ購入してください。"
    assert not any(line.text.startswith(("、", "。")) for line in lines)


def test_a_dash_stays_with_the_word_before_it():
    lines = text.wrap("Summer Sale — 50% off", size=96, weight="Bold", max_width=700)
    assert len(lines) > 1
    assert not any(line.text.startswith("—") for line in lines)
