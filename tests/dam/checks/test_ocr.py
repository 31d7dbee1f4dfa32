"""OCR of generated images: locale -> Tesseract packs, one box per line in source pixels, real Tesseract."""

from __future__ import annotations

import gzip
import json
import subprocess
from pathlib import Path

import pytest
from PIL import Image, ImageDraw, ImageFont

from dam.checks.ocr import (
    OCR_LANGUAGES,
    PROJECT_TESSDATA,
    SYSTEM_TESSDATA,
    WITH_BEST_INT,
    OcrReading,
    TextBox,
    UnsupportedLocale,
    engine_languages,
    locale_supported,
    ocr_languages,
    read_text,
    tessdata_path,
)

BOLD = "/usr/share/fonts/truetype/noto/NotoSans-Bold.ttf"


@pytest.mark.parametrize(
    ("locale", "languages"),
    [
        ("en", "eng"),
        ("en-GB", "eng"),
        ("de-AT", "deu"),
        ("pt-BR", "por"),
        ("ja-JP", "jpn+jpn_vert"),
        ("ja_JP", "jpn+jpn_vert"),
        ("ko-KR", "kor+kor_vert"),
        ("zh", "chi_sim+chi_sim_vert"),
        ("zh-CN", "chi_sim+chi_sim_vert"),
        ("zh-Hans", "chi_sim+chi_sim_vert"),
        ("zh-TW", "chi_tra+chi_tra_vert"),
        ("zh-HK", "chi_tra+chi_tra_vert"),
        ("zh-Hant", "chi_tra+chi_tra_vert"),
        ("zh-hant-tw", "chi_tra+chi_tra_vert"),
        ("zh-Hans-HK", "chi_sim+chi_sim_vert"),  # the script subtag wins over the region
        ("hi-IN", "hin"),
        ("bn-IN", "ben"),
        ("bn-BD", "ben"),
    ],
)
def test_locales_map_to_tesseract_packs(locale: str, languages: str) -> None:
    assert ocr_languages(locale) == languages
    assert locale_supported(locale)


@pytest.mark.parametrize("locale", ["ar", "xx-YY", "", "zh-Latn", "english"])
def test_unsupported_locale_is_named(locale: str) -> None:
    assert not locale_supported(locale)
    with pytest.raises(UnsupportedLocale) as raised:
        ocr_languages(locale)
    assert raised.value.locale == locale
    assert repr(locale) in str(raised.value)
    with pytest.raises(UnsupportedLocale):
        read_text(Image.new("RGB", (64, 64), "white"), locale=locale)


def test_every_pack_is_installed() -> None:
    """scripts/bootstrap.sh installs the packs OCR_LANGUAGES names (an engine that cannot load fails here)."""
    for locale in OCR_LANGUAGES:
        reading = read_text(Image.new("RGB", (200, 100), "white"), locale=locale)
        assert reading.boxes == ()
        assert reading.text == ""


REPO = Path(__file__).resolve().parents[3]
TESSDATA_PACKAGE = REPO / "tools" / "tessdata"


def test_one_list_of_debian_packs_covers_every_model_for_the_bootstrap_and_the_image() -> None:
    """tools/tessdata/apt-packages.txt names a Debian pack for every model OCR_LANGUAGES loads; scripts/bootstrap.sh
    and the Dockerfile both install that list, and the image builds .tessdata/ with the pinned best_int models (an
    image without them failed every copy check: "no Tesseract language data")."""
    packages = (TESSDATA_PACKAGE / "apt-packages.txt").read_text().split()
    assert "tesseract-ocr" in packages
    for lang in _all_languages():
        assert f"tesseract-ocr-{lang.replace('_', '-')}" in packages, lang
    assert "tools/tessdata/apt-packages.txt" in (REPO / "scripts" / "bootstrap.sh").read_text()
    dockerfile = (REPO / "Dockerfile").read_text()
    assert "tools/tessdata/apt-packages.txt" in dockerfile
    assert "npm ci --prefix tools/tessdata" in dockerfile
    assert "tools/tessdata/install.sh /app/.tessdata" in dockerfile


def _pinned_best_int() -> list[str]:
    """The languages tools/tessdata pins a best_int model for (@tesseract.js-data/<lang>)."""
    dependencies = json.loads((TESSDATA_PACKAGE / "package.json").read_text())["dependencies"]
    return sorted(name.removeprefix("@tesseract.js-data/") for name in dependencies)


def _all_languages() -> set[str]:
    return {lang for languages in OCR_LANGUAGES.values() for lang in languages.split("+")}


def _assert_best_int_dir(path: Path) -> None:
    """`path` holds Debian's packs (symlinks) and the pinned best_int models unpacked as <lang>_best."""
    pinned = _pinned_best_int()
    assert {"ben", "jpn", "chi_sim", "chi_tra", "hin"} <= set(pinned)
    for lang in pinned:
        model = path / f"{lang}_best.traineddata"
        assert model.is_file()
        assert not model.is_symlink()
        packed = TESSDATA_PACKAGE / "node_modules" / "@tesseract.js-data" / lang / "4.0.0_best_int"
        assert model.read_bytes() == gzip.decompress((packed / f"{lang}.traineddata.gz").read_bytes())
    debian = tuple(str(Path(p).resolve()) for p in SYSTEM_TESSDATA)
    for lang in _all_languages():
        model = path / f"{lang}.traineddata"
        assert model.is_symlink()
        assert str(model.resolve()).startswith(debian)


