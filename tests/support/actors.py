"""Who acts in a test: a person (or none, for a bare key) in a tenant, holding an API key."""

from __future__ import annotations

from dataclasses import dataclass

from rest_framework.test import APIClient

from tenants.models import ROLE_SCOPES, Tenant
from tests.factories import make_api_key, make_user
from tests.support.clients import bearer_client


@dataclass
class Persona:
    user: object
    tenant: Tenant
    token: str
    api_key: object

    def client(self) -> APIClient:
        return bearer_client(self.token)


def make_persona(username: str, *, tenant: Tenant, role: str) -> Persona:
    """A staff member with `role` in `tenant` and an API key carrying the same role's scopes."""
    issued = make_api_key(tenant, *sorted(ROLE_SCOPES[role]), name=f"{username}-{role}")
    return Persona(make_user(username, tenant=tenant, role=role), tenant, issued.token, issued.api_key)


def key_holder(tenant: Tenant, *scopes: str, name: str = "key") -> Persona:
    """A bare API key with exactly `scopes` (no person behind it)."""
    issued = make_api_key(tenant, *scopes, name=name)
    return Persona(None, tenant, issued.token, issued.api_key)
