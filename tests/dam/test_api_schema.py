"""The OpenAPI schema: generated without warnings, covering every /api/v1 route, each with scope, errors, example."""

from __future__ import annotations

import io
import re

import pytest
import yaml
from django.core.management import call_command
from django.urls import URLPattern, URLResolver, get_resolver

pytestmark = pytest.mark.django_db
HTTP_METHODS = {"get", "post", "put", "patch", "delete"}


def _api_routes(patterns, prefix: str = "") -> set[str]:
    """Every /api/v1 route as a template with `{}` for each parameter, read from the URL conf."""
    routes: set[str] = set()
    for pattern in patterns:
        text = prefix + str(pattern.pattern).lstrip("^").rstrip("$")
        if isinstance(pattern, URLResolver):
            routes |= _api_routes(pattern.url_patterns, text)
        elif isinstance(pattern, URLPattern) and text.startswith("api/v1/"):
            routes.add("/" + re.sub(r"\(\?P<\w+>[^)]*\)|<[^>]+>", "{}", text))
    return routes


@pytest.fixture(scope="module")
def schema(django_db_blocker) -> dict:
    out, err = io.StringIO(), io.StringIO()
    with django_db_blocker.unblock():
        # --fail-on-warn raises on any warning or error drf-spectacular reports; --validate checks OpenAPI 3.
        call_command("spectacular", "--validate", "--fail-on-warn", stdout=out, stderr=err)
    assert err.getvalue() == ""
    return yaml.safe_load(out.getvalue())


def _operations(schema: dict):
    for path, item in schema["paths"].items():
        for method, operation in item.items():
            if method in HTTP_METHODS:
                yield path, method, operation


def test_the_schema_lists_every_api_route(schema):
    documented = {re.sub(r"\{[^}]+\}", "{}", path) for path in schema["paths"]}
    assert _api_routes(get_resolver().url_patterns) == documented


def test_every_operation_names_its_scope_its_errors_and_has_an_example(schema):
    operations = list(_operations(schema))
    assert len(operations) > 20
    for path, method, operation in operations:
        where = f"{method.upper()} {path}"
        assert "x-required-scope" in operation and "**Scope:**" in operation["description"], where
        assert {"401", "403"} <= set(operation["responses"]), where
        if "{" in path:
            assert "404" in operation["responses"], where
        bodies = [*operation["responses"].values(), operation.get("requestBody", {})]
        examples = [
            media
            for body in bodies
            for media in body.get("content", {}).values()
            if "example" in media or "examples" in media
        ]
        assert examples, where
        assert operation.get("security"), where


def test_scopes_in_the_schema_match_the_views(schema):
    scopes = {(path, method): op["x-required-scope"] for path, method, op in _operations(schema)}
    assert scopes[("/api/v1/storefront/assets", "get")] == "assets:read"
    assert scopes[("/api/v1/webhooks", "post")] == "admin"
    assert scopes[("/api/v1/webhook-deliveries/{id}/replay", "post")] == "admin"
    assert scopes[("/api/v1/tenant", "get")] is None


def test_schema_and_docs_are_served_without_any_cdn(client):
    response = client.get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json")
    assert response.status_code == 200 and response.json()["openapi"].startswith("3.")
    docs = client.get("/api/docs/")
    assert docs.status_code == 200
    html = docs.content.decode()
    assert "swagger-ui" in html
    assert not re.search(r"https?://(?!127\.0\.0\.1|localhost|testserver)[^\"']+\.(js|css)", html)
    assert "drf_spectacular_sidecar" in html or "/static/" in html
