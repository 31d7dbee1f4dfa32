"""Reading the text in a generated image with Tesseract: one box per line, in the source image's pixels.

Why the image is not handed to Tesseract as it is: generated pictures put copy on busy backgrounds (shapes,
gradients, a translucent card), and Tesseract's page layout analysis, run on a grey image binarised with one
global threshold, splits on the background and drops the text (measured on 72 emulator renders of 12 locales:
the headline was missed in 40-60% of them, by page mode and threshold method). Text is drawn in one ink colour,
so the image is cut into layers by colour instead:

1. Scale to ``WORK_SIDE`` px on the long side (a 2048 px image is read at half size: Tesseract's cost grows
   with the pixels, and headline strokes stay ~50 px high; a small image is scaled up so that small print
   reaches the ~20 px x-height the LSTM models were trained on).
2. Quantise to ``LAYERS`` colours (median cut on a thumbnail, so it is cheap); each colour is a layer: a
   black-on-white mask of the pixels of that colour. Light-on-dark and dark-on-light copy both become black ink
   on white, so no second polarity pass is needed.
3. In each layer, drop the connected components that cannot be glyphs: taller than ``MAX_GLYPH_HEIGHT`` of the
   short side, touching the border, or filled shapes (discs, triangles, bars: a widest inscribed circle above
   ``SOLID_SHAPE`` of the height, tested on components above ``SOLID_MIN_HEIGHT`` so dots and strokes stay),
   or smaller than ``MIN_GLYPH_PIXELS`` (specks); in Latin script in an image scaled down, not when within
   ``MARK_REACH`` of a kept glyph (diacritics: the dots of ü are 2-5 px once a large image is scaled down).
   A whole layer with a large blob in it made Tesseract's layout analysis read nothing.
4. Group the remaining glyphs into regions (each glyph's box grown by ``REGION_REACH`` of its own height, so
   12 px captions and 200 px headlines group alike; a short flat mark, a hyphen, by its width: ``FLAT_MARK``).
   In a region of at least ``STROKE_MIN_GLYPHS`` components, a component whose widest inscribed circle is over
   ``STROKE_OUTLIER`` times the region's median is a piece of a shape (cut by the text card, in the ink's
   colour), not a glyph: it is removed. A region's box is its
   glyphs' box (plus a quarter of its height), not the grown boxes': less of the background comes with it.
   Regions side by side on a row, of like height and close (``ROW_JOIN``), are one line: a full-width 、 leaves
   most of an em empty after it, and Tesseract dropped a 、 that ended a piece of a line cut there. In Chinese
   and Japanese a region of one component longer than ``LONE_SHAPE`` times its other side is not read
   (``NO_LONE_SHAPES``: pieces of the background's stripes, most of the CPU of the slowest renders).
5. Read the inkiest ``MAX_REGIONS`` regions of each layer, each as its own small image scaled so that its
   lines' ink is ``LINE_HEIGHT`` px tall (Tesseract read 80-110 px lines badly or not at all: a clean
   送料無料 came back empty, 花 came back 化): a region whose ink is one band of rows as a single line (sparse
   mode cut such CJK lines apart at a change in the background), others in sparse-text mode (single block for
   Bengali, see ``PAGE_MODES``); Latin script always in sparse mode (``SPARSE_ONLY``). A Chinese region with a
   character scoring under ``RESCALE_BELOW`` is read again at a second line height (``RESCALE``), and the
   reading whose weakest character scores higher is kept; a Bengali region read with Latin words among Bengali
   ones is read again with Debian's model (``SCRIPT_RETRY``), and the reading with fewer such words is kept. A
   Korean number word read with a low score is read again with eng on its box (``NUMBER_RETRY``: kor reads "70%"
   as "70090"); a Japanese full-size katakana whose ink starts low in its line is written in its small form
   (``SMALL_KANA``: jpn reads the ァ of ファッション as ア); a Hindi region is read again with best_int hin, whose
   word replaces fast hin's where the two differ only in a nukta or a confusable conjunct, and a Bengali region
   with a number or a ত্জ with Debian's ben, likewise for digits and that conjunct (``SECOND_OPINION``); a Bengali
   word that reads like a lost reph takes the reph from Debian's ben, else from a reading at a smaller line height
   (``REPH_RETRY``); a Chinese (Simplified) region with a character chi_sim is known to insert or misread is read
   with best_int chi_tra, which decides that character (``CROSS_READING``).
6. Marks of the background are taken out of each line (``_without_stray_marks``: lone ``STRAY_MARKS``, a token
   starting with a combining mark, closing punctuation leading a line, an opening quote standing alone), and a
   spelling no word has is written as the letters it is (``MISSPELT``: Bengali আ্য is অ্য). Lines below
   ``MIN_CONFIDENCE`` are dropped (the region's mean word confidence counts: Tesseract scores CJK lines low for the
   spaces it puts between glyphs), and a line mostly inside a more confident one (the same line read from another
   layer, e.g. the anti-aliased fringe of its glyphs) is dropped. The lines are put in reading order: rows top to
   bottom (a line joins a row when its middle lies within the row), left to right within a row, so a line read in
   pieces keeps its order.
7. Every line is read again by a second model, on the source image cropped to the line's box: Chinese and
   Japanese horizontal lines (``ppocr.LANGUAGE_SETS``) by PP-OCRv6's line recognizer (dam.checks.ppocr), Bengali,
   Hindi and Korean horizontal lines by Tesseract's model of their script (``SCRIPT_LINES``). Where it reads the
   line otherwise, its reading is the line's alternative (``TextBox.alternatives``) and the copy comparison takes
   the closer of the two.

The binding is tesserocr (Tesseract's C API) rather than pytesseract (a subprocess per call): a reading runs one
Tesseract pass per region (up to LAYERS x MAX_REGIONS), and a subprocess loads the language models every time (0.09
s for eng, 0.17 s for jpn+jpn_vert, measured on this machine; more than one recognition); tesserocr keeps one loaded
engine per language set and thread. The tesserocr wheel bundles its own libtesseract (5.5.4; Debian's is 5.3) but no
language data. It reads ``tessdata_path()``: ``TESSDATA_PREFIX`` when set, else the project's ``.tessdata/`` (built
by scripts/bootstrap.sh with tools/tessdata/install.sh: Debian's packs, ``tesseract-ocr-<lang>``, symlinked, with
the tessdata_best_int models of ben, jpn, chi_sim, chi_tra and hin from the npm packages pinned in tools/tessdata/,
used as ``WITH_BEST_INT`` and ``SECOND_OPINION`` say), else Debian's directory. Building tesserocr against Debian's
5.3 would need a compiler and libtesseract-dev on every host.

``OMP_THREAD_LIMIT=1`` is set here, before tesserocr is imported: an OpenMP build of Tesseract (Debian's is one)
starts a thread per CPU for each recognition, which costs more CPU than it saves on a 2-CPU worker that runs
several jobs at once. The wheel's library is built without OpenMP today, so this guards a future build.
"""

from __future__ import annotations

import os

os.environ.setdefault("OMP_THREAD_LIMIT", "1")

import difflib
import itertools
import threading
import time
import unicodedata
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import tesserocr
from PIL import Image

from dam.checks import ppocr

# Primary language (or language-script) -> the Tesseract packs that read it. CJK adds the vertical pack, so
# copy set in vertical lines is read too; Tesseract picks the pack per line.
OCR_LANGUAGES: dict[str, str] = {
    "en": "eng",
    "de": "deu",
    "fr": "fra",
    "es": "spa",
    "it": "ita",
    "pt": "por",
    "ja": "jpn+jpn_vert",
    "ko": "kor+kor_vert",
    "zh-Hans": "chi_sim+chi_sim_vert",
    "zh-Hant": "chi_tra+chi_tra_vert",
    "hi": "hin",
    "bn": "ben",
}
# Chinese regions that write Traditional characters when the tag names no script (BCP 47 / CLDR likely
# subtags: zh-TW -> zh-Hant-TW).
_TRADITIONAL_REGIONS = frozenset({"TW", "HK", "MO"})

