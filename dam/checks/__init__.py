"""Deterministic checks of a generated version against its brief and the tenant's brand policy: the copy read
back by OCR and compared with the locale's copy string (ocr, copy), the palette, the legibility of the copy and
the logo (palette, legibility, logo), and whether each placement's crop keeps the copy whole (crops). Pure
functions on Pillow images returning small frozen dataclasses whose ``to_dict()`` is the stored evidence; no
models, no database access: the version-check service owns persistence and verdict effects.
"""
