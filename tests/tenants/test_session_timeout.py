"""Staff sessions end after SESSION_IDLE_TIMEOUT_MINUTES without a request and SESSION_MAX_AGE_HOURS after
login, whatever the activity (time travel through tenants.web_security's clock)."""

from __future__ import annotations

import pytest
from django.conf import settings
from django.test import Client

from tenants import web_security

pytestmark = pytest.mark.django_db


class Clock:
    def __init__(self, start: float = 1_900_000_000.0) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now

    def travel(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture
def clock(monkeypatch) -> Clock:
    clock = Clock()
    monkeypatch.setattr(web_security, "_now", clock)
    return clock


def _logged_in_client(clock: Clock) -> Client:
    client = Client()
    response = client.post("/admin/login/?next=/admin/", {"username": "alice", "password": "pw-alice"})
    assert response.status_code == 302, response.content
    return client


def _signed_in(client: Client) -> bool:
    response = client.get("/admin/")
    return response.status_code == 200


def test_the_defaults(settings):
    assert settings.SESSION_IDLE_TIMEOUT_MINUTES == 30 and settings.SESSION_MAX_AGE_HOURS == 12


def test_a_session_idle_longer_than_the_timeout_is_logged_out(alice, clock):
    client = _logged_in_client(clock)
    idle = settings.SESSION_IDLE_TIMEOUT_MINUTES * 60
    clock.travel(idle - 5)
    assert _signed_in(client)  # just inside the limit: still in, and the idle clock restarts
    clock.travel(idle - 5)
    assert _signed_in(client)
    old_key = client.session.session_key
    clock.travel(idle + 1)
    response = client.get("/admin/")
    assert response.status_code == 302 and "/admin/login/" in response["Location"]
    assert client.session.session_key != old_key and "_auth_user_id" not in client.session


def test_an_active_session_ends_at_its_absolute_lifetime(alice, clock):
    client = _logged_in_client(clock)
    lifetime = settings.SESSION_MAX_AGE_HOURS * 3600
    step = settings.SESSION_IDLE_TIMEOUT_MINUTES * 60 - 60
    while clock.now + step < 1_900_000_000.0 + lifetime:
        clock.travel(step)
        assert _signed_in(client)
    clock.travel(lifetime - (clock.now - 1_900_000_000.0) + 1)
    assert not _signed_in(client)


def test_the_api_with_a_timed_out_session_is_refused(alice, clock):
    client = _logged_in_client(clock)
    assert client.get("/api/v1/tenant").status_code == 200
    clock.travel(settings.SESSION_IDLE_TIMEOUT_MINUTES * 60 + 1)
    assert client.get("/api/v1/tenant").status_code in (401, 403)


def test_a_new_login_starts_both_clocks_afresh(alice, clock):
    client = _logged_in_client(clock)
    clock.travel(settings.SESSION_MAX_AGE_HOURS * 3600 + 1)
    assert not _signed_in(client)
    client = _logged_in_client(clock)
    assert _signed_in(client)
