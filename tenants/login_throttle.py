"""Staff login throttling (django-axes), audited in the tenants' trails.

django-axes counts failed logins per (username, client IP) pair in the database and, once
LOGIN_FAILURE_LIMIT is reached, refuses that pair even the right password until LOGIN_COOLOFF_MINUTES
have passed; a successful login resets the pair's count. The pair, not the username alone, so that
anyone who knows a staff member's username cannot lock them out from everywhere (a denial of service
with a few wrong passwords); a password spray over many addresses is what the pair lets through, and
the audit trail is where it shows.

There is no platform-wide audit chain: every chain belongs to a tenant. A failed login and a lockout
are written to the chain of each tenant the account is a member of (the data it could have reached),
in their own transaction. A username that is no account, or an account with no membership (a
platform superuser), has no chain to write to: the event is logged (`tenants.login_throttle`) and
kept in django-axes' own tables.
"""

from __future__ import annotations

import logging
from typing import Any

from axes.backends import AxesStandaloneBackend
from axes.signals import user_locked_out
from django.conf import settings
from django.contrib import admin
from django.contrib.auth.forms import AuthenticationForm
from django.contrib.auth.signals import user_login_failed
from django.db import transaction
from django.dispatch import receiver
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse

from tenants.audit import Actor, RequestOrigin, audit, client_ip_of
from tenants.models import Tenant

logger = logging.getLogger(__name__)
ACTOR = Actor.system("login")


class LoginThrottleBackend(AxesStandaloneBackend):
    """django-axes' lockout check, for logins that come with an HTTP request.

    `authenticate()` without a request (the test client's `login()`, a shell) is no attack over the
    network and has no client address to count: it is left to the next backend.
    """

    def authenticate(
        self, request: HttpRequest | None, username: str | None = None, password: str | None = None, **kwargs: Any
    ):
        if request is None:
            return None
        return super().authenticate(request, username=username, password=password, **kwargs)


def client_ip(request: HttpRequest) -> str:
    """The address failures are counted by: the same one the audit trail records (TRUSTED_PROXY_COUNT)."""
    return client_ip_of(request) or request.META.get("REMOTE_ADDR", "")


def lockout_response(request: HttpRequest, original_response: HttpResponse | None = None, credentials: Any = None):
    """The admin login page again, with the lockout said plainly (429), instead of django-axes' bare text."""
    minutes = settings.LOGIN_COOLOFF_MINUTES
    context = {
        **admin.site.each_context(request),
        "title": "Log in",
        "site_header": admin.site.site_header,
        "form": AuthenticationForm(request, initial={"username": (credentials or {}).get("username", "")}),
        "app_path": request.get_full_path(),
        "locked_out": (
            f"Too many failed logins for this account from your address. Logins are blocked for "
            f"{minutes} minute{'s' if minutes != 1 else ''}; try again later or ask an administrator to unlock it."
        ),
    }
    return TemplateResponse(request, "admin/login.html", context, status=429).render()


def _tenants_of(username: str) -> list[Tenant]:
    return list(Tenant.objects.filter(memberships__user__username=username).distinct().order_by("pk"))


def _audit_login_event(*, action: str, username: str, origin: RequestOrigin | None, payload: dict[str, Any]) -> None:
    tenants = _tenants_of(username) if username else []
    if not tenants:
        ip = origin.ip if origin is not None else ""
        logger.warning("%s for %r from %s: no tenant chain to audit in", action, username, ip)
        return
    with transaction.atomic():
        for tenant in tenants:
            audit(
                tenant=tenant,
                actor=ACTOR,
                action=action,
                target=("user", username),
                payload={"username": username, **payload},
                origin=origin,
            )


@receiver(user_login_failed, dispatch_uid="tenants.login_throttle.failed")
def audit_failed_login(sender: Any, credentials: dict[str, Any], request: HttpRequest | None = None, **kwargs: Any):
    if request is None:  # no HTTP login: nothing an attacker did over the network
        return
    username = str(credentials.get("username") or "")[:150]
    _audit_login_event(action="login.failed", username=username, origin=RequestOrigin.of(request), payload={})


@receiver(user_locked_out, dispatch_uid="tenants.login_throttle.locked_out")
def audit_lockout(sender: Any, request: HttpRequest, username: str | None, ip_address: str, **kwargs: Any):
    _audit_login_event(
        action="login.locked_out",
        username=str(username or "")[:150],
        origin=RequestOrigin.of(request),
        payload={
            "failures": settings.AXES_FAILURE_LIMIT,
            "cooloff_minutes": settings.LOGIN_COOLOFF_MINUTES,
        },
    )
