"""Pagination cursors are the server's own: tampered, oversized or foreign ones are a 400 naming `cursor`."""

from __future__ import annotations

from base64 import b64encode
from urllib.parse import parse_qs, urlsplit

import pytest

from tests.factories import make_asset
from tests.support.errors import error_codes, error_fields

pytestmark = pytest.mark.django_db


def _cursor(url: str) -> str:
    return parse_qs(urlsplit(url).query)["cursor"][0]


@pytest.mark.parametrize("list_url", ["/api/v1/assets", "/api/v1/audit"])
def test_a_cursor_the_api_gave_out_pages_and_anything_else_is_400_naming_cursor(alice, list_url):
    for index in range(3):
        make_asset(alice.tenant, title=f"asset {index}")
    api = alice.client()
    first = api.get(list_url, {"page_size": 1})
    assert first.status_code == 200 and first.json()["next"]
    cursor = _cursor(first.json()["next"])
    second = api.get(list_url, {"page_size": 1, "cursor": cursor})
    assert second.status_code == 200 and second.json()["results"] != first.json()["results"]

    forged = [
        b64encode(b"p=abc").decode(),  # a position no id column takes: was a 500
        b64encode(b"p=1%00").decode(),
        b64encode(b"o=1&r=1&p=99999999999999999999999").decode(),
        cursor[:-1] + ("A" if cursor[-1] != "A" else "B"),  # tampered
        cursor + "x" * 5000,  # oversized
        "é" + cursor,
        "not-base64!!",
    ]
    for bad in forged:
        response = api.get(list_url, {"cursor": bad})
        assert response.status_code == 400, (bad[:40], response.content[:200])
        assert error_fields(response) == {"cursor"} and "invalid_cursor" in error_codes(response)
