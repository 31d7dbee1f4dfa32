"""Fixed actors (healthchecks-style): alice administers tenant A, bob views tenant A,
charlie administers tenant B. Each also has an API key with matching scopes."""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from rest_framework.test import APIClient

from tenants.change_feed import change_feed
from tenants.models import Role, Scope, Tenant
from tests.factories import make_api_key, make_tenant, make_user

pytest_plugins = ["tests.fixtures.azurite", "tests.fixtures.celery_worker", "tests.fixtures.emulator"]


@dataclass
class Actor:
    user: object
    tenant: Tenant
    token: str
    api_key: object

    def client(self) -> APIClient:
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {self.token}")
        return client


@pytest.fixture(scope="session", autouse=True)
def change_feed_closed_before_the_test_database_goes(django_db_setup):
    yield
    change_feed.stop()


@pytest.fixture
def tenant_a(db) -> Tenant:
    return make_tenant("tenant-a", name="Tenant A")


@pytest.fixture
def tenant_b(db) -> Tenant:
    return make_tenant("tenant-b", name="Tenant B")


@pytest.fixture
def alice(tenant_a) -> Actor:
    issued = make_api_key(tenant_a, *Scope.values, name="alice-admin")
    return Actor(make_user("alice", tenant=tenant_a, role=Role.ADMIN), tenant_a, issued.token, issued.api_key)


@pytest.fixture
def bob(tenant_a) -> Actor:
    issued = make_api_key(tenant_a, Scope.ASSETS_READ, name="bob-viewer")
    return Actor(make_user("bob", tenant=tenant_a, role=Role.VIEWER), tenant_a, issued.token, issued.api_key)


@pytest.fixture
def charlie(tenant_b) -> Actor:
    issued = make_api_key(tenant_b, *Scope.values, name="charlie-admin")
    return Actor(make_user("charlie", tenant=tenant_b, role=Role.ADMIN), tenant_b, issued.token, issued.api_key)
