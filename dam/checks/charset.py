"""Which characters the OCR models can write: a copy character outside them can never be read back.

Tesseract's LSTM models output only the characters of their training set (the `lstm-unicharset` inside each
.traineddata file). Debian's `kor` holds 1,076 of the 11,172 Hangul syllables: "앱" (app) is not one of them, so
a correct render of "앱 다운로드" is read "앰 다운로드" and the copy check says NEAR; no Chinese model has "犒". Such a
character cannot be verified by reading, whatever the image holds. The check keeps its verdict (a person looks)
and says why: `unreadable_characters` names the copy's characters that none of the reading's models can write,
the asset page shows them beside the differences (docs/checks.md, "Characters the models cannot write").

Chinese and Japanese lines are also read by PP-OCRv6 (dam.checks.ppocr, named `ppocr_v6` in a reading's
languages), whose dictionary holds 犒 and 豔: a character either model can write is not named.

Integer ("fast", best_int) models cannot be fine-tuned to add characters (lstmtraining refuses them), and no
float model of these languages is on the package registries we install from; hence naming them, not reading them.
"""

from __future__ import annotations

import struct
import unicodedata
from functools import lru_cache
from pathlib import Path

from dam.checks import ppocr

# The tessdata container: an int32 count of component slots, that many int64 offsets (-1: absent), the parts.
_LSTM_UNICHARSET = 21  # TessdataType TESSDATA_LSTM_UNICHARSET
_HEADER = struct.Struct("<i")


@lru_cache(maxsize=64)
def model_characters(path: str) -> frozenset[str]:
    """Every code point the LSTM model at `path` can output (its unicharset's entries, split into code points).
    Empty when the file has no LSTM part (a legacy-only model writes nothing we could list)."""
    data = Path(path).read_bytes()
    (slots,) = _HEADER.unpack_from(data, 0)
    offsets = struct.unpack_from(f"<{slots}q", data, _HEADER.size)
    start = offsets[_LSTM_UNICHARSET] if slots > _LSTM_UNICHARSET else -1
    if start < 0:
        return frozenset()
    following = [offset for offset in offsets if offset > start]
    end = min(following) if following else len(data)
    lines = data[start:end].decode("utf-8").splitlines()[1:]  # the first line is the entry count
    # An entry is its text up to the first space: a code point, a cluster ("क्ष"), or NULL / Joined / |Broken|...
    return frozenset(char for line in lines for char in line.split(" ", 1)[0])


def unreadable_characters(copy: str, *, languages: str, tessdata: str) -> tuple[str, ...]:
    """The letters, marks and digits of `copy` (NFKC, as the comparison sees it) that none of the models in `languages`
    (a reading's "kor+kor_vert") can write, in the order they first appear. Spaces, punctuation and symbols are
    not named: the comparison folds their shapes, and a missing model glyph for one is not what a reviewer checks."""
    writable: set[str] = set()
    for name in filter(None, languages.split("+")):
        if name == ppocr.NAME:  # the second recognizer's dictionary (dam.checks.ppocr)
            writable |= ppocr.model_characters()
            continue
        model = Path(tessdata, f"{name}.traineddata")
        if not model.is_file():
            return ()  # a model we cannot inspect: claim nothing
        writable |= model_characters(str(model))
    if not writable:
        return ()
    seen: dict[str, None] = {}
    for char in unicodedata.normalize("NFKC", copy):
        if unicodedata.category(char)[0] in "LMN" and char not in writable and char.casefold() not in writable:
            seen.setdefault(char)
    return tuple(seen)
