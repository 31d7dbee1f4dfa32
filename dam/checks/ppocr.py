"""A second recognizer for Chinese and Japanese lines: PP-OCRv6's text-line model, through RapidOCR.

Tesseract finds the lines of a picture (dam.checks.ocr: colour layers, regions, line boxes) and reads them. For
the language sets in LANGUAGE_SETS every horizontal line it found is read again by PP-OCRv6's multilingual
recognizer (Chinese, Simplified and Traditional, Japanese and Latin script), on the source picture cropped to the
line's box. The model ships inside the `rapidocr` wheel and runs on ONNX Runtime: nothing is downloaded, and no
detection model runs (Tesseract's layout decides where the lines are; PP-OCR's detector costs seconds at 2048 px).

Its reading is kept beside Tesseract's (`TextBox.alternatives`), not instead of it: the copy comparison takes
whichever reading of a line is closer to the copy (dam.checks.copy). Each model reads what the other misses:
Tesseract's models cannot write 犒 or 豔 and read 鮮豔 as 鮮套, PP-OCR reads a small kana as the full-size one
(ファッション as フアッション) and some Simplified characters in their Traditional form (减 as 減).
A substituted or dropped character is still caught unless both models read the faulted line as the copy.
Measured with bench/ocr_accuracy.py (docs/checks-accuracy.md, fifth round): exact on correct renders ja 96.0 ->
98.5 %, zh-Hans 95.0 -> 98.0 %, zh-Hant 94.0 -> 99.5 %, every fault still caught; about 20 ms of CPU per line.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

# Tesseract's language sets (dam.checks.ocr.ocr_languages) whose lines PP-OCR reads again.
LANGUAGE_SETS = frozenset({"jpn+jpn_vert", "chi_sim+chi_sim_vert", "chi_tra+chi_tra_vert"})
# How a reading names the model among its languages (OcrReading.languages, "chi_tra+chi_tra_vert+ppocr_v6"):
# dam.checks.charset lists what it can write.
NAME = "ppocr_v6"
MODEL_FILE = "PP-OCRv6_rec_small.onnx"
# Height over width above which a line is vertical: the model reads horizontal lines only.
VERTICAL = 1.5
# Margin around a line's box, of its height: Tesseract's boxes are tight on the ink; the model was trained on
# lines with some background around them.
PAD = 1 / 6
MIN_PAD = 2  # px
# RapidOCR's own floor: a line it scores under this is returned empty (no alternative).
MIN_SCORE = 0.5

_local = threading.local()


def _recognizer() -> Any:
    """The thread's RapidOCR (a recognizer per thread, like Tesseract's engines; its model loads on first use)."""
    engine = getattr(_local, "engine", None)
    if engine is None:
        from rapidocr import RapidOCR  # imported here: only a worker that reads Chinese or Japanese copy loads it

        engine = RapidOCR(
            params={
                "Global.log_level": "error",
                "Global.text_score": MIN_SCORE,
                # One thread: a check runs in a pool of workers, each already a thread of its own.
                "EngineConfig.onnxruntime.intra_op_num_threads": 1,
                "EngineConfig.onnxruntime.inter_op_num_threads": 1,
            }
        )
        _local.engine = engine
    return engine


def model_path() -> Path:
    import rapidocr

    return Path(rapidocr.__file__).parent / "models" / MODEL_FILE


@lru_cache(maxsize=1)
def model_characters() -> frozenset[str]:
    """Every character the model can write (its dictionary, kept in the ONNX file's metadata)."""
    import onnxruntime

    session = onnxruntime.InferenceSession(str(model_path()), providers=["CPUExecutionProvider"])
    return frozenset("".join(session.get_modelmeta().custom_metadata_map.get("character", "").splitlines()))


def line_crop(image: Image.Image, edges: tuple[int, int, int, int]) -> Image.Image:
    """The line box `edges` (left, top, right, bottom) of `image` with PAD of its height around it, as a second
    model reads it (this one, and dam.checks.ocr's script models)."""
    left, top, right, bottom = edges
    pad = max(MIN_PAD, round((bottom - top) * PAD))
    return image.crop(
        (max(0, left - pad), max(0, top - pad), min(image.width, right + pad), min(image.height, bottom + pad))
    )


def read_lines(image: Image.Image, boxes: Sequence[tuple[int, int, int, int]]) -> list[str | None]:
    """Each line box (left, top, right, bottom, in `image`'s pixels) as the model reads it; None for a vertical
    line, and "" for one it reads nothing in (or scores under MIN_SCORE)."""
    engine = _recognizer()
    texts: list[str | None] = []
    for left, top, right, bottom in boxes:
        width, height = right - left, bottom - top
        if width <= 0 or height <= 0 or height > VERTICAL * width:
            texts.append(None)
            continue
        crop = line_crop(image, (left, top, right, bottom))
        result = engine(np.asarray(crop), use_det=False, use_cls=False, use_rec=True)
        texts.append("".join(result.txts or ()))
    return texts
