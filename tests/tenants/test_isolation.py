"""Tenant isolation and scopes for every tenant API endpoint.

The table below must name every object endpoint the API has: `test_every_object_endpoint_is_covered`
fails when a new endpoint appears without an isolation case.
"""

from __future__ import annotations

import pytest
from django.urls import URLPattern, URLResolver, get_resolver

from tenants.models import ApiKey, Membership

pytestmark = pytest.mark.django_db

# route name -> (method, url template, how to find the tenant-A object id)
OBJECT_ENDPOINTS = {
    "api-key-detail": ("get", "/api/v1/api-keys/{id}", "api_key"),
    "api-key-revoke": ("post", "/api/v1/api-keys/{id}/revoke", "api_key"),
    "membership-detail": ("get", "/api/v1/memberships/{id}", "membership"),
}
LIST_ENDPOINTS = ["/api/v1/api-keys", "/api/v1/memberships"]


def _object_ids(alice) -> dict[str, int]:
    return {
        "api_key": alice.api_key.pk,
        "membership": Membership.objects.for_tenant(alice.tenant).get(user=alice.user).pk,
    }


def _snapshot(tenant) -> list:
    return [
        sorted(ApiKey.objects.for_tenant(tenant).values_list("id", "revoked_at", "name")),
        sorted(Membership.objects.for_tenant(tenant).values_list("id", "role")),
    ]


def _named_api_routes(patterns, prefix="") -> set[str]:
    names: set[str] = set()
    for pattern in patterns:
        if isinstance(pattern, URLResolver):
            names |= _named_api_routes(pattern.url_patterns, prefix + str(pattern.pattern))
        elif (
            isinstance(pattern, URLPattern)
            and (prefix + str(pattern.pattern)).startswith("api/v1/")
            and "pk" in pattern.pattern.regex.groupindex
        ):
            names.add(pattern.name)
    return names


def test_every_object_endpoint_is_covered():
    assert _named_api_routes(get_resolver().url_patterns) == set(OBJECT_ENDPOINTS)


@pytest.mark.parametrize("route", sorted(OBJECT_ENDPOINTS))
def test_tenant_b_key_gets_404_on_tenant_a_objects_and_nothing_changes(route, alice, charlie):
    method, template, kind = OBJECT_ENDPOINTS[route]
    url = template.format(id=_object_ids(alice)[kind])
    before = _snapshot(alice.tenant)
    response = getattr(charlie.client(), method)(url)
    assert response.status_code == 404
    assert _snapshot(alice.tenant) == before
    # The same request from tenant A's own admin succeeds: the 404 is isolation, not a broken URL.
    assert getattr(alice.client(), method)(url).status_code == 200


@pytest.mark.parametrize("route", sorted(OBJECT_ENDPOINTS))
def test_tenant_b_staff_session_gets_404_on_tenant_a_objects(route, alice, charlie, client):
    method, template, kind = OBJECT_ENDPOINTS[route]
    url = template.format(id=_object_ids(alice)[kind])
    client.force_login(charlie.user)
    before = _snapshot(alice.tenant)
    # Naming tenant A does not help a non-member: the tenant itself is not found.
    assert getattr(client, method)(url, HTTP_X_TENANT="tenant-a").status_code == 404
    assert getattr(client, method)(url).status_code == 404
    assert _snapshot(alice.tenant) == before


@pytest.mark.parametrize("url", LIST_ENDPOINTS)
def test_lists_show_only_the_callers_tenant(url, alice, bob, charlie):
    ids_b = {item["id"] for item in charlie.client().get(url).json()["results"]}
    ids_a = {item["id"] for item in alice.client().get(url).json()["results"]}
    assert ids_a and ids_b and not (ids_a & ids_b)


def test_a_viewer_key_cannot_call_write_endpoints_and_nothing_changes(alice, bob):
    before = _snapshot(alice.tenant)
    api = bob.client()
    create = api.post("/api/v1/api-keys", {"name": "x", "scopes": ["admin"]}, format="json")
    revoke = api.post(f"/api/v1/api-keys/{alice.api_key.pk}/revoke")
    assert create.status_code == 403 and "admin" in create.json()["detail"]
    assert revoke.status_code == 403
    assert _snapshot(alice.tenant) == before


def test_a_viewer_session_follows_the_role(alice, bob, client):
    client.force_login(bob.user)
    assert client.get("/api/v1/tenant").json()["scopes"] == ["assets:read", "costs:read", "jobs:read"]
    assert client.get("/api/v1/api-keys").status_code == 403


def test_a_staff_member_of_several_tenants_must_name_one(alice, tenant_b, client):
    from tenants.services import membership_set

    membership_set(tenant=tenant_b, user=alice.user, role="viewer")
    client.force_login(alice.user)
    response = client.get("/api/v1/tenant")
    assert response.status_code == 400 and "X-Tenant" in response.json()
    assert client.get("/api/v1/tenant", HTTP_X_TENANT="tenant-b").json()["slug"] == "tenant-b"


def test_unauthenticated_requests_are_401(db, client):
    assert client.get("/api/v1/api-keys").status_code in (401, 403)
    assert client.get("/api/v1/tenant").status_code in (401, 403)
