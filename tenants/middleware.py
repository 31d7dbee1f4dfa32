"""Request ids: every request carries one, so an audit event can be tied to its access log line."""

from __future__ import annotations

import uuid
from collections.abc import Callable

from django.http import HttpRequest, HttpResponse

from tenants.audit import REQUEST_ID_HEADER, REQUEST_ID_META, is_valid_request_id


class RequestIdMiddleware:
    """Keep a well-formed incoming `X-Request-Id` (a proxy's), else mint one; echo it on the response."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        incoming = request.META.get(REQUEST_ID_META, "")
        request.request_id = incoming if is_valid_request_id(incoming) else uuid.uuid4().hex
        response = self.get_response(request)
        response.headers.setdefault(REQUEST_ID_HEADER, request.request_id)
        return response
