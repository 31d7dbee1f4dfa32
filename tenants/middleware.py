"""Request ids: every request carries one, so an audit event can be tied to its access log line. And the staff
UI's time zone: the tenant's."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from zoneinfo import ZoneInfo

from django.http import HttpRequest, HttpResponse
from django.utils import timezone

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


class StaffTimeZoneMiddleware:
    """The staff UI shows times in the time zone of the tenant being worked in (the top bar names it).

    Stored times are UTC; activating the tenant's zone for the request makes every rendered date local to the
    tenant, the stock admin's lists included. The API keeps UTC (ISO 8601 with offset).
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if not request.path.startswith("/admin/") or not getattr(request, "user", None):
            return self.get_response(request)
        # The admin package registers model admins when imported: loaded when a staff request needs it.
        from tenants.admin.base import admin_tenant_context

        tenant = admin_tenant_context(request).tenant
        if tenant is None:
            return self.get_response(request)
        try:
            timezone.activate(ZoneInfo(tenant.time_zone))
            return self.get_response(request)
        finally:
            timezone.deactivate()