WORK_SIDE = 1024  # px, the long side the image is read at
MIN_SIDE_UPSCALE = 640  # px: an image whose long side is below this is scaled up to WORK_SIDE
LAYERS = 6  # colours the image is split into
MIN_LAYER_SHARE = 0.001  # a colour covering less of the image than this holds no readable text
MAX_LAYER_SHARE = 0.6  # ... more than this is the background
MAX_GLYPH_HEIGHT = 0.25  # of the image's short side: a taller component is a shape, not a glyph
MIN_GLYPH_PIXELS = 6
# A smaller component (down to MIN_MARK_PIXELS) is kept when it lies within MARK_REACH px of a kept glyph: at the
# working scale the dots of ä ö ü, the ideographic comma 、, a nukta or an anusvara are 2-5 px, and dropped as specks
# they turned "nächsten" into "nachsten" on a 1536 px render read at 1024 (a 2048 px one is read at half size).
MIN_MARK_PIXELS = 2
MARK_REACH = 4
# For the Latin-script sets only (SPARSE_ONLY): measured on 200 German and French headlines, de 97.0 -> 98.0 %, fr
# 98.0 % both ways; on 100 of each CJK, Hindi and Bengali locale it changed one reading, a loss (specks of a disc's
# edge beside a large Japanese glyph were kept and the line misread), so those sets read without it.
SOLID_SHAPE = 0.2  # inscribed radius / height beyond which a component is a filled shape (bold strokes: ~0.07)
SOLID_MIN_HEIGHT = 0.08  # of the short side: smaller components (strokes, dots, accents) are not tested
REGION_REACH = 0.6  # of a glyph's height: glyphs this close belong to one region (word, line)
FLAT_MARK = 0.3  # of the layer's median component height: a flatter, shorter mark reaches by its width
# A component of a region whose widest inscribed circle is this many times the region's median is not a glyph
# (a piece of a shape cut by the text card, beside the headline): it is removed before the region is read.
STROKE_OUTLIER = 2.2
STROKE_MIN_GLYPHS = 3  # a group needs this many components before one is judged by the others
ROW_JOIN = 1.0  # of the lower region's height: regions side by side on a row this close are one line
ROW_JOIN_MIN_RATIO = 0.5  # ... when the lower one is at least this share of the taller's height
MIN_REGION_HEIGHT = 8  # px at the working scale
MIN_REGION_INK = 40  # ink pixels
MAX_REGIONS = 8  # per layer, the inkiest: a layer of background speckle gives many tiny ones
# Tesseract's page segmentation per region: sparse text (finds the lines among leftover shapes; measured best for
# Latin, CJK and Devanagari), except Bengali, whose first word of a two-line headline sparse mode dropped in 5 of
# 9 emulator renders while single-block mode read it.
PAGE_MODE = int(tesserocr.PSM.SPARSE_TEXT)
PAGE_MODES = {"ben": int(tesserocr.PSM.SINGLE_BLOCK)}
# A region whose ink is one band of rows is read as one line: sparse mode cut such lines apart at a glyph over
# a change in the background and misread the pieces (Korean, Japanese, Chinese headlines on emulator renders).
LINE_MODE = int(tesserocr.PSM.SINGLE_LINE)
# Latin script is read in sparse mode only: single-line mode put spaces inside words ("Fa rben") and kept stray
# marks from the background in the line, where sparse mode reads the words apart.
SPARSE_ONLY = frozenset({"eng", "deu", "fra", "spa", "ita", "por"})
# Each region is scaled so that its lines' ink is LINE_HEIGHT px tall: Tesseract's page layout and its LSTM read
# 30-50 px lines well and large ones badly (a clean 80 px Japanese line read as nothing, at 40 px exactly).
LINE_HEIGHT = 40
# A second line height (px) a region of these language sets is read at when a character of the first reading
# scores under RESCALE_BELOW (0..100); the reading whose weakest character scores higher is kept.
RESCALE = {"chi_sim+chi_sim_vert": 48, "chi_tra+chi_tra_vert": 48}
# Language sets whose region of one glyph (one band, about as wide as tall: a headline's last character wrapped
# alone onto its line) is read again as a word when its line reading is weak: chi_sim read the lone 配 of 自由搭配 as
# 本 scoring 10 in single-line mode at 40 px, and 配 scoring 90 as a word at every height from 32 to 80 px.
LONE_GLYPH = frozenset({"jpn+jpn_vert", "chi_sim+chi_sim_vert", "chi_tra+chi_tra_vert"})
LONE_GLYPH_ASPECT = (0.6, 1.6)  # width / height of the region's ink
WORD_MODE = int(tesserocr.PSM.SINGLE_WORD)
# Chinese and Japanese: a region of one component longer than LONE_SHAPE times its other side is not read. The
# colour layers cut the background's shapes (stripes, a disc's rim) into such pieces, and each was read (57 of the
# 61 Tesseract reads of the slowest 2048 px Traditional Chinese render, 2.2 s CPU, the copy itself 4; Japanese
# reads each with two models); a CJK glyph is near square, and a line's glyphs group into one region. Measured on
# 200 cached renders each of ja, zh-Hans and zh-Hant: the same 559 of 600 exact, every misreading unchanged;
# faults on 60 each all caught; CPU at 2048 px over 30 renders, max 1.82 -> 0.83 s (ja), 2.09 -> 1.44 s (zh-Hant),
# 1.35 -> 1.07 s (zh-Hans). Not for the other scripts: a Devanagari or Bengali word is one long component (its
# headline bar), and their reading is not the slow one. A lone 一 or ー cut off its line is not read either.
NO_LONE_SHAPES = frozenset({"jpn+jpn_vert", "chi_sim+chi_sim_vert", "chi_tra+chi_tra_vert"})
LONE_SHAPE = 3.0
RESCALE_BELOW = 96
MIN_ZOOM, MAX_ZOOM = 0.2, 4.0
LINE_GAP = 0.06  # of a region's height: a run of empty rows this tall separates two lines
MIN_CONFIDENCE = 0.45  # Tesseract's line confidence (0..1) below which a line is noise from the background
# Read tokens made only of these are edges of shapes and specks, not copy (no ad copy sets a lone underscore,
# bar, tilde or equals sign between words); a line is read without them. ॥ is the Devanagari double danda, which
# hin reads a pair of stripes as where Latin models read ‖ (ad copy ends a sentence with one danda, ।).
STRAY_MARKS = frozenset("_|~=¦‖॥")
# Closing punctuation, which no line starts with: read at the start of a line, it is a speck before the first word.
LINE_END_MARKS = frozenset(".,;:!?、。，．！？：；")  # noqa: RUF001 - the full-width forms on purpose
# Opening quotation marks, which typesetting always sets against the word they open ("“Ciao", „Hallo“): one
# standing alone as a word is a speck (a 1536 px render's "“ guardaroba"). Guillemets are not among them: French sets
# them apart from the word (« Offre »).
OPENING_QUOTES = frozenset("“‘„‚")  # noqa: RUF001 - the typographic forms on purpose
SAME_LINE = 0.5  # a line this much inside a more confident one is that line read again (another layer, a fringe)
# Language sets read with best_int whose region is read again with Debian's model when the first reading has
# words of Latin letters among the script's (the Unicode script name): best_int ben reads conjuncts it does not
# know as Latin letters ("উষ্ণ" as "Gas"), where Debian's fast model reads them in Bengali.
SCRIPT_RETRY = {"ben": "BENGALI"}
# Language sets whose words of digits and number signs scoring under NUMBER_RETRY_BELOW (0..100) are read again with
# the Latin model named: kor reads the "%" of "70%" as digits ("70090", "5096", "200%") and scores the word low
# (36-71, where its Hangul words score 93-100); eng reads the same line's "70%" at 96. Digits and "%" are the same
# glyphs in every script, and eng has seen far more of them.
NUMBER_RETRY = {"kor+kor_vert": "eng"}
NUMBER_RETRY_BELOW = 80
NUMBER_SIGNS = frozenset("0123456789%.,+-$€£¥₩")
# Language sets whose regions are read a second time with another model (loaded as named), which replaces a word of
# the first reading only where the two differ in a place the first model is known to misread and the second not:
# where the words are equal once the pairs named are replaced in both (after NFD, so a precomposed ड़ is ड and
# its nukta). `always`: read every region again; else only a region with a word the pairs change.
#  - Hindi, fast hin read first, best_int hin second: a nukta (fast drops it, कपड़े read कपडे, or adds one, फूल
#    read फ़ूल) and घ / ध after a virama (उद्घाटन read उद्धाटन, scored 99: nothing in the first reading says it is
#    wrong). On 200 Hindi headlines best_int alone read every one of those right and lost others (कलेक्शन read
#    कलेवशन, noise read into lines); as one model set with fast it gained 7 and lost 4; word by word on these
#    differences it gains the 7 and loses none (docs/checks-accuracy.md). Then ल / त (तक read लक; and a drawn
#    उपतब्ध fault fast read as the word it knows, उपलब्ध, is now read as drawn) and an आ before ऑ (the candra
#    o's left half read as a letter: ऑर्गेनिक read आऑर्गेनिक): 2 more gained, none lost.
#  - Bengali, best_int ben read first, Debian's fast ben second, on a region with a number or a ত্জ: digits of
#    either script (best_int reads the Bengali 70% as "90%" or "10%", fast reads it right) and জ্জ read ত্জ
#    (সাজসজ্জা read সাজসত্জা). bn 88.5 -> 90.0 % on 200, none lost.
_DIGITS = "0123456789০১২৩৪৫৬৭৮৯"  # noqa: RUF001 - the Bengali digits on purpose
SECOND_OPINION: dict[str, tuple[str, tuple[tuple[str, str], ...], bool]] = {
    "hin": (
        "hin_best",
        (("\u093c", ""), ("\u094d\u0918", "\u094d\u0927"), ("\u0932", "\u0924"), ("\u0906\u0911", "\u0911")),
        True,
    ),
    "ben": ("ben", (*((digit, "#") for digit in _DIGITS), ("\u09a4\u09cd\u099c", "\u099c\u09cd\u099c")), False),
}
# Language sets whose regions with a character the model is known to insert or misread are read again by another
# model. chi_sim (fast and best_int alike) reads 家具 as 家有具 (a narrow 有 between two characters, scored 94-98)
# and 有售 as 有和售; best_int chi_tra reads them right. Such a character is dropped where the other model lacks it
# between two stretches both read alike (`_lone_insertions`). The same reading corrects what chi_sim is known to
# misread where chi_tra reads the right character at the same place (a replaced stretch of equal length): 倍 read
# 信, 盈 read 伪 or 侣, 鞋 read 闺 or 圣, 邮 read 郎 or 部 (chi_tra reads its traditional form 郵). Nothing else is
# taken from chi_tra, which reads Simplified characters as their traditional forms. The pairs come from the
# benchmark's rows (the model's confusions), never from the copy asked for. zh-Hans 90.0 -> 94.5 % on 200 (9
# gained, none lost), faults all caught. Read only on regions with one of those characters: on every region it
# cost 0.51 / 0.90 / 0.97 -> 0.74 / 1.37 / 1.47 s CPU (p50 / p95 / max at 2048 px), too near the 1.5 s budget;
# so 0.50 / 0.96 / 1.15.


