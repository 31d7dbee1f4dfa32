"""Reading the API's error answers in tests, whatever their shape.

Tests ask which fields an error names and with which codes through these helpers, so
that a change of the error shape (see `tenants/api_base.py`) is made in one place.
"""

from __future__ import annotations

from typing import Any


def error_body(response: Any) -> dict[str, Any]:
    body = response.json()
    assert isinstance(body, dict), body
    return body


def error_fields(response: Any) -> set[str]:
    """The names of the fields an error answer names (`non_field_errors` for none)."""
    body = error_body(response)
    if isinstance(body.get("errors"), list):
        return {item.get("field") or "non_field_errors" for item in body["errors"]}
    return {key for key in body if key not in {"code", "detail"}}


def error_codes(response: Any) -> set[str]:
    body = error_body(response)
    if isinstance(body.get("errors"), list):
        return {item["code"] for item in body["errors"]} | ({body["code"]} if "code" in body else set())
    return {body["code"]} if "code" in body else set()
