"""Reading the API's error answers in tests.

Every error under `/api/` is RFC 9457 problem details (`tenants/api/problems.py`):
`{"type", "title", "status", "detail", "code", "errors": [{"field", "code", "message"}]}`.
Tests ask which fields an error names and with which codes through these helpers, so that a
change of the shape is made in one place.
"""

from __future__ import annotations

from typing import Any

PROBLEM_CONTENT_TYPE = "application/problem+json"


def error_body(response: Any) -> dict[str, Any]:
    assert response["Content-Type"].startswith(PROBLEM_CONTENT_TYPE), response["Content-Type"]
    body = response.json()
    assert isinstance(body, dict), body
    assert {"type", "title", "status", "detail", "code", "errors"} <= set(body), body
    assert body["status"] == response.status_code, body
    assert isinstance(body["errors"], list) and body["errors"], body
    return body


def error_fields(response: Any) -> set[str]:
    """The names of the fields an error answer names (`non_field_errors` for an error about none)."""
    return {item["field"] or "non_field_errors" for item in error_body(response)["errors"]}


def error_codes(response: Any) -> set[str]:
    body = error_body(response)
    return {item["code"] for item in body["errors"]} | {body["code"]}


def error_messages(response: Any) -> list[str]:
    """Every message of an error answer, in order (for assertions on the wording)."""
    return [item["message"] for item in error_body(response)["errors"]]


def error_message(response: Any, field: str | None = None) -> str:
    """The messages about one field (None: about no single field), joined."""
    items = error_body(response)["errors"]
    return " ".join(item["message"] for item in items if item["field"] == field)


def names_field(response: Any, field: str) -> bool:
    """Whether the answer names `field` itself or a part of it (`tags` for `tags.0`)."""
    return any(name == field or name.startswith(f"{field}.") for name in error_fields(response))
