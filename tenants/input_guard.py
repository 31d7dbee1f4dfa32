"""Text no part of the platform can store, refused where every request comes in.

PostgreSQL refuses NUL (U+0000) in text, and UTF-8 cannot encode an unpaired surrogate
(U+D800-U+DFFF, which JSON's `"\\ud800"` escapes produce): either reaching a query or a
moderation call was a 500. They are refused here, before any view, service or moderation
call sees them, with a 400 naming the field:

- `RequestTextGuardMiddleware`: the path and every query parameter of every request, and the
  form fields of requests outside the API (the staff web UI);
- the API's parsers (`GuardedJSONParser`, `GuardedFormParser`, `GuardedMultiPartParser`,
  the REST_FRAMEWORK defaults): every key and string of a body, at any depth (fields named
  as dotted paths, `tags.0`). The JSON parser also refuses nesting deeper than
  `MAX_JSON_DEPTH` (a 1,000-level document was a RecursionError) and numbers JSON allows but
  no field can hold (`1e999` is infinity; `NaN` and `Infinity` are refused already).
"""

from __future__ import annotations

import io
import json
import math
import re
from collections.abc import Callable, Iterator
from typing import Any

from django.conf import settings
from django.core.exceptions import RequestDataTooBig
from django.http import HttpRequest, HttpResponse, HttpResponseBadRequest, QueryDict
from rest_framework import exceptions, parsers

# Deeper than any request body the API takes (the deepest, a job's copy, is 3 levels).
MAX_JSON_DEPTH = 32
API_PREFIX = "/api/"

_REFUSED = re.compile("[\x00\ud800-\udfff]")


class RefusedText(Exception):
    def __init__(self, errors: list[dict[str, Any]]) -> None:
        super().__init__(errors[0]["message"])
        self.errors = errors


def _why(text: str) -> tuple[str, str] | None:
    found = _REFUSED.search(text)
    if found is None:
        return None
    if found.group() == "\x00":
        return "null_character", "must not contain NUL (U+0000) characters"
    return "unpaired_surrogate", f"must not contain unpaired surrogates (U+{ord(found.group()):04X})"


def _printable(name: str) -> str:
    """A field name fit to be reported (itself possibly holding the refused characters)."""
    return _REFUSED.sub(lambda m: f"\\u{ord(m.group()):04x}", name)


def _join(path: str | None, key: object) -> str:
    return f"{path}.{key}" if path else str(key)


def refused_text(value: Any, *, path: str | None = None, depth: int = 0) -> Iterator[dict[str, Any]]:
    """Every string (keys too) that cannot be stored, every number no field holds, too-deep nesting."""
    # Iterative, so the walk itself cannot overflow the stack on a deep document.
    stack: list[tuple[Any, str | None, int]] = [(value, path, depth)]
    while stack:
        item, where, level = stack.pop()
        if level > MAX_JSON_DEPTH:
            yield {"field": where, "code": "too_deep", "message": f"nesting deeper than {MAX_JSON_DEPTH} levels"}
            continue
        if isinstance(item, str):
            why = _why(item)
            if why is not None:
                yield {"field": _printable(where or "non_field_errors"), "code": why[0], "message": why[1]}
        elif isinstance(item, float) and not math.isfinite(item):
            yield {"field": where, "code": "invalid_number", "message": "numbers must be finite"}
        elif isinstance(item, dict):
            for key, child in item.items():
                key_why = _why(str(key))
                if key_why is not None:
                    yield {"field": _printable(_join(where, key)), "code": key_why[0], "message": key_why[1]}
                    continue
                stack.append((child, _join(where, key), level + 1))
        elif isinstance(item, list | tuple):
            stack.extend((child, _join(where, index), level + 1) for index, child in enumerate(item))


def check_query_dict(data: QueryDict) -> list[dict[str, Any]]:
    """A query string's or form's parameters, named as sent (a repeated parameter once)."""
    errors = []
    for key in data:
        found = list(refused_text(key)) or [error for value in data.getlist(key) for error in refused_text(value)]
        if found:
            errors.append({**found[0], "field": _printable(key)})
    return errors