def test_engines_load_the_projects_best_int_models(monkeypatch: pytest.MonkeyPatch) -> None:
    """scripts/bootstrap.sh builds .tessdata/; without TESSDATA_PREFIX the engines load it, with the best_int
    models as WITH_BEST_INT says (Bengali, Chinese: best_int alone; Japanese: best_int, then Debian's fast model)."""
    monkeypatch.delenv("TESSDATA_PREFIX", raising=False)
    assert Path(tessdata_path()) == PROJECT_TESSDATA
    _assert_best_int_dir(PROJECT_TESSDATA)
    blank = Image.new("RGB", (200, 100), "white")
    assert read_text(blank, locale="bn").languages == "ben_best"
    assert read_text(blank, locale="ja").languages == "jpn_best+jpn+jpn_vert"
    assert read_text(blank, locale="zh-TW").languages == "chi_tra_best+chi_tra_vert"
    assert read_text(blank, locale="hi").languages == "hin"


def test_without_best_int_models_the_plain_packs_load(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TESSDATA_PREFIX", SYSTEM_TESSDATA[0])
    assert tessdata_path() == SYSTEM_TESSDATA[0] + "/"
    for languages in WITH_BEST_INT:
        assert engine_languages(languages) == languages
    assert engine_languages("ben", str(PROJECT_TESSDATA)) == "ben_best"


def test_tessdata_prefix_wins(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("TESSDATA_PREFIX", str(tmp_path))
    assert tessdata_path() == f"{tmp_path}/"


def test_install_script_builds_the_directory_and_rebuilds_it_in_place(tmp_path: Path) -> None:
    target = tmp_path / "tessdata"
    for _ in range(2):  # the second run replaces the first directory whole
        subprocess.run(["bash", str(TESSDATA_PACKAGE / "install.sh"), str(target)], check=True, capture_output=True)
        _assert_best_int_dir(target)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["tessdata"]  # no half-built or old copy left


def _poster(size: tuple[int, int], lines: list[tuple[str, int, int, int]], *, ink="#1d1d1f", paper="#f4efe6"):
    image = Image.new("RGB", size, paper)
    draw = ImageDraw.Draw(image)
    boxes = []
    for text, x, y, font_size in lines:
        font = ImageFont.truetype(BOLD, font_size)
        draw.text((x, y), text, font=font, fill=ink)
        boxes.append(draw.textbbox((x, y), text, font=font))
    return image, boxes


@pytest.mark.parametrize("size", [(2048, 2048), (900, 500), (400, 300)])
def test_lines_are_boxed_in_source_pixels(size: tuple[int, int]) -> None:
    """Large images are read scaled down, small ones scaled up: the boxes still land on the drawn text."""
    w, h = size
    image, drawn = _poster(size, [("Summer Sale", w // 10, h // 5, h // 9), ("Two for one", w // 10, h // 2, h // 14)])
    reading = read_text(image, locale="en-GB")
    assert reading.languages == "eng"
    # Both lines, in reading order (a stray mark from an anti-aliased fringe may be read too: it is other text).
    lines = [box for box in reading.boxes if box.text in ("Summer Sale", "Two for one")]
    assert [box.text for box in lines] == ["Summer Sale", "Two for one"]
    assert all(len(box.text) <= 2 for box in reading.boxes if box not in lines)
    for box, (x0, y0, x1, y1) in zip(lines, drawn, strict=True):
        tolerance = max(6, (y1 - y0) // 4)
        assert abs(box.left - x0) <= tolerance and abs(box.right - x1) <= tolerance
        assert abs(box.top - y0) <= tolerance and abs(box.bottom - y1) <= tolerance
        assert 0.5 < box.confidence <= 1.0


def test_light_text_on_a_dark_card_over_shapes() -> None:
    image = Image.new("RGB", (1200, 800), "#2a9d8f")
    draw = ImageDraw.Draw(image)
    draw.ellipse((-200, 300, 500, 1000), fill="#e76f51")  # a shape touching the border, taller than any glyph
    draw.polygon([(700, 0), (1200, 0), (1200, 500)], fill="#264653")
    draw.rounded_rectangle((150, 250, 1050, 450), radius=40, fill="#14213d")
    draw.text((200, 290), "Late Night Deals", font=ImageFont.truetype(BOLD, 96), fill="#fca311")
    reading = read_text(image, locale="en")
    assert "Late Night Deals" in reading.text.splitlines()


def test_transparent_pixels_are_paper() -> None:
    image = Image.new("RGBA", (800, 400), (0, 0, 0, 0))
    ImageDraw.Draw(image).text((60, 140), "Clearance", font=ImageFont.truetype(BOLD, 90), fill=(10, 10, 10, 255))
    assert read_text(image, locale="en").text == "Clearance"


def test_reading_is_json_safe_evidence() -> None:
    image, _ = _poster((800, 400), [("Sale", 80, 120, 100)])
    reading = read_text(image, locale="en")
    data = json.loads(json.dumps(reading.to_dict()))
    assert data["text"] == "Sale"
    assert data["languages"] == "eng"
    assert data["seconds"] == round(reading.seconds, 4) and reading.seconds > 0
    (box,) = data["boxes"]
    assert set(box) == {"text", "left", "top", "width", "height", "confidence"}
    assert box["confidence"] == round(box["confidence"], 4)


def test_text_box_edges() -> None:
    box = TextBox("x", left=10, top=20, width=30, height=40, confidence=0.123456)
    assert (box.right, box.bottom) == (40, 60)
    assert box.to_dict()["confidence"] == 0.1235
    assert OcrReading("", (), "eng", 0.0).to_dict() == {"text": "", "boxes": [], "languages": "eng", "seconds": 0.0}
