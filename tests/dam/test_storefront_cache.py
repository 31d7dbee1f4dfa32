"""The storefront's in-process caches (API keys, list pages, signing flags) and the change feed
that empties them: committed data only, so these tests commit (transactional database)."""

from __future__ import annotations

import datetime as dt
import time

import psycopg
import pytest
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from dam.delivery.cache import storefront_pages
from dam.lifecycle import VersionStatus
from dam.models import TenantDelivery
from tenants.api.authentication import api_keys
from tenants.change_feed import change_feed
from tenants.models import Scope, Tenant
from tests.factories import set_status, set_window, storefront_asset
from tests.support.actors import Persona, key_holder

pytestmark = pytest.mark.django_db(transaction=True)
LIST = "/api/v1/storefront/assets"


@pytest.fixture(autouse=True)
def no_up_front_renditions(monkeypatch):
    """The session's worker would add rendition rows for each new version a moment later, and each
    commit rightly drops the tenant's pages: these tests count queries, so only they write."""
    monkeypatch.setattr("dam.services.assets.renditions_up_front_enqueue", lambda *, version_id: None)


@pytest.fixture
def shop(alice, settings) -> Persona:
    settings.API_KEY_LAST_USED_RESOLUTION_SECONDS = 3600  # no last-used write to count
    shop = key_holder(alice.tenant, Scope.ASSETS_READ, name="web-shop")
    assert change_feed.wait_until_live(10), "the change feed did not connect"
    return shop


def _get(api, path: str = LIST):
    with CaptureQueriesContext(connection) as queries:
        response = api.get(path)
    assert response.status_code == 200, response.content
    return [item["id"] for item in response.json()["results"]], len(queries)


def _wait_for(condition, timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "the change was not announced"
        time.sleep(0.01)


def _served_from_memory(api, path: str = LIST) -> list[int]:
    """Ask until an answer costs no query: the renditions worker may still be adding rows (each
    commit rightly drops the tenant's pages) for the assets a test just made."""
    answers: list = []
    _wait_for(lambda: answers.append(_get(api, path)) or answers[-1][1] == 0, timeout=15)
    return answers[-1][0]


def _outside_connection(sql: str, *params) -> None:
    """A write by another client (psql, another service): no Django signal, no on_commit hook."""
    dsn = {k: v for k, v in connection.get_connection_params().items() if k in ("dbname", "user", "host", "port")}
    with psycopg.connect(**dsn, autocommit=True) as outside:
        outside.execute(sql, params)


def test_a_repeated_page_costs_no_query_and_any_committed_change_drops_it(shop, alice):
    kept = storefront_asset(alice.tenant, title="kept")
    blocked_later = storefront_asset(alice.tenant, title="blocked later")
    api = shop.client()
    first, rendered = _get(api)
    assert sorted(first) == sorted([kept.pk, blocked_later.pk]) and rendered > 0
    assert _served_from_memory(api) == first  # key, signing flag and page all from memory

    generation = storefront_pages.generation()
    newcomer = storefront_asset(alice.tenant, title="new")
    _wait_for(lambda: storefront_pages.generation() > generation)
    assert sorted(_get(api)[0]) == sorted([kept.pk, blocked_later.pk, newcomer.pk])

    generation = storefront_pages.generation()
    set_status(blocked_later.current_version, VersionStatus.BLOCKED)  # a bare conditional UPDATE
    _wait_for(lambda: storefront_pages.generation() > generation)
    assert sorted(_get(api)[0]) == sorted([kept.pk, newcomer.pk])

    _get(api)
    generation = storefront_pages.generation()
    _outside_connection("UPDATE dam_assetversion SET status = 'rejected' WHERE id = %s", newcomer.current_version_id)
    _wait_for(lambda: storefront_pages.generation() > generation)
    assert _get(api)[0] == [kept.pk]


def test_a_cached_page_expires_when_a_publish_window_on_it_closes(shop, alice):
    closing = storefront_asset(alice.tenant, title="closing")
    staying = storefront_asset(alice.tenant, title="staying")
    set_window(closing.current_version, start=None, end=timezone.now() + dt.timedelta(seconds=1.5))
    api = shop.client()
    _get(api)
    assert sorted(_get(api)[0]) == sorted([closing.pk, staying.pk])
    time.sleep(1.6)  # no row changes: only the page's own expiry can drop it
    assert _get(api)[0] == [staying.pk]


def test_a_page_of_one_tenant_survives_another_tenants_change(shop, alice, charlie):
    storefront_asset(alice.tenant, title="a")
    api = shop.client()
    _served_from_memory(api)
    generation = storefront_pages.generation()
    storefront_asset(charlie.tenant, title="b")
    _wait_for(lambda: storefront_pages.generation() > generation)
    assert _get(api)[1] == 0


def test_a_key_revoked_or_a_tenant_suspended_elsewhere_is_refused_once_the_change_commits(shop, alice):
    storefront_asset(alice.tenant)
    api = shop.client()
    _served_from_memory(api)
    generation = api_keys.generation()
    _outside_connection("UPDATE tenants_tenant SET status = 'suspended' WHERE id = %s", alice.tenant.pk)
    _wait_for(lambda: api_keys.generation() > generation)
    assert api.get(LIST).status_code == 403
    Tenant.objects.filter(pk=alice.tenant.pk).update(status=Tenant.Status.ACTIVE)
    _wait_for(lambda: api.get(LIST).status_code == 200)
    generation = api_keys.generation()
    _outside_connection("UPDATE tenants_apikey SET revoked_at = now() WHERE id = %s", shop.api_key.pk)
    _wait_for(lambda: api_keys.generation() > generation)
    response = api.get(LIST)
    assert response.status_code == 401 and "revoked" in response.json()["detail"]


def test_signing_turned_on_takes_effect_on_the_next_request(shop, alice):
    storefront_asset(alice.tenant)
    api = shop.client()
    assert "?" not in api.get(LIST).json()["results"][0]["version"]["url"]
    generation = storefront_pages.generation()
    TenantDelivery.objects.for_tenant(alice.tenant).update_or_create(
        tenant=alice.tenant, defaults={"signed_urls_required": True}
    )
    _wait_for(lambda: storefront_pages.generation() > generation)
    assert "sig=" in api.get(LIST).json()["results"][0]["version"]["url"]


def test_nothing_is_served_from_memory_inside_a_transaction_or_without_the_feed(shop, alice, settings):
    storefront_asset(alice.tenant)
    api = shop.client()
    _get(api)
    with transaction.atomic():  # it may have written what no notification has announced yet
        assert _get(api)[1] > 0
    settings.CHANGE_FEED = False
    assert _get(api)[1] > 0


def test_a_lost_listener_connection_empties_the_caches_until_it_reconnects(shop, alice):
    storefront_asset(alice.tenant)
    api = shop.client()
    _get(api)
    assert len(storefront_pages) == 1 and len(api_keys) == 1
    _outside_connection(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
        "WHERE application_name = 'dam-change-feed' AND datname = current_database()"
    )
    _wait_for(lambda: len(storefront_pages) == 0 and len(api_keys) == 0)
    assert change_feed.wait_until_live(10)
    assert _get(api)[1] > 0  # rebuilt from the database
    _served_from_memory(api)
