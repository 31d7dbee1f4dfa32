"""Browser-facing hardening the stock middleware does not cover: Permissions-Policy, and staff sessions
that end after SESSION_IDLE_TIMEOUT_MINUTES without a request or SESSION_MAX_AGE_HOURS after login.

Django's SecurityMiddleware already sends Referrer-Policy (SECURE_REFERRER_POLICY),
X-Content-Type-Options (SECURE_CONTENT_TYPE_NOSNIFF) and Cross-Origin-Opener-Policy; django-csp's
middleware sends Content-Security-Policy. All of them reach every response, `/api/` JSON included.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from django.conf import settings
from django.contrib.auth import logout
from django.http import HttpRequest, HttpResponse

# Session keys (epoch seconds): when the login happened, and the last request seen.
STARTED_KEY = "_session_started_at"
SEEN_KEY = "_session_seen_at"
# The last-seen stamp is rewritten at most this often, so a page that polls (htmx every few seconds)
# does not write the session row on every request; the idle limit is exact to within this much.
SEEN_RESOLUTION_SECONDS = 60


def _now() -> float:
    return time.time()  # one clock, replaced by the tests' time travel


class SecurityHeadersMiddleware:
    """Permissions-Policy on every response: the UI uses no camera, microphone, location, payment..."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        if settings.PERMISSIONS_POLICY:
            response.headers.setdefault("Permissions-Policy", settings.PERMISSIONS_POLICY)
        return response


class SessionTimeoutMiddleware:
    """Log a session-authenticated user out when the session sat idle or lived too long.

    After AuthenticationMiddleware: the request then goes on as anonymous (the admin redirects to its
    login page, the API answers 401/403), and the old session is flushed, its id unusable.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        user = getattr(request, "user", None)
        if user is not None and user.is_authenticated:
            session = request.session
            now = _now()
            started = session.get(STARTED_KEY)
            seen = session.get(SEEN_KEY)
            if started is None or seen is None:  # a session from before this middleware, or a fresh login
                session[STARTED_KEY] = started = now if started is None else started
                session[SEEN_KEY] = seen = now
            idle = settings.SESSION_IDLE_TIMEOUT_MINUTES * 60
            lifetime = settings.SESSION_MAX_AGE_HOURS * 3600
            if now - seen > idle or now - started > lifetime:
                logout(request)  # flushes the session and rotates its key
            elif now - seen >= SEEN_RESOLUTION_SECONDS:
                session[SEEN_KEY] = now
        return self.get_response(request)


def stamp_login(sender, request: HttpRequest, user, **kwargs) -> None:
    """At login the clocks start afresh (`user_logged_in`; the session key was just rotated)."""
    if request is not None and hasattr(request, "session"):
        now = _now()
        request.session[STARTED_KEY] = now
        request.session[SEEN_KEY] = now
