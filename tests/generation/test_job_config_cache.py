"""What a job reads before its call, served from the process's memory (deployment, library settings) and
dropped when a change to them commits, whoever writes it: committed data only, so these tests commit."""

from __future__ import annotations

import time

import psycopg
import pytest
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext

from dam.services.settings import library_settings_shared, library_settings_update
from generation.foundry.config import platform_deployment_config
from generation.selectors.deployments import deployment_config_for
from generation.services.deployments import deployment_create
from tenants.audit import Actor
from tenants.change_feed import change_feed
from tests.factories import make_tenant

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def live_feed():
    assert change_feed.wait_until_live(10), "the change feed did not connect"


def _queries(read) -> tuple[object, int]:
    with CaptureQueriesContext(connection) as queries:
        value = read()
    return value, len(queries)


def _eventually(read, expected, timeout: float = 5.0):
    deadline = time.monotonic() + timeout
    while (value := read()) != expected:
        assert time.monotonic() < deadline, f"still {value!r}, expected {expected!r}"
        time.sleep(0.01)


def _outside(sql: str, *params) -> None:
    """A write by another client (psql, the admin of another process): no Django hook at all."""
    dsn = {k: v for k, v in connection.get_connection_params().items() if k in ("dbname", "user", "host", "port")}
    with psycopg.connect(**dsn, autocommit=True) as outside:
        outside.execute(sql, params)


def test_a_tenants_deployment_is_read_once_and_a_committed_change_is_seen(tenant_a):
    other = make_tenant("tenant-b", name="Tenant B")
    read = lambda: deployment_config_for(tenant=tenant_a.pk)  # noqa: E731
    assert read() == platform_deployment_config()
    assert _queries(read)[1] == 0  # from memory

    created = deployment_create(
        tenant=tenant_a,
        name="brand-prod",
        endpoint="https://contoso-a.openai.azure.com",
        deployment="gpt-image-2-prod",
        api_key="key-a",
        is_default=True,
    )
    _eventually(lambda: read().endpoint, "https://contoso-a.openai.azure.com")
    assert deployment_config_for(tenant=other.pk) == platform_deployment_config()  # not another tenant's

    moved = "https://moved.openai.azure.com"
    _outside("UPDATE generation_deployment SET endpoint = %s WHERE id = %s", moved, created.pk)
    _eventually(lambda: read().endpoint, moved)
    config, queries = _queries(read)
    assert queries == 0 and config.endpoint == moved

    with transaction.atomic():  # a transaction may read its own uncommitted writes: never the cache
        assert _queries(read)[1] == 1


def test_library_settings_for_provenance_are_read_once_and_a_committed_change_is_seen(tenant_a):
    read = lambda: library_settings_shared(tenant_id=tenant_a.pk).credit_line  # noqa: E731
    before = read()
    assert _queries(read)[1] == 0
    library_settings_update(tenant=tenant_a, actor=Actor.system("test"), credit_line="Photo: Contoso")
    assert before != "Photo: Contoso"
    _eventually(read, "Photo: Contoso")
    _outside("UPDATE dam_librarysettings SET credit_line = %s WHERE tenant_id = %s", "Contoso Studio", tenant_a.pk)
    _eventually(read, "Contoso Studio")
    assert _queries(read)[1] == 0
