"""API clients acting as a key or as a signed-in person, and minting keys through the API as they do."""

from __future__ import annotations

from rest_framework.test import APIClient

from tenants.models import ApiKey


def bearer_client(token: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
    return client


def session_client(user) -> APIClient:
    client = APIClient()
    client.force_login(user)
    return client


def mint_key(client: APIClient, name: str, *scopes: str) -> tuple[str, ApiKey]:
    """A key minted by whoever `client` acts as (a person, or a key: then a key minted with a key)."""
    response = client.post("/api/v1/api-keys", {"name": name, "scopes": list(scopes)}, format="json")
    assert response.status_code == 201, response.content
    return response.json()["token"], ApiKey.unscoped.get(pk=response.json()["id"])
