"""Integers from text a client sent (query parameters, path segments, form fields).

`str.isdigit()` is true for superscripts (`²`), which `int()` then refuses (a 500), and for
other scripts' digits (`٣`, fullwidth ones), which `int()` quietly takes; a long enough string of digits
overflows PostgreSQL's bigint or passes `int()`'s digit limit. Requests speak ASCII decimal:
anything else is not a number here, and the caller answers 400 or 404 as for any bad value.
"""

from __future__ import annotations

# 18 digits always fit a bigint (2**63 - 1 has 19).
MAX_DIGITS = 18


def is_digits(text: object) -> bool:
    """ASCII decimal digits only, at most MAX_DIGITS of them: `int(text)` is exact and fits a bigint."""
    return isinstance(text, str) and 0 < len(text) <= MAX_DIGITS and text.isascii() and text.isdigit()


def parse_int(text: object, *, default: int | None = None) -> int | None:
    """`int(text)` for `is_digits` text (an optional leading minus allowed), else `default`."""
    if isinstance(text, str):
        sign, digits = (-1, text[1:]) if text.startswith("-") else (1, text)
        if is_digits(digits):
            return sign * int(digits)
    return default
