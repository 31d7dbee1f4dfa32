"""bench/ocr_accuracy.py: its corpus (deterministic, realistic lengths, drawable by the emulator's fonts) and its
smoke run (render, read and compare two headlines in three locales), so a change that breaks it is seen in CI."""

from __future__ import annotations

import re

import pytest

from bench.ocr_accuracy import LOCALES, MAX_WORDS, SMOKE_LOCALES, corpus, phrases, words
from generation.emulator import text
from tests.support.bench import bench_output


@pytest.mark.parametrize("locale", LOCALES)
def test_the_corpus_is_deterministic_varied_and_drawable(locale):
    headlines = corpus(locale, 200)
    assert headlines == corpus(locale, 200)
    assert headlines != corpus(locale, 200, seed=1)
    assert len(set(headlines)) == 200
    lengths = [words(h, locale) for h in headlines]
    assert min(lengths) == 1 and max(lengths) >= 8 and max(lengths) <= MAX_WORDS
    assert len(phrases(locale)) >= 100
    # Nothing the emulator would take for the end of a quotation, and a glyph for every character.
    assert not any(set(h) & set('"“”「」『』') for h in headlines)
    for headline in headlines:
        for run, face in text.runs(headline, "Bold"):
            assert text.covers(face, run, "Bold"), (headline, run, face.filename)


@pytest.mark.integration
@pytest.mark.slow
def test_the_ocr_accuracy_benchmark_reads_every_variant():
    out = bench_output("bench/ocr_accuracy.py", "--smoke")
    percent = r"([\d.]+%|n/a)"
    locale = r"([a-z]{2}(?:-[A-Za-z]+)?)"
    caught = rf"{percent}\s+{percent}\s+(?:[\d.]+%|n/a) of \d+"
    writable = rf"{percent} of \d+"  # exact among the headlines whose every character the models can write
    row = rf"^\s+{locale}\s+2\s+{percent}\s+{writable}\s+\d+\s+\d+\s+{caught}\s+[\d.]+ / [\d.]+"
    rows = re.findall(row, out, flags=re.M)
    assert [locale for locale, *_ in rows] == list(SMOKE_LOCALES), out
    assert "sample: 2 strings x 3 locales x 3 variants = 18 images" in out


def test_a_cached_render_is_the_render(tmp_path):
    """--cache keeps each picture with the string as drawn: read back, it is the picture the emulator drew."""
    from bench.ocr_accuracy import cached_render, render

    copy = corpus("en", 1)[0]
    drawn_image, _, drawn = render("en", 0, copy, "970x250", "drop")
    first = cached_render("en", 0, copy, "970x250", "drop", cache=tmp_path)
    (picture,) = tmp_path.glob("en/*.png")
    again = cached_render("en", 0, copy, "970x250", "drop", cache=tmp_path)
    assert first[2] == again[2] == drawn != copy
    assert first[0].tobytes() == again[0].tobytes() == drawn_image.tobytes()
    assert again[1] == first[1]
    # Another string or variant is another picture.
    cached_render("en", 0, copy, "970x250", "correct", cache=tmp_path)
    assert len(list(tmp_path.glob("en/*.png"))) == 2
    assert picture.exists()
