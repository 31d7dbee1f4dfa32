"""Fixed actors (healthchecks-style): alice administers tenant A, bob reviews in tenant A,
charlie administers tenant B. Each also has an API key with their role's scopes. A test that
needs another role (a viewer, an editor) makes that person with `tests.support.actors.make_persona`."""

from __future__ import annotations

import pytest

from tenants.change_feed import change_feed
from tenants.models import Role, Tenant
from tests.factories import make_tenant
from tests.support.actors import Persona, make_persona

pytest_plugins = ["tests.fixtures.azurite", "tests.fixtures.celery_worker", "tests.fixtures.emulator"]


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
def alice(tenant_a) -> Persona:
    return make_persona("alice", tenant=tenant_a, role=Role.ADMIN)


@pytest.fixture
def bob(tenant_a) -> Persona:
    return make_persona("bob", tenant=tenant_a, role=Role.REVIEWER)


@pytest.fixture
def charlie(tenant_b) -> Persona:
    return make_persona("charlie", tenant=tenant_b, role=Role.ADMIN)