@dataclass(frozen=True)
class CrossReading:
    model: str  # the other model (a <lang>_best file)
    inserted: str  # characters the first model inserts: dropped where the other lacks them (`_lone_insertions`)
    misread: dict[tuple[str, str], str]  # (the first's character, the other's at its place) -> the right one


CROSS_READING: dict[str, CrossReading] = {
    "chi_sim+chi_sim_vert": CrossReading(
        "chi_tra_best",
        "有和",
        {
            ("信", "倍"): "倍",
            ("伪", "盈"): "盈",
            ("侣", "盈"): "盈",
            ("闺", "鞋"): "鞋",
            ("圣", "鞋"): "鞋",
            ("郎", "郵"): "邮",
            ("部", "郵"): "邮",
        },
    )
}
# Language sets whose regions with a word that reads like a lost reph (`_reph_suspect`: a consonant directly before
# য, as পর্যন্ত "up to" reads পযন্ত) are read again with the same models with the line's ink REPH_LINE_HEIGHT px tall,
# and that reading's word replaces the first's where the two differ only in a reph (র্, drawn as a small hook above
# the line). best_int ben loses the hook with 40 px lines and reads it with 27-32 px or 54-67 px ones, measured on
# the benchmark's crops; a smaller line for every Bengali region lost more than it gained (32 px: 5 gained, 10
# lost of 200), so only the reph is taken from it. bn 90.0 -> 91.0 % on 200, none lost.
# Such a region is first read by the second model (SECOND_OPINION's, fast ben), whose word is taken where it only
# adds a reph (`_reph_restored`); the smaller line is read when a word still reads like a lost reph. `make run`'s
# 816x816 low-quality renders of "70% off" in Bengali (পর্যন্ত ছাড়) lost it at both line heights (25 of 30
# scenes) and read right with fast ben (30 of 30); the benchmark's 200 read the same (no verdict changed). Either
# reading only adds a reph: one that lost a reph the first read never takes it away.
REPH_RETRY = frozenset({"ben"})
REPH_LINE_HEIGHT = 30
REPH = "\u09b0\u09cd"  # র and a virama: before a consonant, the reph
# Language sets whose full-size katakana are checked against the ink for the small form (ァ ィ ゥ ェ ォ ッ ャ ュ ョ
# ヮ ヵ ヶ): jpn reads ファッション as フアッション and ビューティー as ビューテイー. A small kana is the full one drawn
# smaller and set on the baseline, so its ink starts lower in the line. Measured on Noto Sans CJK JP (Regular and
# Bold) beside a kanji, as a share of the line's ink height under its top: full forms at most 0.13 (エ, ユ), small
# ones 0.17 (ゥ) to 0.31 (ュ). The line's top is its highest ink, and a dakuten rises above the glyphs: a full エ
# after ゴ measured 0.175 on a render. So a kana is made small only over 0.2 (with 0.15 that エ was read ェ, one
# reading of 200 lost): ァ ッ ョ ュ ェ are caught, the shallower ィ ゥ ォ ャ ヵ ヶ (0.17-0.20) mostly not.
SMALL_KANA = frozenset({"jpn+jpn_vert"})
SMALL_KANA_DROP = 0.2
# ... and when the ink found for it is at least this share of the line's ink height (small kana: 0.6-0.75): a
# character's box can lie over its neighbour, and オ's box over a flat ー (6 px of 48) was read ォ.
SMALL_KANA_MIN_HEIGHT = 0.5
SMALL_FORMS = dict(zip("アイウエオツヤユヨワカケ", "ァィゥェォッャュョヮヵヶ", strict=True))
# Bengali, Hindi and Korean lines are read again by Tesseract's model of their script (Debian's
# tesseract-ocr-script-beng, -deva and -hang: trained on every language written in it), as the lines' alternatives
# (Reading, step 6): it reads right words the language models misread (যত্ন, read যত্ব by both Bengali models;
# সাজসজ্জা; 아침 read 아금), and the comparison takes the closer reading of each line. Measured (docs/checks-accuracy.md,
# fifth round): bn 91.5 -> 95.5 %, hi 97.0 -> 97.5 %, ko 92.0 -> 93.5 %. Vertical lines are not read again.
SCRIPT_LINES = {"ben": "Bengali", "hin": "Devanagari", "kor+kor_vert": "Hangul"}
SCRIPT_LINE_HEIGHT = 48  # px: the line box's height in the crop read
SCRIPT_LINE_MIN_LETTERS = 2  # letters (any script) in the first reading of a line read again
_CACHED_ENGINES = 3  # per thread: language sets kept loaded (one jpn+jpn_vert engine holds ~60 MB)


class UnsupportedLocale(ValueError):
    def __init__(self, locale: str) -> None:
        super().__init__(f"no OCR languages for locale {locale!r}; supported: {', '.join(OCR_LANGUAGES)}")
        self.locale = locale


def _ocr_key(locale: str) -> str | None:
    parts = locale.replace("_", "-").split("-")
    language = parts[0].lower()
    if language == "zh":
        script = next((p.title() for p in parts[1:] if len(p) == 4 and p.isalpha()), None)
        region = next((p.upper() for p in parts[1:] if len(p) == 2 and p.isalpha()), None)
        if script is None:
            script = "Hant" if region in _TRADITIONAL_REGIONS else "Hans"
        key = f"zh-{script}"
    else:
        key = language
    return key if key in OCR_LANGUAGES else None


def ocr_languages(locale: str) -> str:
    """The Tesseract languages ("jpn+jpn_vert") for a BCP 47 tag ("ja-JP", "zh-TW", "pt-BR", "bn-IN")."""
    key = _ocr_key(locale)
    if key is None:
        raise UnsupportedLocale(locale)
    return OCR_LANGUAGES[key]


def locale_supported(locale: str) -> bool:
    return _ocr_key(locale) is not None


