"""The second recognizer for Chinese and Japanese lines (dam.checks.ppocr): PP-OCRv6 through RapidOCR, for real.

Each render case is one of bench/ocr_accuracy.py's own (locale, index, copy, placement), drawn by the emulator's
renderer as the benchmark draws it and read with the real Tesseract and the real PP-OCR model from the rapidocr
wheel. Each is read exact with the second recognizer and not without it (Tesseract alone misreads it), and its
one-character faults are still caught.
"""

from __future__ import annotations

from dataclasses import replace

import pytest
from PIL import Image, ImageDraw

from bench.ocr_accuracy import render
from dam.checks import ppocr
from dam.checks.charset import unreadable_characters
from dam.checks.copy import CopyVerdict, compare_copy
from dam.checks.ocr import engine_languages, ocr_languages, read_text, tessdata_path

CASES = [
    ("zh-Hant", 63, "犒賞自己、盛大開幕", "970x250"),  # Tesseract: 牧賞自己,盛大開莫 (no model of it has 犒)
    ("zh-Hant", 71, "鮮豔色彩 秋季新品 在地生產", "970x250"),  # Tesseract: 鮮軒色彩 (nor 豔)
    ("zh-Hans", 31, "限量版 最高立减七折 冬季特卖", "970x250"),  # Tesseract: 限量贱...务季特表
    ("ja", 143, "ビューティー", "970x250"),  # Tesseract: だューティー
]


def _read(locale: str, index: int, copy: str, placement: str, fault: str | None = None):
    image, _, drawn = render(locale, index, copy, placement, fault)
    reading = read_text(image, locale=locale)
    return compare_copy(expected=copy, reading=reading, locale=locale), reading, drawn


@pytest.mark.parametrize("case", CASES, ids=[f"{c[0]}-{c[1]}" for c in CASES])
def test_a_line_tesseract_misreads_is_read_exact_by_the_second_recognizer(
    monkeypatch: pytest.MonkeyPatch, case: tuple[str, int, str, str]
) -> None:
    comparison, reading, _ = _read(*case)
    assert comparison.verdict is CopyVerdict.EXACT, reading.text
    assert reading.languages.endswith(f"+{ppocr.NAME}")
    # The reading keeps Tesseract's text for each line and PP-OCR's as the alternative: without the alternatives,
    # the same reading does not hold the copy; a matched line shows the reading the copy was found in.
    assert any(box.alternatives for box in comparison.boxes)
    plain = tuple(replace(box, alternatives=()) for box in reading.boxes)
    without = compare_copy(expected=case[2], reading=replace(reading, boxes=plain), locale=case[0])
    assert without.verdict is not CopyVerdict.EXACT

    monkeypatch.setattr(ppocr, "LANGUAGE_SETS", frozenset())
    comparison, reading, _ = _read(*case)
    assert comparison.verdict is not CopyVerdict.EXACT, reading.text
    assert ppocr.NAME not in reading.languages
    assert not any(box.alternatives for box in reading.boxes)


@pytest.mark.parametrize("fault", ["substitute", "drop"])
@pytest.mark.parametrize("case", CASES, ids=[f"{c[0]}-{c[1]}" for c in CASES])
def test_a_one_character_fault_is_still_caught_with_both_readings(case: tuple[str, int, str, str], fault: str) -> None:
    comparison, reading, drawn = _read(*case, fault=fault)
    assert drawn != case[2]
    assert comparison.verdict is not CopyVerdict.EXACT, (drawn, reading.text)


def test_only_chinese_and_japanese_lines_are_read_again() -> None:
    assert {ocr_languages(locale) for locale in ("ja", "zh-Hans", "zh-Hant")} == ppocr.LANGUAGE_SETS
    assert not {ocr_languages(locale) for locale in ("ko", "hi", "bn", "en", "de")} & ppocr.LANGUAGE_SETS


def test_a_vertical_or_empty_box_is_not_read_and_a_blank_line_reads_nothing() -> None:
    image = Image.new("RGB", (400, 400), (250, 250, 250))
    ImageDraw.Draw(image).rectangle((10, 10, 30, 390), fill=(20, 20, 20))
    texts = ppocr.read_lines(image, [(10, 10, 30, 390), (50, 50, 50, 80), (100, 200, 380, 260)])
    assert texts[:2] == [None, None]  # taller than VERTICAL x its width; no width at all
    assert texts[2] == ""  # a blank strip: nothing scored over MIN_SCORE


def test_the_second_recognizers_characters_count_as_writable() -> None:
    models = engine_languages(ocr_languages("zh-Hant"), tessdata_path())
    assert unreadable_characters("犒賞自己", languages=models, tessdata=tessdata_path()) == ("犒",)
    with_ppocr = f"{models}+{ppocr.NAME}"
    assert unreadable_characters("犒賞自己", languages=with_ppocr, tessdata=tessdata_path()) == ()
    assert {"犒", "豔", "ァ", "减", "減"} <= ppocr.model_characters()
    assert "앱" not in ppocr.model_characters()  # it does not write Korean: Korean is not read again


def test_the_second_recognizer_runs_on_this_threads_own_engine(monkeypatch: pytest.MonkeyPatch) -> None:
    import threading

    engines = []
    monkeypatch.setattr(ppocr, "_local", threading.local())

    def load() -> None:
        engines.append(ppocr._recognizer())
        engines.append(ppocr._recognizer())

    thread = threading.Thread(target=load)
    thread.start()
    thread.join()
    load()
    assert engines[0] is engines[1] and engines[2] is engines[3]
    assert engines[0] is not engines[2]
