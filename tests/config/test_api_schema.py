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


def _json_schema(schema: dict, node: dict) -> dict:
    """The schema object itself, following a `$ref` into components."""
    if "$ref" in node:
        return schema["components"]["schemas"][node["$ref"].rsplit("/", 1)[1]]
    return node


def _body(schema: dict, operation: dict, status: str | None = None, media: str = "application/json") -> dict:
    holder = operation["responses"][status] if status else operation["requestBody"]
    return _json_schema(schema, holder["content"][media]["schema"])


def test_every_error_is_documented_as_the_one_problem_details_document(schema):
    for path, method, operation in _operations(schema):
        errors = {code: response for code, response in operation["responses"].items() if code[0] in "45"}
        assert {"400", "401", "403", "404", "406"} <= set(errors), f"{method} {path}"
        for code, response in errors.items():
            (media,) = response["content"]
            assert media == "application/problem+json", (method, path, code)
            assert response["content"][media]["schema"] == {"$ref": "#/components/schemas/ProblemDetail"}
            assert response["content"][media]["example"]["status"] == int(code)
    problem = schema["components"]["schemas"]["ProblemDetail"]
    assert {"type", "title", "status", "detail", "code", "errors"} <= set(problem["properties"])


def test_job_submission_documents_what_it_accepts_and_answers(schema):
    operation = schema["paths"]["/api/v1/jobs"]["post"]
    assert {"202", "402", "409", "422", "503"} <= set(operation["responses"])
    assert not {"200", "201"} & set(operation["responses"])
    accepted = _body(schema, operation)["properties"]
    assert {"prompt", "placements", "size", "routing", "source_version", "collection", "tags", "locales", "n"} <= set(
        accepted
    )
    # What the job answers is not what it is asked for.
    assert not {"state", "size_plan", "attempts", "started_at"} & set(accepted)
    assert "request" in _body(schema, operation, media="multipart/form-data")["properties"]
    plan = schema["paths"]["/api/v1/jobs/plan"]["post"]
    assert {"provider_calls", "images", "size_plan"} <= set(_body(schema, plan, "200")["properties"])
    assert "requestBody" not in schema["paths"]["/api/v1/jobs/{id}/cancel"]["post"]


def test_api_key_creation_documents_its_parameters_and_the_token_it_answers_once(schema):
    operation = schema["paths"]["/api/v1/api-keys"]["post"]
    request = _body(schema, operation)
    assert {"name", "scopes", "expires_at"} <= set(request["properties"])
    assert set(request["required"]) == {"name", "scopes"}
    assert "token" in _body(schema, operation, "201")["properties"]


def test_responses_mark_nullable_fields_and_give_version_ids(schema):
    asset = schema["components"]["schemas"]["Asset"]["properties"]
    assert asset["collection"].get("nullable") is True
    assert asset["current_version"].get("nullable") is True
    version = schema["components"]["schemas"]["AssetVersion"]["properties"]
    assert "id" in version  # /publish-windows/{id} takes a version's id
    assert "id" in schema["components"]["schemas"]["JobOutput"]["properties"]
    assert "id" in schema["components"]["schemas"]["StorefrontVersion"]["properties"]
    assert version["url"].get("nullable") is True
    versions = schema["paths"]["/api/v1/assets/{id}/versions"]["get"]
    listed = _body(schema, versions, "200")["properties"]["results"]
    assert listed["type"] == "array" and listed["items"] == {"$ref": "#/components/schemas/AssetVersion"}
    assert "201" in schema["paths"]["/api/v1/brand-policy/current"]["put"]["responses"]
    upload = schema["paths"]["/api/v1/assets"]["post"]
    for status in ("200", "201"):
        assert _body(schema, upload, status) == schema["components"]["schemas"]["Asset"]


def test_the_schema_answers_json_to_a_json_accept_header(client):
    response = client.get("/api/schema/", HTTP_ACCEPT="application/json")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("application/json")
    assert response.json()["openapi"].startswith("3.")
    assert client.get("/api/schema/")["Content-Type"].startswith("application/vnd.oai.openapi")


def test_list_filters_the_views_read_are_documented(schema):
    def query(path: str) -> set[str]:
        return {p["name"] for p in schema["paths"][path]["get"].get("parameters", []) if p["in"] == "query"}

    assert "state" in query("/api/v1/jobs")
    assert {"family", "q", "status", "tag"} <= query("/api/v1/assets")
    assert "archived" in query("/api/v1/placements")


def test_every_tenant_operation_documents_the_x_tenant_header_of_staff_sessions(schema):
    for path, method, operation in _operations(schema):
        if operation["security"] == [{}]:
            continue  # public (the verifier): no tenant to name
        headers = [p for p in operation.get("parameters", []) if p["in"] == "header" and p["name"] == "X-Tenant"]
        assert len(headers) == 1 and not headers[0]["required"], f"{method.upper()} {path}"


def test_the_public_verifier_is_the_one_operation_documented_without_a_key(schema):
    public = [(path, method) for path, method, op in _operations(schema) if op["security"] == [{}]]
    assert public == [("/api/v1/verify", "post")]
    operation = schema["paths"]["/api/v1/verify"]["post"]
    assert operation["x-required-scope"] is None and "public, no authentication" in operation["description"]
    assert {"413", "415", "422", "429"} <= set(operation["responses"])
