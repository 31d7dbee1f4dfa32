"""The one shape of every error answered under `/api/`: RFC 9457 problem details.

    HTTP/1.1 400 Bad Request
    Content-Type: application/problem+json

    {"type": "about:blank", "title": "Bad Request", "status": 400,
     "detail": "tags.0: Ensure this field has no more than 40 characters.",
     "code": "max_length",
     "errors": [{"field": "tags.0", "code": "max_length", "message": "Ensure this field ..."},
                {"field": "size", "code": "invalid_choice", "message": "\\"9x9\\" is not a valid choice."}]}

- `type` is `about:blank` (RFC 9457 section 4.2.1): the HTTP status says what kind of problem
  it is and `title` is its reason phrase; the machine-readable reason is `code`.
- `code` (top level) is the first error's code, kept because clients switch on it
  (`budget_exceeded`, `safety_blocked`, `moderation_unavailable`, `conflict`...).
- `errors` lists every invalid field, nested fields as dotted paths (`tags.0`,
  `copy.fr.headline`); an error about no single field has `field: null`.
- A 5xx never carries exception text.

The serializers describe the shape for the OpenAPI schema; `problem_body` builds it.
"""

from __future__ import annotations

from http import HTTPStatus
from typing import Any

from rest_framework import serializers

PROBLEM_CONTENT_TYPE = "application/problem+json"
PROBLEM_TYPE = "about:blank"


class ProblemFieldErrorSerializer(serializers.Serializer):
    field = serializers.CharField(
        allow_null=True,
        help_text="The invalid field as a dotted path (`tags.0`), or null for an error about no single field.",
    )
    code = serializers.CharField(help_text="Machine-readable rule that failed (`required`, `max_length`...).")
    message = serializers.CharField(help_text="Human-readable explanation.")


class ProblemDetailSerializer(serializers.Serializer):
    type = serializers.CharField(help_text="RFC 9457 problem type; `about:blank`: the status says it all.")
    title = serializers.CharField(help_text="The HTTP status's reason phrase.")
    status = serializers.IntegerField(help_text="The HTTP status code, repeated.")
    detail = serializers.CharField(help_text="Human-readable explanation of this occurrence.")
    code = serializers.CharField(help_text="Machine-readable code of the first error (also in `errors`).")
    errors = ProblemFieldErrorSerializer(many=True, help_text="Every error, one per invalid field and rule.")


def status_title(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Error"


def problem_body(*, status: int, errors: list[dict[str, Any]], detail: str | None = None) -> dict[str, Any]:
    """A problem document; `errors` items are `{"field", "code", "message"}`."""
    if not errors:
        errors = [{"field": None, "code": "error", "message": detail or status_title(status)}]
    if detail is None:
        first = errors[0]
        detail = f"{first['field']}: {first['message']}" if first["field"] else first["message"]
        if len(errors) > 1:
            detail += f" (and {len(errors) - 1} more)"
    return {
        "type": PROBLEM_TYPE,
        "title": status_title(status),
        "status": status,
        "detail": detail,
        "code": errors[0]["code"],
        "errors": errors,
    }
