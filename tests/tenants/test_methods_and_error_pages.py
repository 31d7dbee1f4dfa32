"""Methods and error pages under /api/: OPTIONS, unsupported methods, unknown URLs, oversized bodies, 500s."""

from __future__ import annotations

import re

import pytest
from django.test import Client, override_settings
from django.urls import URLResolver, get_resolver
from rest_framework.test import APIClient

from tenants.models import Placement
from tests.support.errors import PROBLEM_CONTENT_TYPE, error_codes, error_fields

pytestmark = pytest.mark.django_db


def _routes(patterns, prefix: str = ""):
    for pattern in patterns:
        if isinstance(pattern, URLResolver):
            yield from _routes(pattern.url_patterns, prefix + str(pattern.pattern))
        else:
            yield prefix + str(pattern.pattern)


def _concrete(route: str) -> str:
    route = route.replace("^", "").replace("$", "")
    route = re.sub(r"\(\?P<\w+>[^)]*\)", "1", route)
    return "/" + re.sub(r"<(?:int:)?\w+>", "1", route)


API_URLS = sorted({_concrete(route) for route in _routes(get_resolver().url_patterns) if route.startswith("api/v1/")})


def test_the_route_list_covers_the_api():
    assert len(API_URLS) > 40 and "/api/v1/jobs" in API_URLS and "/api/v1/webhooks/1/rotate-secret" in API_URLS


@pytest.mark.parametrize("url", API_URLS)
def test_options_on_every_endpoint_is_200_metadata(alice, bob, url):
    for actor in (alice, bob):
        response = actor.client().options(url)
        assert response.status_code == 200, (url, response.status_code, response.content[:300])
        assert response.json()["name"] and "Allow" in response


@pytest.mark.parametrize(
    ("method", "url", "allowed"),
    [
        ("delete", "/api/v1/tenant", {"GET"}),
        ("put", "/api/v1/jobs/1", {"GET"}),
        ("delete", "/api/v1/audit/1", {"GET"}),
        ("post", "/api/v1/costs/spend", {"GET"}),
        ("patch", "/api/v1/api-keys/1", {"GET"}),
        ("delete", "/api/v1/webhook-deliveries", {"GET"}),
    ],
)
def test_a_method_an_endpoint_lacks_is_405_with_allow_for_any_actor(alice, bob, method, url, allowed):
    for actor in (alice, bob):
        response = getattr(actor.client(), method)(url, {}, format="json")
        assert response.status_code == 405, (url, response.content)
        assert allowed <= {item.strip() for item in response["Allow"].split(",")}
        assert "method_not_allowed" in error_codes(response)


def test_an_unknown_url_under_api_is_a_json_problem_and_outside_stays_html(alice):
    response = alice.client().get("/api/v1/no-such-thing")
    assert response.status_code == 404 and response["Content-Type"] == PROBLEM_CONTENT_TYPE
    assert "not_found" in error_codes(response)
    assert APIClient().get("/api/nothing/here").status_code == 404
    assert APIClient().get("/api/nothing/here")["Content-Type"] == PROBLEM_CONTENT_TYPE
    outside = Client().get("/no-such-page")
    assert outside.status_code == 404 and outside["Content-Type"].startswith("text/html")


@override_settings(DATA_UPLOAD_MAX_MEMORY_SIZE=1024)
def test_an_oversized_body_under_api_is_a_413_problem(alice):
    response = alice.client().post(
        "/api/v1/placements", {"slug": "pdp", "width": 300, "height": 300, "name": "x" * 4096}, format="json"
    )
    assert response.status_code == 413, response.content
    assert response["Content-Type"] == PROBLEM_CONTENT_TYPE and "too_large" in error_codes(response)
    assert not Placement.objects.for_tenant(alice.tenant).exists()


@override_settings(DEBUG=False)
def test_a_server_error_under_api_is_a_problem_without_exception_text(alice, monkeypatch):
    def explode(**kwargs):
        raise RuntimeError("secret-internal-detail dsn=postgres://user:pw@db")

    monkeypatch.setattr("tenants.api.brand.placement_create", explode)
    client = alice.client()
    client.raise_request_exception = False
    response = client.post("/api/v1/placements", {"slug": "pdp", "width": 300, "height": 300}, format="json")
    assert response.status_code == 500 and response["Content-Type"] == PROBLEM_CONTENT_TYPE
    assert b"secret-internal-detail" not in response.content and error_fields(response) == {"non_field_errors"}
