"""The reading rules of dam.checks.ocr, each on an emulator render that bench/ocr_accuracy.py misread without it.

Every case is one of the benchmark's own (locale, index, copy, placement): the picture is drawn by the emulator's
renderer exactly as the benchmark draws it and read with the real Tesseract. Each test also reads the picture with
its rule switched off and asserts the misread, so the test shows what the rule is for (Tesseract is
deterministic for a given image and model).
"""

from __future__ import annotations

import math

import pytest

from bench.ocr_accuracy import render
from dam.checks import ocr
from dam.checks.copy import CopyVerdict, compare_copy
from dam.checks.ocr import OcrReading, TextBox, read_text


def _verdict(locale: str, index: int, copy: str, placement: str) -> tuple[CopyVerdict, str]:
    image, _, drawn = render(locale, index, copy, placement, None)
    assert drawn == copy
    reading = read_text(image, locale=locale)
    return compare_copy(expected=copy, reading=reading, locale=locale).verdict, reading.text


@pytest.fixture
def fresh_engines(monkeypatch: pytest.MonkeyPatch) -> None:
    """Engines are cached per thread by language set: a test that changes the models loads new ones."""
    monkeypatch.setattr(ocr._local, "engines", {}, raising=False)


@pytest.mark.parametrize(
    "case",
    [
        ("zh-Hans", 6, "节日庆典", "1024x1536"),  # ~100 px glyphs: read as nothing at the working scale
        ("fr", 0, "Soldes", "1024x1024"),  # a one-word headline ~110 px tall: read as marks ("_ / À")
    ],
)
def test_regions_are_scaled_to_a_line_height_tesseract_reads(
    monkeypatch: pytest.MonkeyPatch, case: tuple[str, int, str, str]
) -> None:
    """A short headline is set large: at the working scale its line is ~100 px tall, and Tesseract reads such
    lines badly or not at all; scaled to LINE_HEIGHT it reads."""
    verdict, text = _verdict(*case)
    assert verdict is CopyVerdict.EXACT, text
    monkeypatch.setattr(ocr, "MIN_ZOOM", 1.0)
    monkeypatch.setattr(ocr, "MAX_ZOOM", 1.0)
    verdict, text = _verdict(*case)
    assert verdict is not CopyVerdict.EXACT, text


@pytest.mark.parametrize(
    "case",
    [
        ("fr", 12, "Qualité garantie Faites-vous plaisir! Chemises en lin", "1024x1024"),  # read "plaisir! ps"
        ("ja", 24, "送料無料！いつでも低価格", "1024x1024"),  # noqa: RUF001 - the first line was lost
    ],
)
def test_thick_shape_pieces_are_removed_from_a_region(
    monkeypatch: pytest.MonkeyPatch, case: tuple[str, int, str, str]
) -> None:
    """Pieces of background shapes in the ink's colour, cut by the translucent card, sit beside the headline
    in its region: read as letters, or they make the region a block Tesseract misreads. Their strokes are far
    thicker than the glyphs' (STROKE_OUTLIER x the region's median), so they are removed before reading."""
    verdict, text = _verdict(*case)
    assert verdict is CopyVerdict.EXACT, text
    monkeypatch.setattr(ocr, "STROKE_OUTLIER", math.inf)
    verdict, text = _verdict(*case)
    assert verdict is not CopyVerdict.EXACT, text


@pytest.mark.usefixtures("fresh_engines")
def test_japanese_reads_best_int_first(monkeypatch: pytest.MonkeyPatch) -> None:
    """Debian's fast jpn model returns nothing for the clean line 送料無料 in Noto Sans CJK Bold (at any size),
    and as the first model of a set it gives the line up before best_int is tried; best_int first reads it."""
    assert ocr.engine_languages("jpn+jpn_vert", str(ocr.PROJECT_TESSDATA)) == "jpn_best+jpn+jpn_vert"
    case = ("ja", 6, "5000円以上で送料無料", "1024x1536")
    verdict, text = _verdict(*case)
    assert verdict is CopyVerdict.EXACT, text
    monkeypatch.setitem(ocr.WITH_BEST_INT, "jpn+jpn_vert", "jpn+jpn_best+jpn_vert")
    monkeypatch.setattr(ocr._local, "engines", {})
    verdict, text = _verdict(*case)
    assert verdict is not CopyVerdict.EXACT, text


def test_lines_are_in_reading_order_by_rows() -> None:
    """A line read in pieces, the later piece a few pixels higher (a taller glyph): rows top to bottom, left to
    right within a row, so the copy is found across the pieces."""
    pieces = [
        TextBox("いつでも低価", 300, 98, 400, 60, 0.9),
        TextBox("値下げ、", 100, 104, 180, 56, 0.9),
        TextBox("格", 710, 101, 60, 60, 0.9),
        TextBox("EMULATOR", 800, 900, 150, 20, 0.9),
    ]
    ordered = ocr._reading_order(pieces)
    assert [box.text for box in ordered] == ["値下げ、", "いつでも低価", "格", "EMULATOR"]
    reading = OcrReading("\n".join(box.text for box in ordered), tuple(ordered), "jpn", 0.1)
    result = compare_copy(expected="値下げ、いつでも低価格", reading=reading, locale="ja")
    assert result.verdict is CopyVerdict.EXACT, result.to_dict()


def test_a_hyphen_joins_the_line_it_ends(monkeypatch: pytest.MonkeyPatch) -> None:
    """ "수상 제품 -" wraps with its hyphen at the end of the first line. A Hangul syllable is two or three components
    of about half its height, whose reach (by their own height) fell short of the 7 px hyphen's: it made a region
    of its own, too small to read, and the copy was read without it. A short flat mark reaches by its width."""
    case = ("ko", 50, "수상 제품 - 다양한 상품", "1024x1536")
    verdict, text = _verdict(*case)
    assert verdict is CopyVerdict.EXACT, text
    monkeypatch.setattr(ocr, "FLAT_MARK", 0.0)
    verdict, text = _verdict(*case)
    assert verdict is not CopyVerdict.EXACT, text
