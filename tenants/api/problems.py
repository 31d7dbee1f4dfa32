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

import json
from collections.abc import Callable
from http import HTTPStatus
from typing import Any

from django.core.exceptions import NON_FIELD_ERRORS, RequestDataTooBig, TooManyFieldsSent, TooManyFilesSent
from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import HttpRequest, HttpResponse
from drf_standardized_errors.formatter import ExceptionFormatter, flatten_errors
from drf_standardized_errors.handler import ExceptionHandler
from rest_framework import exceptions, serializers
from rest_framework.response import Response
from rest_framework.status import is_server_error

from tenants.errors import ServiceError

PROBLEM_CONTENT_TYPE = "application/problem+json"
PROBLEM_TYPE = "about:blank"
API_PREFIX = "/api/"


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


# Keys that name no single field: DRF's, Django's, and the services' default.
NON_FIELD_KEYS = frozenset({"non_field_errors", "__all__", NON_FIELD_ERRORS})


def field_or_none(name: str | None) -> str | None:
    return None if name is None or name in NON_FIELD_KEYS else name


class ProblemFormatter(ExceptionFormatter):
    """drf-standardized-errors' flattening of nested errors (`tags.0`), rendered as problem details."""

    def run(self) -> dict[str, Any]:
        status = self.exc.status_code
        if is_server_error(status) and not isinstance(self.original_exc, exceptions.APIException | ServiceError):
            # An unexpected exception: its text may hold secrets or internals, so only the status is said.
            return problem_body(status=status, errors=[{"field": None, "code": "error", "message": "Server Error"}])
        errors = [
            {"field": field_or_none(error.attr), "code": error.code, "message": error.detail}
            for error in flatten_errors(self.exc.detail)
        ]
        body = problem_body(status=status, errors=errors)
        if isinstance(self.original_exc, ServiceError):
            # Extension members a service adds (a refused budget's figures), next to the standard ones.
            for key, value in self.original_exc.as_dict().items():
                if key not in {self.original_exc.field, "code"}:
                    body.setdefault(key, value)
        return body


class ProblemExceptionHandler(ExceptionHandler):
    def convert_known_exceptions(self, exc: Exception) -> Exception:
        if isinstance(exc, ServiceError):
            converted = exceptions.APIException({exc.field: [exceptions.ErrorDetail(exc.message, code=exc.code)]})
            converted.status_code = exc.status_code
            return converted
        # Services raise Django's ValidationError; the API answers it as a 400 naming the field.
        if isinstance(exc, DjangoValidationError):
            detail = exc.message_dict if hasattr(exc, "error_dict") else {None: exc.messages}
            codes = _django_codes(exc)
            return exceptions.ValidationError(
                {
                    key: [exceptions.ErrorDetail(message, code=codes.get(key, "invalid")) for message in messages]
                    for key, messages in detail.items()
                }
            )
        # Django's request limits (DATA_UPLOAD_MAX_MEMORY_SIZE, ..._NUMBER_FIELDS/_FILES) met while parsing a body.
        if isinstance(exc, RequestDataTooBig):
            too_big = exceptions.APIException(exceptions.ErrorDetail("the request body is too large", code="too_large"))
            too_big.status_code = 413
            return too_big
        if isinstance(exc, TooManyFieldsSent | TooManyFilesSent):
            return exceptions.ParseError(exceptions.ErrorDetail(str(exc), code="too_many_fields"))
        return super().convert_known_exceptions(exc)

    def report_exception(self, exc: exceptions.APIException, response: Response) -> None:
        # Only the unexpected is reported as an exception (got_request_exception: error trackers,
        # the test client). A 503 a service chose (moderation unavailable) is an answer, which
        # Django logs like any 5xx response.
        if not isinstance(self.exc, exceptions.APIException | ServiceError):
            super().report_exception(exc, response)

    def format_exception(self, exc: exceptions.APIException) -> dict:
        return ProblemFormatter(exc, self.context, self.exc).run()

    def get_response(self, exc: exceptions.APIException, data: dict) -> Response:
        response = super().get_response(exc, data)
        request = self.context.get("request")
        renderer = getattr(request, "accepted_renderer", None)
        if renderer is None or renderer.format == "json":
            response.content_type = PROBLEM_CONTENT_TYPE
        return response


def _django_codes(exc: DjangoValidationError) -> dict[str | None, str]:
    if hasattr(exc, "error_dict"):
        return {key: (errors[0].code or "invalid") for key, errors in exc.error_dict.items() if errors}
    return {None: next((error.code for error in exc.error_list if error.code), "invalid")}


def problem_exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    return ProblemExceptionHandler(exc, context).run()  # type: ignore[arg-type]


def problem_response(*, status: int, errors: list[dict[str, Any]], detail: str | None = None) -> HttpResponse:
    """A problem answer outside DRF (middleware, Django's error handlers)."""
    response = HttpResponse(
        json.dumps(problem_body(status=status, errors=errors, detail=detail)),
        status=status,
        content_type=PROBLEM_CONTENT_TYPE,
    )
    response["Cache-Control"] = "no-store"
    return response


_ERROR_PAGE_CODES = {
    400: "bad_request",
    403: "permission_denied",
    404: "not_found",
    405: "method_not_allowed",
    413: "too_large",
    500: "error",
}


class ApiProblemMiddleware:
    """Django's own error pages under `/api/` (unknown URL, body too big, a 500) become problem details.

    DRF's handler answers errors raised in API views; this catches what happens before or outside
    them (URL resolution, Django's request limits, middleware, an exception DRF let through). The
    body says only the status: Django's page may hold exception text. Outside `/api/` HTML stays.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        if (
            response.status_code >= 400
            and request.path_info.startswith(API_PREFIX)
            and not response.get("Content-Type", "").startswith((PROBLEM_CONTENT_TYPE, "application/json"))
        ):
            status = response.status_code
            code = _ERROR_PAGE_CODES.get(status, "error")
            errors = [{"field": None, "code": code, "message": status_title(status)}]
            problem = problem_response(status=status, errors=errors)
            for header in ("Allow", "Retry-After", "WWW-Authenticate", "X-Request-Id"):
                if header in response:
                    problem[header] = response[header]
            return problem
        return response
