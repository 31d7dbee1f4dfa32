"""Which characters the installed OCR models can write (their LSTM unicharset), read from the real model files."""

from __future__ import annotations

import struct
from pathlib import Path

import pytest

from dam.checks.charset import model_characters, unreadable_characters
from dam.checks.copy import CopyComparison, CopyVerdict, _differences
from dam.checks.ocr import engine_languages, ocr_languages, tessdata_path
from dam.services.checks import _only_unreadable


def _models(locale: str) -> str:
    return engine_languages(ocr_languages(locale), tessdata_path())


def test_the_korean_models_lack_syllables_of_realistic_copy_and_have_their_neighbours():
    kor = model_characters(str(Path(tessdata_path(), "kor.traineddata")))
    assert {"여", "름", "세", "일", "앰", "맵"} <= kor  # what the model writes instead of 앱
    assert not {"앱", "넨", "볍"} & kor


@pytest.mark.parametrize(
    ("locale", "copy", "unreadable"),
    [
        ("ko", "앱 다운로드: 린넨, 가볍고 시원한 앱", ("앱", "넨", "볍")),  # each named once, in order
        ("ko", "여름 세일 30% 할인!", ()),
        ("zh-Hans", "犒赏自己", ("犒",)),
        ("zh-Hant", "犒賞自己", ("犒",)),
        ("ja", "夏のセール ファッション", ()),
        ("de", "Zurück ÄÖÜ ß", ()),
        ("hi", "गर्मी की सेल", ()),
        ("bn", "গ্রীষ্মের সেল", ()),
        ("en", "Summer sale — 50% off!", ()),  # punctuation and symbols are never named
    ],
)
def test_unreadable_characters_are_the_copys_letters_no_model_of_the_set_writes(locale, copy, unreadable):
    assert unreadable_characters(copy, languages=_models(locale), tessdata=tessdata_path()) == unreadable


def test_a_model_file_that_is_missing_or_has_no_lstm_part_claims_nothing(tmp_path):
    assert unreadable_characters("앱", languages="kor+nosuchmodel", tessdata=tessdata_path()) == ()
    # A container with every slot absent (a legacy-only model lists no LSTM characters).
    (tmp_path / "empty.traineddata").write_bytes(struct.pack("<i", 24) + struct.pack("<24q", *([-1] * 24)))
    assert model_characters(str(tmp_path / "empty.traineddata")) == frozenset()
    assert unreadable_characters("앱", languages="empty", tessdata=str(tmp_path)) == ()


def _comparison(expected: str, read: str) -> CopyComparison:
    return CopyComparison(CopyVerdict.MISMATCH, expected, read, 0.2, _differences(expected, read), ())


@pytest.mark.parametrize(
    ("expected", "read", "explained"),
    [
        ("앱다운로드", "다운로드", True),  # the unwritable syllable dropped
        ("앱다운로드", "앰다운로드", True),  # ... or read as its neighbour
        ("앱다운로드", "", False),  # the copy is not there at all
        ("앱다운로드", "다운로두", False),  # a readable syllable is wrong too
        ("앱다운로드", "앱다운로드!!", False),  # text added: not the model's doing
        ("여름세일", "여름세알", False),  # no unwritable character in the copy
    ],
)
def test_a_mismatch_is_explained_only_when_every_difference_is_an_unwritable_character(expected, read, explained):
    unreadable = unreadable_characters(expected, languages=_models("ko"), tessdata=tessdata_path())
    assert _only_unreadable(_comparison(expected, read), unreadable) is explained
