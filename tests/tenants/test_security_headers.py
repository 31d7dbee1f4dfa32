"""Security headers on every response, HTML and `/api/` JSON alike: CSP, Permissions-Policy,
Referrer-Policy, X-Content-Type-Options, X-Frame-Options."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.django_db


def test_every_response_carries_the_security_headers(client, alice):
    anonymous = client.get("/api/v1/tenant")
    assert "frame-ancestors 'none'" in anonymous["Content-Security-Policy"]  # error answers too
    client.force_login(alice.user)
    for url in ("/admin/login/", "/admin/", "/healthz", "/api/v1/tenant", "/api/schema/"):
        response = client.get(url)
        assert "default-src 'self'" in response["Content-Security-Policy"], url
        assert "object-src 'none'" in response["Content-Security-Policy"]
        assert "base-uri 'self'" in response["Content-Security-Policy"]
        assert "form-action 'self'" in response["Content-Security-Policy"]
        assert "camera=()" in response["Permissions-Policy"] and "geolocation=()" in response["Permissions-Policy"]
        assert response["Referrer-Policy"] == "same-origin"
        assert response["X-Content-Type-Options"] == "nosniff"
        assert response["X-Frame-Options"] == "DENY"
