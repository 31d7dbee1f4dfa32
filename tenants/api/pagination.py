"""Cursor pages, with cursors the server signed.

DRF's cursor is base64 of `o=<offset>&r=<reverse>&p=<position>` and the position goes straight
into a filter (`id < p`): a hand-made cursor with `p=abc` was a 500, a huge one a slow decode.
Cursors are signed here (django.core.signing, salted per use), so anything not minted by
the server (tampered, truncated, oversized, not ASCII) is a 400 naming `cursor`.
"""

from __future__ import annotations

from base64 import b64decode
from urllib import parse

from django.core import signing
from rest_framework import exceptions, pagination
from rest_framework.utils.urls import replace_query_param

# A signed cursor is under 100 characters; anything much longer was not minted here.
MAX_CURSOR_LENGTH = 256
_signer = signing.Signer(salt="tenants.api.pagination.cursor")


def _invalid(message: str) -> exceptions.ValidationError:
    return exceptions.ValidationError({"cursor": [exceptions.ErrorDetail(message, code="invalid_cursor")]})


class SignedCursorPagination(pagination.CursorPagination):
    page_size_query_param = "page_size"

    def encode_cursor(self, cursor: pagination.Cursor) -> str:
        url = super().encode_cursor(cursor)
        encoded = parse.parse_qs(parse.urlsplit(url).query)[self.cursor_query_param][0]
        return replace_query_param(self.base_url, self.cursor_query_param, _signer.sign(encoded))

    def decode_cursor(self, request) -> pagination.Cursor | None:
        raw = request.query_params.get(self.cursor_query_param)
        if raw is None:
            return None
        if len(raw) > MAX_CURSOR_LENGTH or not raw.isascii():
            raise _invalid("not a cursor this API gave out")
        try:
            encoded = _signer.unsign(raw)
            tokens = parse.parse_qs(b64decode(encoded.encode("ascii")).decode("ascii"), keep_blank_values=True)
            offset = pagination._positive_int(tokens.get("o", ["0"])[0], cutoff=self.offset_cutoff)
            reverse = bool(int(tokens.get("r", ["0"])[0]))
            position = tokens.get("p", [None])[0]
        except (signing.BadSignature, TypeError, ValueError):
            raise _invalid("not a cursor this API gave out (or one signed with a previous SECRET_KEY)") from None
        return pagination.Cursor(offset=offset, reverse=reverse, position=position)


class StableCursorPagination(SignedCursorPagination):
    """Cursor pages over the primary key: stable under concurrent inserts, O(1) per page."""

    ordering = "-id"
    max_page_size = 200
