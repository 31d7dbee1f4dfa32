from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone

from tenants.models import ApiKey, Scope, Tenant
from tenants.services import api_key_revoke, tenant_set_status
from tests.factories import make_api_key
from tests.support.errors import names_field

pytestmark = pytest.mark.django_db


def _get(token: str, client):
    return client.get("/api/v1/tenant", HTTP_AUTHORIZATION=f"Bearer {token}")


def test_the_secret_is_never_stored_in_clear(tenant_a):
    issued = make_api_key(tenant_a, Scope.ASSETS_READ)
    secret = issued.token.split("_", 2)[2]
    with connection.cursor() as cursor:
        cursor.execute("SELECT t::text FROM tenants_apikey AS t")
        rows = [row[0] for row in cursor.fetchall()]
    assert rows and all(secret not in row for row in rows)
    assert issued.api_key.secret_hash != secret


def test_a_valid_key_authenticates_and_records_last_use(tenant_a, client):
    issued = make_api_key(tenant_a, Scope.ASSETS_READ)
    response = _get(issued.token, client)
    assert response.status_code == 200
    assert response.json()["slug"] == "tenant-a"
    assert response.json()["scopes"] == ["assets:read"]
    assert ApiKey.objects.for_tenant(tenant_a).get(pk=issued.api_key.pk).last_used_at is not None


def test_a_revoked_key_is_refused(tenant_a, client):
    issued = make_api_key(tenant_a, Scope.ASSETS_READ)
    api_key_revoke(api_key=issued.api_key)
    response = _get(issued.token, client)
    assert response.status_code == 401
    assert "revoked" in response.json()["detail"]


def test_an_expired_key_is_refused(tenant_a, client):
    issued = make_api_key(tenant_a, Scope.ASSETS_READ, expires_at=timezone.now() + timedelta(seconds=60))
    assert _get(issued.token, client).status_code == 200
    ApiKey.objects.for_tenant(tenant_a).filter(pk=issued.api_key.pk).update(
        expires_at=timezone.now() - timedelta(seconds=1)
    )
    response = _get(issued.token, client)
    assert response.status_code == 401
    assert "expired" in response.json()["detail"]


def test_a_suspended_tenant_is_refused(tenant_a, client):
    issued = make_api_key(tenant_a, Scope.ASSETS_READ)
    tenant_set_status(tenant=tenant_a, status=Tenant.Status.SUSPENDED)
    response = _get(issued.token, client)
    assert response.status_code == 403
    assert "suspended" in response.json()["detail"]


@pytest.mark.parametrize(
    "header",
    ["Bearer", "Bearer dam_only-two", "Bearer not_a_dam_key", "Bearer a b"],
)
def test_malformed_bearer_headers_are_401(header, client):
    response = client.get("/api/v1/tenant", HTTP_AUTHORIZATION=header)
    assert response.status_code == 401


def test_a_right_prefix_with_a_wrong_secret_is_refused(tenant_a, client):
    issued = make_api_key(tenant_a, Scope.ASSETS_READ)
    forged = issued.token[:-4] + ("AAAA" if not issued.token.endswith("AAAA") else "BBBB")
    assert _get(forged, client).status_code == 401


def test_creating_a_key_through_the_api_shows_the_token_once(alice, client):
    api = alice.client()
    response = api.post("/api/v1/api-keys", {"name": "storefront", "scopes": ["assets:read"]}, format="json")
    assert response.status_code == 201, response.content
    token = response.json()["token"]
    assert _get(token, client).json()["scopes"] == ["assets:read"]
    listed = api.get("/api/v1/api-keys").json()["results"]
    assert all("token" not in item and "secret_hash" not in item for item in listed)


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"name": "x", "scopes": ["assets:delete"]}, "scopes"),
        ({"name": "x", "scopes": []}, "scopes"),
        ({"scopes": ["assets:read"]}, "name"),
        ({"name": "x", "scopes": ["assets:read"], "expires_at": "2001-01-01T00:00:00Z"}, "expires_at"),
    ],
)
def test_bad_key_requests_are_400_naming_the_field(alice, body, field):
    before = ApiKey.objects.for_tenant(alice.tenant).count()
    response = alice.client().post("/api/v1/api-keys", body, format="json")
    assert response.status_code == 400
    assert names_field(response, field)
    assert ApiKey.objects.for_tenant(alice.tenant).count() == before


def test_a_key_cannot_mint_a_key_with_a_scope_it_lacks(tenant_a, client):
    # An admin key without reviews:write would otherwise mint one, then approve its own uploads.
    minter = make_api_key(tenant_a, Scope.ADMIN, Scope.ASSETS_WRITE)
    keys_before = ApiKey.objects.for_tenant(tenant_a).count()
    response = client.post(
        "/api/v1/api-keys",
        {"name": "escalate", "scopes": ["assets:write", "reviews:write"]},
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {minter.token}",
    )
    assert response.status_code == 403 and names_field(response, "scopes")
    assert "reviews:write" in response.json()["detail"]
    assert ApiKey.objects.for_tenant(tenant_a).count() == keys_before
    held = client.post(
        "/api/v1/api-keys",
        {"name": "narrower", "scopes": ["assets:write"]},
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {minter.token}",
    )
    assert held.status_code == 201 and held.json()["scopes"] == ["assets:write"]