@dataclass(frozen=True)
class TextBox:
    """One line of read text; position and size in the source image's pixels, confidence 0..1."""

    text: str
    left: int
    top: int
    width: int
    height: int
    confidence: float
    # Other readings of the same line, by a second model (Reading, step 7): the comparison takes the closest.
    alternatives: tuple[str, ...] = ()

    @property
    def readings(self) -> tuple[str, ...]:
        return (self.text, *self.alternatives)

    @property
    def right(self) -> int:
        return self.left + self.width

    @property
    def bottom(self) -> int:
        return self.top + self.height

    def to_dict(self) -> dict:
        data = {**asdict(self), "confidence": round(self.confidence, 4)}
        if not self.alternatives:
            del data["alternatives"]  # as stored before there were any
        else:
            data["alternatives"] = list(self.alternatives)
        return data


@dataclass(frozen=True)
class OcrReading:
    """All lines read, top to bottom; `text` is their texts joined by newlines."""

    text: str
    boxes: tuple[TextBox, ...]
    languages: str
    seconds: float  # CPU seconds the reading took

    def to_dict(self) -> dict:
        return {
            "text": self.text,
            "boxes": [box.to_dict() for box in self.boxes],
            "languages": self.languages,
            "seconds": round(self.seconds, 4),
        }


# The project's data directory, built by scripts/bootstrap.sh (tools/tessdata/install.sh): Debian's packs
# symlinked, with tessdata_best_int models (npm packages pinned in tools/tessdata/) for the scripts whose fast
# model misreads emulator copy. Debian's directory is the fallback on a host without it.
PROJECT_TESSDATA = Path(__file__).resolve().parents[2] / ".tessdata"
SYSTEM_TESSDATA = ("/usr/share/tesseract-ocr/5/tessdata", "/usr/share/tesseract-ocr/4.00/tessdata")


# How a language set uses the tessdata_best_int models when the data directory has them (<lang>_best, unpacked by
# tools/tessdata/install.sh), measured with bench/ocr_accuracy.py (docs/checks-accuracy.md). Bengali and
# Chinese: best_int instead of Debian's fast model (fast ben misreads conjuncts: 55 % exact on correct renders,
# 87 % with best_int; Chinese: fewer wrong characters). Japanese: both, best_int first; Tesseract tries the next
# model on a word the first reads badly and keeps the more confident reading: each misreads characters the other
# reads (best_int alone read 夏 as 企 in Noto Sans CJK Bold), and together they beat either alone. Fast first
# (the order until 2026-12-07) lost whole lines: Debian's fast jpn returns nothing for some clean lines (送料無料
# at any size) and the set then gave the line up without trying best_int; best_int first: 24 -> 27 of 30 exact
# on the bench (the rest of the reading as it is now), 0.03 s more CPU p50. Both for Chinese cost 40 % more CPU
# and gained nothing. Without the files the plain set is loaded.
WITH_BEST_INT: dict[str, str] = {
    "ben": "ben_best",
    "jpn+jpn_vert": "jpn_best+jpn+jpn_vert",
    "chi_sim+chi_sim_vert": "chi_sim_best+chi_sim_vert",
    "chi_tra+chi_tra_vert": "chi_tra_best+chi_tra_vert",
}


def engine_languages(languages: str, path: str | None = None) -> str:
    """The models an engine for `languages` (an OCR_LANGUAGES value) loads from `path` (tessdata_path())."""
    path = path or tessdata_path()
    wanted = WITH_BEST_INT.get(languages)
    if wanted and all(Path(path, f"{lang}.traineddata").exists() for lang in wanted.split("+")):
        return wanted
    return languages


def tessdata_path() -> str:
    """The tessdata directory engines load from: TESSDATA_PREFIX when set, else the project's .tessdata/
    (best_int models), else Debian's."""
    configured = os.environ.get("TESSDATA_PREFIX")
    if configured:
        return configured.rstrip("/") + "/"
    for candidate in (str(PROJECT_TESSDATA), *SYSTEM_TESSDATA):
        if Path(candidate, "eng.traineddata").exists():
            return candidate + "/"
    raise RuntimeError("no Tesseract language data: run scripts/bootstrap.sh or set TESSDATA_PREFIX")


_local = threading.local()


def _engine(languages: str, *, plain: bool = False) -> tesserocr.PyTessBaseAPI:
    """The thread's engine for `languages`: with the best_int models WITH_BEST_INT names, or (`plain`) the set
    as it is named, Debian's models."""
    # An engine is not thread-safe and loading one costs more than a reading: one per language set and thread.
    engines: dict[tuple[str, bool], tesserocr.PyTessBaseAPI] = _local.__dict__.setdefault("engines", {})
    engine = engines.pop((languages, plain), None)
    if engine is None:
        if len(engines) >= _CACHED_ENGINES:
            engines.pop(next(iter(engines))).End()
        path = tessdata_path()
        models = languages if plain else engine_languages(languages, path)
        engine = tesserocr.PyTessBaseAPI(path=path, lang=models, psm=tesserocr.PSM.SINGLE_BLOCK)
    engines[(languages, plain)] = engine  # most recently used last
    return engine


def _foreign_words(found: list[tuple[str, tuple, float]], script: str) -> int:
    """Words of Latin letters in lines that also hold letters of `script` (a Unicode script name, "BENGALI")."""
    count = 0
    for text, _, _ in found:
        native = any(unicodedata.name(char, "").startswith(script) for char in text)
        if native:
            count += sum(any("a" <= char.lower() <= "z" for char in word) for word in text.split())
    return count


def _native_letters(found: list[tuple[str, tuple, float]], script: str) -> int:
    return sum(unicodedata.name(char, "").startswith(script) for text, _, _ in found for char in text)


def _work_scale(size: tuple[int, int]) -> float:
    long_side = max(size)
    if long_side > WORK_SIDE or long_side < MIN_SIDE_UPSCALE:
        return WORK_SIDE / long_side
    return 1.0


def _drop_solid_shapes(
    mask: np.ndarray, labels: np.ndarray, stats: np.ndarray, keep: np.ndarray, *, min_height: float
) -> None:
    """Unmark the filled shapes (discs, triangles, bars): their widest inscribed circle is large for their
    height, where a glyph is made of strokes. Small components are left alone (a full stop is a filled disc)."""
    candidates = np.flatnonzero(keep & (stats[:, 3] >= min_height))
    if not len(candidates):
        return
    inside = cv2.distanceTransform(mask, cv2.DIST_L2, 3)
    for label in candidates:
        x, y, w, h = stats[label, :4]
        radius = inside[y : y + h, x : x + w][labels[y : y + h, x : x + w] == label].max()
        if radius > SOLID_SHAPE * h:
            keep[label] = False


def _keep_marks(labels: np.ndarray, stats: np.ndarray, keep: np.ndarray) -> None:
    """Mark as kept the components too small to be glyphs (MIN_MARK_PIXELS..MIN_GLYPH_PIXELS) that lie within
    MARK_REACH px of a kept one: diacritics and small punctuation beside their letters. A speck of the background
    away from any glyph stays dropped."""
    area = stats[:, 4]
    small = (area >= MIN_MARK_PIXELS) & (area < MIN_GLYPH_PIXELS)
    small[0] = False
    if not small.any() or not keep.any():
        return
    side = 2 * MARK_REACH + 1
    near = cv2.dilate(keep[labels].astype(np.uint8), cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (side, side)))
    touching = labels[(near > 0) & small[labels]]
    keep[np.unique(touching)] = True


def _layers(rgb: Image.Image, *, marks: bool = False) -> list[np.ndarray]:
    """Black-on-white masks (uint8, 0 = ink), one per colour, with the non-glyph components removed (with `marks`,
    specks beside glyphs are kept: `_keep_marks`)."""
    thumb = rgb.copy()
    thumb.thumbnail((256, 256))
    palette = thumb.quantize(colors=LAYERS, method=Image.Quantize.MEDIANCUT)
    indices = np.asarray(rgb.quantize(palette=palette, dither=Image.Dither.NONE))
    height, width = indices.shape
    counts = np.bincount(indices.ravel(), minlength=LAYERS)
    max_glyph = MAX_GLYPH_HEIGHT * min(height, width)
    layers = []
    for colour, count in enumerate(counts):
        if not MIN_LAYER_SHARE < count / indices.size < MAX_LAYER_SHARE:
            continue
        mask = (indices == colour).astype(np.uint8)
        _, labels, stats, _ = cv2.connectedComponentsWithStats(mask, connectivity=8)
        x, y, w, h, area = stats[:, 0], stats[:, 1], stats[:, 2], stats[:, 3], stats[:, 4]
        keep = (h <= max_glyph) & (area >= MIN_GLYPH_PIXELS) & (x > 0) & (y > 0)
        keep &= (x + w < width) & (y + h < height)
        keep[0] = False  # label 0 is everything not of this colour
        _drop_solid_shapes(mask, labels, stats, keep, min_height=SOLID_MIN_HEIGHT * min(height, width))
        if marks:
            _keep_marks(labels, stats, keep)
        if not keep[1:].any():
            continue
        layers.append(np.where(keep[labels], 0, 255).astype(np.uint8))
    return layers


