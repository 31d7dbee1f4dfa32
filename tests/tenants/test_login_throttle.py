"""Staff logins: failures of one username from one address lock that pair out (the right password
included) until the cool-off ends; a success resets the count; failures and lockouts are audited."""

from __future__ import annotations

import datetime as dt

import axes.attempts
import axes.handlers.proxy
import pytest
from django.conf import settings
from django.test import Client
from django.utils import timezone

from governance.services.audit import audit_events_for_tenant, audit_verify

pytestmark = pytest.mark.django_db

LOGIN = "/admin/login/?next=/admin/"


def _login(client: Client, username: str, password: str, ip: str = "198.51.100.7"):
    return client.post(LOGIN, {"username": username, "password": password}, REMOTE_ADDR=ip)


def _logged_in(response) -> bool:
    return response.status_code == 302 and response["Location"] == "/admin/"


def _fail(client: Client, username: str, times: int, ip: str = "198.51.100.7"):
    for _ in range(times):
        response = _login(client, username, "wrong-password", ip)
    return response


def test_the_limit_of_failures_locks_the_pair_out_even_with_the_right_password(alice):
    client = Client()
    limit = settings.LOGIN_FAILURE_LIMIT
    assert _fail(client, "alice", limit - 1).status_code == 200  # the form again, with its error
    locked = _fail(client, "alice", 1)
    assert locked.status_code == 429
    refused = _login(client, "alice", "pw-alice")
    assert refused.status_code == 429 and "_auth_user_id" not in client.session
    page = refused.content.decode()
    assert 'id="login-locked-out"' in page and "Too many failed logins" in page
    assert f"{settings.LOGIN_COOLOFF_MINUTES} minutes" in page
    assert 'name="password"' in page  # still the login page, not a bare text answer
    # Another address is not locked out with it (the pair, not the username, is counted).
    assert _logged_in(_login(Client(), "alice", "pw-alice", ip="203.0.113.50"))


def test_the_lockout_ends_after_the_cool_off(alice, monkeypatch):
    client = Client()
    _fail(client, "alice", settings.LOGIN_FAILURE_LIMIT)
    cool_off = dt.timedelta(minutes=settings.LOGIN_COOLOFF_MINUTES)
    clock = {"now": timezone.now()}
    # Time travel for django-axes: it stamps each attempt (proxy) and computes the threshold (attempts).
    monkeypatch.setattr(axes.attempts, "now", lambda: clock["now"])
    monkeypatch.setattr(axes.handlers.proxy, "now", lambda: clock["now"])
    clock["now"] += cool_off - dt.timedelta(minutes=1)
    assert _login(client, "alice", "pw-alice").status_code == 429  # still locked a minute before the end
    # That attempt, made while locked out, restarted the cool-off.
    clock["now"] += cool_off - dt.timedelta(seconds=5)
    assert _login(client, "alice", "pw-alice").status_code == 429
    clock["now"] += cool_off + dt.timedelta(seconds=1)
    assert _logged_in(_login(client, "alice", "pw-alice"))


def test_a_success_resets_the_count(alice):
    limit = settings.LOGIN_FAILURE_LIMIT
    _fail(Client(), "alice", limit - 1)
    assert _logged_in(_login(Client(), "alice", "pw-alice"))
    # limit - 1 failures again would be the limit had the success not reset the count.
    assert _fail(Client(), "alice", limit - 1).status_code == 200
    assert _logged_in(_login(Client(), "alice", "pw-alice"))


def test_failures_and_the_lockout_are_audited_in_the_accounts_tenant_only(alice, charlie):
    limit = settings.LOGIN_FAILURE_LIMIT
    _fail(Client(), "alice", limit)
    failed = audit_events_for_tenant(tenant=alice.tenant, action="login.failed")
    assert failed.count() == limit
    assert {(e.target_type, e.target_id, e.actor_label, e.ip) for e in failed} == {
        ("user", "alice", "system:login", "198.51.100.7")
    }
    (lockout,) = audit_events_for_tenant(tenant=alice.tenant, action="login.locked_out")
    assert lockout.payload["username"] == "alice" and lockout.payload["failures"] == limit
    assert not audit_events_for_tenant(tenant=charlie.tenant, action="login.").exists()
    assert audit_verify(tenant=alice.tenant).ok


def test_an_unknown_username_is_throttled_and_logged_without_touching_any_chain(alice, caplog):
    with caplog.at_level("WARNING", logger="tenants.login_throttle"):
        locked = _fail(Client(), "mallory", settings.LOGIN_FAILURE_LIMIT)
    assert locked.status_code == 429
    assert not audit_events_for_tenant(tenant=alice.tenant, action="login.").exists()
    assert any("login.locked_out" in r.getMessage() and "mallory" in r.getMessage() for r in caplog.records)