def _raise_validation(errors: list[dict[str, Any]]) -> None:
    detail: dict[str | None, list[exceptions.ErrorDetail]] = {}
    for error in errors:
        detail.setdefault(error["field"], []).append(exceptions.ErrorDetail(error["message"], code=error["code"]))
    raise exceptions.ValidationError(detail)


def _refuse_constant(name: str) -> None:
    raise ValueError(f"{name} is not a number JSON allows")


def load_json(text: Any, *, field: str | None = None) -> Any:
    """JSON with the API's limits (a body, or a JSON document inside a form field named `field`)."""
    try:
        data = json.loads(text, parse_constant=_refuse_constant) if isinstance(text, str | bytes) else json.load(text)
    except RecursionError:
        _raise_validation(
            [{"field": field, "code": "too_deep", "message": f"JSON nested deeper than {MAX_JSON_DEPTH} levels"}]
        )
    except ValueError as exc:
        _raise_validation([{"field": field, "code": "parse_error", "message": f"JSON parse error - {exc}"}])
    errors = list(refused_text(data, path=field))
    if errors:
        _raise_validation(errors)
    return data


def _read_bounded(stream: Any) -> bytes:
    """The body, refused past DATA_UPLOAD_MAX_MEMORY_SIZE (DRF parsers read a stream Django leaves unbounded)."""
    limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
    body = stream.read() if limit is None else stream.read(limit + 1)
    if limit is not None and len(body) > limit:
        raise RequestDataTooBig("Request body exceeded settings.DATA_UPLOAD_MAX_MEMORY_SIZE.")
    return body


class GuardedJSONParser(parsers.JSONParser):
    def parse(self, stream, media_type=None, parser_context=None):
        encoding = (parser_context or {}).get("encoding", "utf-8")
        try:
            text = _read_bounded(stream).decode(encoding)
        except UnicodeDecodeError as exc:
            raise exceptions.ParseError(f"the body is not {encoding}: {exc.reason}") from None
        return load_json(text)


class GuardedFormParser(parsers.FormParser):
    def parse(self, stream, media_type=None, parser_context=None):
        data = super().parse(io.BytesIO(_read_bounded(stream)), media_type, parser_context)
        errors = check_query_dict(data)
        if errors:
            _raise_validation(errors)
        return data


class GuardedMultiPartParser(parsers.MultiPartParser):
    def parse(self, stream, media_type=None, parser_context=None):
        result = super().parse(stream, media_type, parser_context)
        errors = check_query_dict(result.data)
        errors += [
            {"field": _printable(key), "code": code, "message": f"file name {message}"}
            for key, upload in result.files.items()
            if (why := _why(upload.name or "")) is not None
            for code, message in [why]
        ]
        if errors:
            _raise_validation(errors)
        return result


def _request_errors(request: HttpRequest) -> list[dict[str, Any]]:
    why = _why(request.path_info)
    if why is not None:
        return [{"field": "path", "code": why[0], "message": why[1]}]
    errors = check_query_dict(request.GET)
    if not errors and not request.path_info.startswith(API_PREFIX) and request.method == "POST":
        # The staff web UI's forms (the API's bodies are its parsers' to check, lazily).
        content_type = request.content_type or ""
        if content_type in {"application/x-www-form-urlencoded", "multipart/form-data"}:
            errors = check_query_dict(request.POST)
    return errors


class RequestTextGuardMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        errors = _request_errors(request)
        if errors:
            if request.path_info.startswith(API_PREFIX):
                # Imported here: DRF imports this module's parsers while its views module loads.
                from tenants.api.problems import problem_response

                return problem_response(status=400, errors=errors)
            first = errors[0]
            return HttpResponseBadRequest(
                f"{first['field']}: {first['message']}", content_type="text/plain; charset=utf-8"
            )
        return self.get_response(request)