def _glyph_shaped(stat: np.ndarray) -> bool:
    """A component (a row of connectedComponentsWithStats' stats) no longer than LONE_SHAPE times its other side."""
    width, height = int(stat[2]), int(stat[3])
    return max(width, height) <= LONE_SHAPE * max(1, min(width, height))


def _regions(layer: np.ndarray, *, lone_shapes: bool = True) -> list[tuple[int, int, int, int]]:
    """Boxes (x0, y0, x1, y1) around groups of nearby glyphs: the words and lines of a layer. Each glyph's box
    is grown in proportion to its own height, so the grouping works for 12 px captions and 200 px headlines.
    A component of a group whose strokes are much thicker than the group's glyphs' (a piece of a shape the
    text card cut, beside the headline) is removed from `layer`, and the group's box is that of its glyphs.
    Without `lone_shapes`, a group of one component that is not glyph-shaped (`_glyph_shaped`) is left out."""
    ink = (layer == 0).astype(np.uint8)
    count, labels, stats, _ = cv2.connectedComponentsWithStats(ink, connectivity=8)
    canvas = np.zeros_like(ink)
    typical = float(np.median(stats[1:, 3])) if count > 1 else 0.0
    for x, y, w, h, _area in stats[1:]:
        # Letter and line spacing scale with the glyph height, not its width (a Bengali word is one component);
        # a short flat mark (a hyphen) reaches as far as it is wide, as a glyph of that size would.
        size = w if h < w / 2 and h < FLAT_MARK * typical and w < 2 * typical else h
        reach = max(2, round(REGION_REACH * size))
        corner, opposite = (int(x - reach), int(y - reach // 2)), (int(x + w + reach), int(y + h + reach // 2))
        cv2.rectangle(canvas, corner, opposite, 1, -1)
    _, groups, _, _ = cv2.connectedComponentsWithStats(canvas, connectivity=8)
    inside = cv2.distanceTransform(ink, cv2.DIST_L2, 3)
    members: dict[int, list[tuple[int, float]]] = {}
    for label in range(1, count):
        x, y, w, h = stats[label, :4]
        radius = float(inside[y : y + h, x : x + w][labels[y : y + h, x : x + w] == label].max())
        members.setdefault(int(groups[y + h // 2, x + w // 2]), []).append((label, radius))
    regions = []
    for group in members.values():
        glyphs = [label for label, _ in group]
        if len(group) >= STROKE_MIN_GLYPHS:
            limit = STROKE_OUTLIER * float(np.median([radius for _, radius in group]))
            glyphs = [label for label, radius in group if radius <= limit]
            for label, radius in group:
                if radius > limit:
                    x, y, w, h = stats[label, :4]
                    layer[y : y + h, x : x + w][labels[y : y + h, x : x + w] == label] = 255
        if not lone_shapes and len(glyphs) == 1 and not _glyph_shaped(stats[glyphs[0]]):
            continue
        boxes = stats[glyphs]
        x0, y0 = int(boxes[:, 0].min()), int(boxes[:, 1].min())
        x1, y1 = int((boxes[:, 0] + boxes[:, 2]).max()), int((boxes[:, 1] + boxes[:, 3]).max())
        if y1 - y0 >= MIN_REGION_HEIGHT:
            regions.append((int(boxes[:, 4].sum()), (x0, y0, x1, y1)))
    regions = [(inked, box) for inked, box in _join_rows(regions) if inked >= MIN_REGION_INK]
    regions.sort(reverse=True)
    return [box for _, box in regions[:MAX_REGIONS]]


def _join_rows(regions: list[tuple[int, tuple[int, int, int, int]]]) -> list[tuple[int, tuple[int, int, int, int]]]:
    """Regions side by side on one row, of like height, with a gap of at most ROW_JOIN times the lower one's
    height, joined: one line. A full-width CJK comma or stop leaves most of an em empty after it, wider than the
    glyphs' reach, so the line was cut there and read in two pieces, and Tesseract dropped the 、 that ended the
    first piece (it reads the same mark inside a line)."""
    joined = list(regions)
    merged = True
    while merged:
        merged = False
        for i, j in itertools.combinations(range(len(joined)), 2):
            (ink_a, a), (ink_b, b) = joined[i], joined[j]
            low = min(a[3] - a[1], b[3] - b[1])
            overlap = min(a[3], b[3]) - max(a[1], b[1])
            gap = max(a[0], b[0]) - min(a[2], b[2])
            if (
                low >= ROW_JOIN_MIN_RATIO * max(a[3] - a[1], b[3] - b[1])
                and overlap >= 0.6 * low
                and gap <= ROW_JOIN * low
            ):
                box = (min(a[0], b[0]), min(a[1], b[1]), max(a[2], b[2]), max(a[3], b[3]))
                joined[i] = (ink_a + ink_b, box)
                del joined[j]
                merged = True
                break
    return joined


def _bands(ink: np.ndarray) -> list[int]:
    """Heights of the runs of inked rows of a region (its lines), split at empty runs of LINE_GAP of its height."""
    rows = ink.any(axis=1)
    inked = np.flatnonzero(rows)
    if not len(inked):
        return []
    split = np.flatnonzero(np.diff(inked) - 1 >= max(2, LINE_GAP * len(rows)))
    starts = np.concatenate(([inked[0]], inked[split + 1]))
    ends = np.concatenate((inked[split], [inked[-1]]))
    return [int(e - s + 1) for s, e in zip(starts, ends, strict=True)]


def _single_line(ink: np.ndarray) -> bool:
    """True when a region's ink rows form one band: no run of empty rows of at least LINE_GAP of its height
    between two inked rows (a wrapped headline has one between its lines)."""
    rows = ink.any(axis=1)
    inked = np.flatnonzero(rows)
    if not len(inked):
        return True
    gaps = np.diff(inked) - 1
    return not (gaps >= max(2, LINE_GAP * len(rows))).any()


def _zoomed(crop: np.ndarray, zoom: float) -> Image.Image:
    """The region's mask scaled by `zoom`: Lanczos, then back to two levels (the clean mask it was, resized)."""
    picture = Image.fromarray(crop)
    if zoom == 1.0:
        return picture
    size = (max(1, round(picture.width * zoom)), max(1, round(picture.height * zoom)))
    return picture.resize(size, Image.Resampling.LANCZOS).point(lambda v: 0 if v < 128 else 255)


def _without_stray_marks(text: str) -> str:
    """A read line without the tokens that are marks of the background, not copy: a token made only of
    STRAY_MARKS (an edge of a shape read as "_" or "|" beside a word); a token that starts with a combining mark
    (a vowel sign or virama with no letter to sit on: no word is spelled so; a speck read as "्ज"); closing
    punctuation (a full stop, a comma, 、) leading the line, where no typesetting puts it (CJK line breaking keeps
    it with the character before; a Latin or Indic line does not start with one), read off a speck; an opening
    quotation mark standing alone (OPENING_QUOTES). Dropping read text cannot hide a substituted or dropped letter
    of the copy: the copy is then found with less, not more."""
    tokens = [
        token
        for token in text.split()
        if not set(token) <= STRAY_MARKS
        and not set(token) <= OPENING_QUOTES
        and not unicodedata.category(token[0]).startswith("M")
    ]
    while tokens and set(tokens[0]) <= LINE_END_MARKS:
        tokens.pop(0)
    return " ".join(tokens)


# Spellings no word has, read off a glyph the model knows under another letter, with the letter it is. Bengali: an
# independent vowel never carries a virama; আ্য is the অ্য of অ্যা (the "a" of loanwords: অ্যাপ, "app"), its অ read
# as আ (the য-ফলা's stroke taken for the আ's bar): 2 of the 200 Bengali headlines read so, 1 now exact (the other
# lost its য too); bn 91.0 -> 91.5 %, none lost, faults caught as before.
MISSPELT = {"\u0986\u09cd": "\u0985\u09cd"}


def _respelt(text: str) -> str:
    """`text` with every MISSPELT sequence written as the letters it is."""
    for wrong, right in MISSPELT.items():
        text = text.replace(wrong, right)
    return text


def _symbols(engine: tesserocr.PyTessBaseAPI) -> Iterator[tuple[Any, tuple]]:
    """The characters of the engine's last reading that have a box: (the result iterator at it, its box)."""
    iterator = engine.GetIterator()
    if iterator is None:
        return
    level = tesserocr.RIL.SYMBOL
    for symbol in tesserocr.iterate_level(iterator, level):
        box = symbol.BoundingBox(level)
        if not symbol.Empty(level) and box is not None:
            yield symbol, box


def _symbol_lines(engine: tesserocr.PyTessBaseAPI) -> list[list[tuple[str, tuple]]]:
    """The characters (text, box) of the engine's last reading, line by line."""
    lines: list[list[tuple[str, tuple]]] = []
    for symbol, box in _symbols(engine):
        if symbol.IsAtBeginningOf(tesserocr.RIL.TEXTLINE) or not lines:
            lines.append([])
        lines[-1].append((symbol.GetUTF8Text(tesserocr.RIL.SYMBOL), box))
    return lines


def _with_small_kana(text: str, symbols: list[tuple[str, tuple]], ink: np.ndarray) -> str:
    """`text` with each full-size katakana whose ink starts over SMALL_KANA_DROP of the line's ink height under
    the line's top written in its small form. `symbols` are the line's characters (text, box in `ink`'s pixels);
    a character's ink is the connected components reaching into its box's columns."""
    if not any(char in SMALL_FORMS for char, _ in symbols) or "".join(text.split()) != "".join(c for c, _ in symbols):
        return text
    x0, x1 = min(box[0] for _, box in symbols), max(box[2] for _, box in symbols)
    y0, y1 = min(box[1] for _, box in symbols), max(box[3] for _, box in symbols)
    if x1 - x0 <= y1 - y0:  # a vertical line: small kana sit top-right there
        return text
    count, _, stats, _ = cv2.connectedComponentsWithStats(ink[y0:y1, x0:x1].astype(np.uint8), connectivity=8)
    if count < 2:
        return text
    lefts, tops, widths, heights = stats[1:, 0] + x0, stats[1:, 1] + y0, stats[1:, 2], stats[1:, 3]
    top, bottom = int(tops.min()), int((tops + heights).max())
    chars = []
    for char, box in symbols:
        written = char
        # A character's ink: the components reaching into its box's columns (ア is two components in a bold face,
        # and a box can be a few pixels off its glyph).
        inside = (lefts < box[2] - 2) & (lefts + widths > box[0] + 2)
        if char in SMALL_FORMS and inside.any():
            ink_top, ink_bottom = int(tops[inside].min()), int((tops + heights)[inside].max())
            # Ink of a small kana's height (a box can lie over a neighbour: オ's box over the flat ー read ォ).
            tall = ink_bottom - ink_top >= SMALL_KANA_MIN_HEIGHT * (bottom - top)
            if tall and (ink_top - top) / (bottom - top) > SMALL_KANA_DROP:
                written = SMALL_FORMS[char]
        chars.append(written)
    out, k = [], 0
    for char in text:
        if char.isspace():
            out.append(char)
        else:
            out.append(chars[k])
            k += 1
    return "".join(out)


def _read_region(
    engine: tesserocr.PyTessBaseAPI, crop: Image.Image, mode: int, *, small_kana: bool = False
) -> list[tuple[str, tuple, float]]:
    """[(text, box, confidence 0..1)] of the lines one Tesseract pass finds in a region (`small_kana`: see
    SMALL_KANA)."""
    engine.SetPageSegMode(mode)
    engine.SetImage(crop)
    engine.Recognize()
    iterator = engine.GetIterator()
    if iterator is None:  # nothing in the region Tesseract would call text
        return []
    symbol_lines = _symbol_lines(engine) if small_kana else []
    ink = np.asarray(crop.convert("L")) < 128 if small_kana else None
    # A line's own confidence is low for CJK (Tesseract scores the spaces it puts between the glyphs);
    # the region's mean word confidence is not, and garbage from the background scores low on both.
    region_confidence = engine.MeanTextConf() / 100
    level = tesserocr.RIL.TEXTLINE
    found = []
    index = 0  # of the non-empty lines, as _symbol_lines counts them
    for line in tesserocr.iterate_level(iterator, level):
        if line.Empty(level):
            continue
        text = line.GetUTF8Text(level)
        if ink is not None and index < len(symbol_lines):
            text = _with_small_kana(text, symbol_lines[index], ink)
        index += 1
        text = _respelt(_without_stray_marks(text))
        box = line.BoundingBox(level)
        if text and box is not None:
            found.append((text, box, max(line.Confidence(level) / 100, region_confidence)))
    return found


def _words(engine: tesserocr.PyTessBaseAPI) -> list[tuple[str, tuple, float]]:
    """[(text, box, confidence 0..100)] of the words of the engine's last reading. A word's box is its characters'
    box: in sparse mode Tesseract gave the word "5096" a box reaching into the line below."""
    words: list[tuple[str, tuple, float]] = []
    for symbol, box in _symbols(engine):
        text = symbol.GetUTF8Text(tesserocr.RIL.SYMBOL)
        if symbol.IsAtBeginningOf(tesserocr.RIL.WORD) or not words:
            words.append((text, box, symbol.Confidence(tesserocr.RIL.WORD)))
        else:
            word, (x0, y0, x1, y1), confidence = words[-1]
            union = (min(x0, box[0]), min(y0, box[1]), max(x1, box[2]), max(y1, box[3]))
            words[-1] = (word + text, union, confidence)
    return words


def _is_number(text: str) -> bool:
    return any(char.isdigit() for char in text) and set(text) <= NUMBER_SIGNS


def _numbers_read_again(
    found: list[tuple[str, tuple, float]], weak: list[tuple[str, tuple, float]], picture: Image.Image, model: str
) -> list[tuple[str, tuple, float]]:
    """`found` with each weakly read number word replaced by `model`'s reading of the word's box (a margin of a
    quarter of its height around it, read as one line), when that is a number too and scores higher."""
    engine = _engine(model)
    engine.SetPageSegMode(LINE_MODE)
    lines = [list(line) for line in found]
    for text, box, confidence in weak:
        # The box can reach into the next line (sparse mode joined "5096" with a glyph below): it is cut at the
        # first empty row under the word's top.
        rows = (np.asarray(picture.crop(box)) == 0).any(axis=1)
        empty = np.flatnonzero(~rows[np.argmax(rows) :]) if rows.any() else []
        x0, y0, x1 = box[:3]
        y1 = int(box[1] + np.argmax(rows) + empty[0]) if len(empty) else box[3]
        pad = max(4, (y1 - y0) // 4)
        crop = picture.crop((max(0, x0 - pad), max(0, y0 - pad), x1 + pad, y1 + pad))
        engine.SetImage(crop)
        engine.Recognize()
        words = _words(engine)
        if len(words) != 1 or not _is_number(words[0][0]) or words[0][2] <= confidence:
            continue
        middle = ((box[0] + box[2]) / 2, (box[1] + box[3]) / 2)
        for line in lines:
            lx0, ly0, lx1, ly1 = line[1]
            if lx0 <= middle[0] <= lx1 and ly0 <= middle[1] <= ly1 and text in line[0].split():
                line[0] = " ".join(words[0][0] if token == text else token for token in line[0].split())
                break
    return [(text, box, confidence) for text, box, confidence in lines]


def _confusion_key(word: str, pairs: tuple[tuple[str, str], ...]) -> str:
    """`word` with what SECOND_OPINION lets the second model decide made one (`pairs`, after NFD)."""
    decomposed = unicodedata.normalize("NFD", word)
    for read, same in pairs:
        decomposed = decomposed.replace(read, same)
    return decomposed


def _with_second_opinion(
    found: list[tuple[str, tuple, float]],
    other: list[tuple[str, tuple, float]],
    pairs: tuple[tuple[str, str], ...],
    *,
    taken: Callable[[str, str], bool] | None = None,
) -> list[tuple[str, tuple, float]]:
    """`found` with each word replaced by the second reading's word at the same place (the line of `other` whose
    middle lies in the line's box, with as many words) where the two differ only as `pairs` allow (and, given
    `taken`, where it says yes to the pair of words: the first's, the second's)."""
    result = []
    for read, box, confidence in found:
        words = read.split()
        for other_text, other_box, _ in other:
            middle = ((other_box[0] + other_box[2]) / 2, (other_box[1] + other_box[3]) / 2)
            other_words = other_text.split()
            if not (box[0] <= middle[0] <= box[2] and box[1] <= middle[1] <= box[3]) or len(other_words) != len(words):
                continue
            words = [
                second
                if second != first
                and _confusion_key(second, pairs) == _confusion_key(first, pairs)
                and (taken is None or taken(first, second))
                else first
                for first, second in zip(words, other_words, strict=True)
            ]
            break
        result.append((" ".join(words), box, confidence))
    return result


def _reph_suspect(text: str) -> bool:
    """A Bengali consonant directly followed by য (not য়): how a word reads when its reph (র্য) was lost."""
    chars = unicodedata.normalize("NFD", text) + " "
    return any(
        ya == "\u09af" and after != "\u09bc" and "\u0995" <= before <= "\u09b9"  # য, no nukta after, a consonant before
        for before, ya, after in zip(chars, chars[1:], chars[2:], strict=False)
    )


def _lone_insertions(first: str, second: str) -> set[int]:
    """Indexes in `first` (spaces not counted) of single characters `second` lacks between two characters both
    read alike (an equal stretch on each side of the deletion, and the character not read two places around)."""
    a, b = first.replace(" ", ""), second.replace(" ", "")
    codes = difflib.SequenceMatcher(None, a, b, autojunk=False).get_opcodes()
    return {
        i1
        for k, (tag, i1, i2, j1, _) in enumerate(codes)
        if tag == "delete"
        and i2 - i1 == 1
        and 0 < k < len(codes) - 1
        and codes[k - 1][0] == "equal"
        and codes[k + 1][0] == "equal"
        and a[i1] not in b[max(0, j1 - 2) : j1 + 2]
    }


def _misread_at(first: str, second: str, misread: dict[tuple[str, str], str]) -> dict[int, str]:
    """Indexes in `first` (spaces not counted) of characters `misread` corrects, with the right character: where a
    stretch of `first` and one of `second` as long differ, position by position."""
    a, b = first.replace(" ", ""), second.replace(" ", "")
    codes = difflib.SequenceMatcher(None, a, b, autojunk=False).get_opcodes()
    return {
        i1 + k: misread[(a[i1 + k], b[j1 + k])]
        for tag, i1, i2, j1, j2 in codes
        if tag == "replace" and i2 - i1 == j2 - j1
        for k in range(i2 - i1)
        if (a[i1 + k], b[j1 + k]) in misread
    }


def _cross_read(
    found: list[tuple[str, tuple, float]], other: list[tuple[str, tuple, float]], rule: CrossReading
) -> list[tuple[str, tuple, float]]:
    """`found` with what `rule` lets the other model's line at its place decide: a character of `rule.inserted`
    dropped where that line reads its neighbours alike and not it, a known misreading corrected (CROSS_READING)."""
    result = []
    for read, box, confidence in found:
        text = read
        for other_text, other_box, _ in other:
            middle = ((other_box[0] + other_box[2]) / 2, (other_box[1] + other_box[3]) / 2)
            if not (box[0] <= middle[0] <= box[2] and box[1] <= middle[1] <= box[3]):
                continue
            positions = [i for i, char in enumerate(read) if char != " "]
            cut = {positions[n] for n in _lone_insertions(read, other_text) if read[positions[n]] in rule.inserted}
            fixed = {positions[n]: char for n, char in _misread_at(read, other_text, rule.misread).items()}
            chars = [fixed.get(i, c) for i, c in enumerate(read) if i not in cut]
            text = " ".join("".join(chars).split())
            break
        result.append((text, box, confidence))
    return result


def _reph_restored(first: str, second: str) -> bool:
    """The second reading has a reph the first, which reads like one was lost, has not (a reph is only added)."""
    return _reph_suspect(first) and second.count(REPH) > first.count(REPH)


def _second_opinion_wanted(
    found: list[tuple[str, tuple, float]],
    languages: str,
    model: str,
    pairs: tuple[tuple[str, str], ...],
    always: bool,
    *,
    also: bool = False,
) -> bool:
    """Whether a region read as `found` is read again with `model`: the model is there and is not the one that
    read it, and (unless `always` or `also`) a word of the reading is one the pairs change."""
    path = tessdata_path()
    if model in engine_languages(languages, path).split("+") or not Path(path, f"{model}.traineddata").exists():
        return False
    words = [unicodedata.normalize("NFD", word) for text, _, _ in found for word in text.split()]
    return always or also or any(_confusion_key(word, pairs) != word for word in words)


def _symbol_confidences(engine: tesserocr.PyTessBaseAPI) -> tuple[float, float]:
    """(lowest, mean) confidence 0..100 of the characters of the engine's last reading; (0, 0) for none."""
    iterator = engine.GetIterator()
    if iterator is None:
        return 0.0, 0.0
    level = tesserocr.RIL.SYMBOL
    scores = [
        symbol.Confidence(level) for symbol in tesserocr.iterate_level(iterator, level) if not symbol.Empty(level)
    ]
    return (min(scores), sum(scores) / len(scores)) if scores else (0.0, 0.0)


def _lone_glyph(ink: np.ndarray, bands: list[int]) -> bool:
    """The region's ink is one band about as wide as it is tall (LONE_GLYPH_ASPECT)."""
    columns = np.flatnonzero(ink.any(axis=0))
    if len(bands) != 1 or not len(columns):
        return False
    return LONE_GLYPH_ASPECT[0] <= (columns[-1] - columns[0] + 1) / bands[0] <= LONE_GLYPH_ASPECT[1]


def _second_readings(
    engine: tesserocr.PyTessBaseAPI,
    found: list[tuple[str, tuple, float]],
    crop: np.ndarray,
    picture: np.ndarray,
    *,
    zoom: float,
    bands: list[int],
    languages: str,
    mode: int,
) -> list[tuple[str, tuple, float]]:
    """The region's reading after the rules that read it again with another model or size and take a word or a
    character from that reading: SECOND_OPINION, REPH_RETRY, CROSS_READING."""
    second = SECOND_OPINION.get(languages)
    reph_lost = languages in REPH_RETRY and any(_reph_suspect(text) for text, _, _ in found)
    if second and _second_opinion_wanted(found, languages, *second, also=reph_lost):
        # The two models misread different things; the second's word is taken only where the first is known
        # to be wrong in a way the second is not (SECOND_OPINION), or has a reph the first lost (REPH_RETRY).
        model, pairs, _ = second
        other = _read_region(_engine(model, plain=True), picture, mode)
        found = _with_second_opinion(found, other, pairs)
        if reph_lost:
            found = _with_second_opinion(found, other, ((REPH, ""),), taken=_reph_restored)
            reph_lost = any(_reph_suspect(text) for text, _, _ in found)
    if reph_lost and bands:
        # The second reading's boxes are in its own picture's pixels: scaled to the first's to be matched.
        again = min(MAX_ZOOM, max(MIN_ZOOM, REPH_LINE_HEIGHT / float(np.median(bands))))
        other = _read_region(engine, _zoomed(crop, again), mode)
        ratio = zoom / again
        other = [(t, tuple(v * ratio for v in b), c) for t, b, c in other]
        found = _with_second_opinion(found, other, ((REPH, ""),), taken=_reph_restored)
    cross = CROSS_READING.get(languages)
    if cross and Path(tessdata_path(), f"{cross.model}.traineddata").exists():
        suspects = set(cross.inserted) | {first for first, _ in cross.misread}
        if any(char in suspects for text, _, _ in found for char in text):
            found = _cross_read(found, _read_region(_engine(cross.model, plain=True), picture, mode), rule=cross)
    return found


def _lines(
    engine: tesserocr.PyTessBaseAPI, layer: np.ndarray, scale: float, mode: int, *, line_mode: bool, languages: str
) -> list[TextBox]:
    retry = SCRIPT_RETRY.get(languages) if engine_languages(languages) != languages else None
    lines = []
    height, width = layer.shape
    for x0, y0, x1, y1 in _regions(layer, lone_shapes=languages not in NO_LONE_SHAPES):
        pad = max(4, (y1 - y0) // 4)
        left, top = max(0, x0 - pad), max(0, y0 - pad)
        crop = layer[top : min(height, y1 + pad), left : min(width, x1 + pad)]
        ink = crop[pad : -pad or None] == 0
        one_line = line_mode and _single_line(ink)
        region_mode = LINE_MODE if one_line else mode
        bands = _bands(ink)
        zoom = min(MAX_ZOOM, max(MIN_ZOOM, LINE_HEIGHT / float(np.median(bands)))) if bands else 1.0
        zoom = 1.0 if abs(zoom - 1.0) <= 0.05 else zoom
        picture = _zoomed(crop, zoom)
        found = _read_region(engine, picture, region_mode, small_kana=languages in SMALL_KANA)
        if languages in LONE_GLYPH and _lone_glyph(ink, bands) and all(c < MIN_CONFIDENCE for _, _, c in found):
            found = _read_region(engine, picture, WORD_MODE) or found
        if languages in RESCALE and any(confidence >= MIN_CONFIDENCE for _, _, confidence in found):
            # The model misreads a character at one size and not at another (倍 read 信, 襯 read 富 at 40 px, right
            # at 48; other lines the other way round), and says so: the misread character scores lower. A region
            # with a character under RESCALE_BELOW is read again at the second line height, and the reading
            # whose weakest character is stronger is kept (the first when equal).
            first = _symbol_confidences(engine)
            if first[0] < RESCALE_BELOW and bands:
                again = min(MAX_ZOOM, max(MIN_ZOOM, RESCALE[languages] / float(np.median(bands))))
                rescaled = _zoomed(crop, again)
                other = _read_region(engine, rescaled, region_mode)
                if other and _symbol_confidences(engine) > first:
                    found, picture, zoom = other, rescaled, again
        number_model = NUMBER_RETRY.get(languages)
        if number_model and found:
            # A number word the model scores low ("70090" for 70%, 36) is read again with the Latin model (its box,
            # as one line), and that reading replaces it when it is a number and scores higher.
            weak = [word for word in _words(engine) if _is_number(word[0]) and word[2] < NUMBER_RETRY_BELOW]
            if weak:
                found = _numbers_read_again(found, weak, picture, number_model)
        if found:
            found = _second_readings(
                engine, found, crop, picture, zoom=zoom, bands=bands, languages=languages, mode=region_mode
            )
        if retry and _foreign_words(found, retry):
            # A word of Latin letters inside a line of the locale's script is the model's misreading of a conjunct
            # it does not know (যত্ন read "TG"): the other model reads the region, and its reading is kept when it
            # has fewer such words and no fewer letters of the script (a brand name in Latin letters reads
            # alike in both, and the first reading stays).
            other = _read_region(_engine(languages, plain=True), picture, region_mode)
            if _foreign_words(other, retry) < _foreign_words(found, retry) and _native_letters(
                other, retry
            ) >= _native_letters(found, retry):
                found = other
        for text, box, confidence in found:
            if confidence < MIN_CONFIDENCE:
                continue
            bx0, by0, bx1, by1 = (
                round(v / scale)
                for v in (box[0] / zoom + left, box[1] / zoom + top, box[2] / zoom + left, box[3] / zoom + top)
            )
            lines.append(TextBox(text, bx0, by0, max(1, bx1 - bx0), max(1, by1 - by0), confidence))
    return lines


def _inside(box: TextBox, other: TextBox) -> float:
    """The share of `box`'s area that lies inside `other`."""
    w = min(box.right, other.right) - max(box.left, other.left)
    h = min(box.bottom, other.bottom) - max(box.top, other.top)
    if w <= 0 or h <= 0:
        return 0.0
    return w * h / (box.width * box.height)


def _reading_order(boxes: list[TextBox]) -> list[TextBox]:
    """Top to bottom by rows, left to right within a row: a box whose vertical middle lies within a row's span
    joins it. A line read in pieces (a glyph of it a few pixels higher) keeps its order, where sorting by the top
    edge put a later piece first."""
    rows: list[list[TextBox]] = []
    for box in sorted(boxes, key=lambda b: (b.top, b.left)):
        middle = box.top + box.height / 2
        row = rows[-1] if rows else None
        if row is not None and min(b.top for b in row) <= middle <= max(b.bottom for b in row):
            row.append(box)
        else:
            rows.append([box])
    return [box for row in rows for box in sorted(row, key=lambda b: b.left)]


def read_text(image: Image.Image, *, locale: str) -> OcrReading:
    """Every line of text Tesseract finds in `image`, for the scripts of `locale` (see the module docstring)."""
    languages = ocr_languages(locale)
    started = time.process_time()
    engine = _engine(languages)
    rgb = image.convert("RGBA") if image.mode in ("P", "LA", "PA") else image
    if rgb.mode == "RGBA":  # transparent pixels are read as white paper, not as whatever colour they hide
        rgb = Image.alpha_composite(Image.new("RGBA", rgb.size, (255, 255, 255, 255)), rgb)
    rgb = source = rgb.convert("RGB")
    scale = _work_scale(rgb.size)
    if scale != 1.0:
        size = (max(1, round(rgb.width * scale)), max(1, round(rgb.height * scale)))
        rgb = rgb.resize(size, Image.Resampling.BILINEAR if scale < 1 else Image.Resampling.LANCZOS)
    found: list[TextBox] = []
    # Marks are kept only where the image was scaled down (they shrank into specks); read at or above its size, a
    # speck beside a glyph is an anti-aliased fringe, read as a stray letter.
    for layer in _layers(rgb, marks=languages in SPARSE_ONLY and scale < 1.0):
        found += _lines(
            engine,
            layer,
            scale,
            PAGE_MODES.get(languages, PAGE_MODE),
            line_mode=languages not in SPARSE_ONLY,
            languages=languages,
        )
    kept: list[TextBox] = []
    for box in sorted(found, key=lambda b: -b.confidence):
        if all(_inside(box, other) < SAME_LINE for other in kept):
            kept.append(box)
    kept = _reading_order(kept)
    models = engine.GetInitLanguagesAsString()  # the models read with, e.g. "jpn+jpn_best+jpn_vert"
    if languages in ppocr.LANGUAGE_SETS and kept:
        kept = _read_again(kept, ppocr.read_lines(source, [_edges(box) for box in kept]))
        models += f"+{ppocr.NAME}"
    elif (script := SCRIPT_LINES.get(languages)) and kept:
        kept = _read_again(kept, _script_lines(source, kept, model=script))
        models += f"+{script}"
    return OcrReading(
        text="\n".join(box.text for box in kept),
        boxes=tuple(kept),
        languages=models,
        seconds=time.process_time() - started,
    )


def _edges(box: TextBox) -> tuple[int, int, int, int]:
    return box.left, box.top, box.right, box.bottom


def _read_again(boxes: list[TextBox], texts: list[str | None]) -> list[TextBox]:
    """`boxes` with a second model's reading of each line (`texts`) as its alternative, where it reads the line
    otherwise."""
    return [
        replace(box, alternatives=(text,)) if text and text != box.text else box
        for box, text in zip(boxes, texts, strict=True)
    ]


def _letters(text: str) -> int:
    return sum(unicodedata.category(char).startswith("L") for char in text)


def _script_lines(source: Image.Image, boxes: list[TextBox], *, model: str) -> list[str | None]:
    """Each line as Tesseract's script model `model` reads it, on the source image cropped to the line's box with
    a sixth of its height around it, scaled so the box is SCRIPT_LINE_HEIGHT px tall, in single-line mode."""
    engine = _engine(model, plain=True)
    engine.SetPageSegMode(LINE_MODE)
    texts: list[str | None] = []
    for box in boxes:
        # Trained on horizontal lines; a line of fewer than two letters is a mark or noise read off a shape (most
        # lines of a busy background: reading them again doubled the slowest renders' CPU).
        if box.height > ppocr.VERTICAL * box.width or _letters(box.text) < SCRIPT_LINE_MIN_LETTERS:
            texts.append(None)
            continue
        crop = ppocr.line_crop(source, _edges(box))
        zoom = SCRIPT_LINE_HEIGHT / max(1, box.height)
        size = (max(1, round(crop.width * zoom)), max(1, round(crop.height * zoom)))
        engine.SetImage(crop.resize(size, Image.Resampling.LANCZOS).convert("L"))
        texts.append(engine.GetUTF8Text().strip())
    return texts
