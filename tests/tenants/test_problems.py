"""Every API error is one shape: RFC 9457 problem details listing every invalid field (issue #15)."""

from __future__ import annotations

import pytest

from tenants.api.problems import ProblemDetailSerializer, ProblemFieldErrorSerializer
from tenants.models import Placement
from tenants.services import placement_create
from tests.support.errors import PROBLEM_CONTENT_TYPE, error_body, error_codes, error_fields

pytestmark = pytest.mark.django_db


def _assert_documented_shape(response) -> dict:
    body = error_body(response)
    assert response["Content-Type"] == PROBLEM_CONTENT_TYPE
    assert set(ProblemDetailSerializer().fields) <= set(body)
    assert body["type"] == "about:blank" and body["title"] and body["detail"]
    for item in body["errors"]:
        assert set(item) == set(ProblemFieldErrorSerializer().fields)
    return body


def test_a_validation_error_lists_every_invalid_field_with_dotted_paths(alice):
    response = alice.client().put(
        "/api/v1/brand-policy/current",
        {"palette": ["#fff000"], "default_quality": "ultra", "banned_terms": ["ok", ""]},
        format="json",
    )
    assert response.status_code == 400
    body = _assert_documented_shape(response)
    assert {"default_quality", "banned_terms.1"} <= error_fields(response)
    assert body["code"] == body["errors"][0]["code"]


def test_a_service_error_keeps_its_status_and_machine_readable_code(alice):
    placement_create(tenant=alice.tenant, slug="hero", width=640, height=480)
    response = alice.client().post("/api/v1/placements", {"slug": "hero", "width": 300, "height": 300}, format="json")
    assert response.status_code == 400 and error_fields(response) == {"slug"}
    _assert_documented_shape(response)
    assert Placement.objects.for_tenant(alice.tenant).count() == 1


def test_errors_about_no_single_field_have_a_null_field(alice):
    response = alice.client().post("/api/v1/placements", "[1, 2]", content_type="application/json")
    assert response.status_code == 400
    body = _assert_documented_shape(response)
    assert [item["field"] for item in body["errors"]] == [None] and error_codes(response)


def test_authentication_and_permission_errors_are_problems_too(alice, bob, client):
    assert _assert_documented_shape(client.get("/api/v1/tenant"))["status"] == 401
    denied = bob.client().post("/api/v1/placements", {"slug": "x", "width": 1, "height": 1}, format="json")
    assert denied.status_code == 403 and "permission_denied" in error_codes(denied)
    _assert_documented_shape(denied)
