"""The storefront's HTTP caching headers (dam.delivery.http_cache): ETag, 304, Cache-Control, Vary.

Committed data (transactional database) so the change feed runs as in production: a revalidation of a
page in memory must answer 304 without a query, and must stop matching once a change commits."""

from __future__ import annotations

import datetime as dt
import re
import time

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from dam.delivery.cache import storefront_pages
from dam.lifecycle import VersionStatus
from dam.models import Asset
from tenants.change_feed import change_feed
from tenants.models import Scope
from tests.factories import set_status, set_window, storefront_asset
from tests.support.actors import Persona, key_holder

pytestmark = pytest.mark.django_db(transaction=True)
LIST = "/api/v1/storefront/assets"


@pytest.fixture(autouse=True)
def no_up_front_renditions(monkeypatch):
    """Only the tests write: the renditions worker's rows would change pages under them."""
    monkeypatch.setattr("dam.services.assets.renditions_up_front_enqueue", lambda *, version_id: None)


@pytest.fixture
def shop(alice, settings) -> Persona:
    settings.API_KEY_LAST_USED_RESOLUTION_SECONDS = 3600  # no last-used write to count
    shop = key_holder(alice.tenant, Scope.ASSETS_READ, name="web-shop")
    assert change_feed.wait_until_live(10), "the change feed did not connect"
    return shop


def _wait_for(condition, timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "the change was not announced"
        time.sleep(0.01)


def _after_commit_announced(change) -> None:
    generation = storefront_pages.generation()
    change()
    _wait_for(lambda: storefront_pages.generation() > generation)


def _etag(api, path: str = LIST) -> str:
    response = api.get(path)
    assert response.status_code == 200, response.content
    return response["ETag"]


def _max_age(response) -> int:
    match = re.fullmatch(r"private, max-age=(\d+)", response["Cache-Control"])
    assert match, response["Cache-Control"]
    return int(match[1])


def test_identical_requests_get_one_tag_and_the_headers_a_cache_needs(shop, alice, settings):
    settings.STOREFRONT_LIST_CACHE_SECONDS = 30
    asset = storefront_asset(alice.tenant)
    api = shop.client()
    first = api.get(LIST)
    second = api.get(LIST)
    assert first["ETag"] == second["ETag"] and re.fullmatch(r'"sf-[0-9a-f]{32}"', first["ETag"])
    assert 0 < _max_age(first) <= 30
    assert {v.strip() for v in first["Vary"].split(",")} >= {"Authorization", "Accept-Encoding"}
    assert _etag(api, f"{LIST}?page_size=5") != first["ETag"]  # the query is part of the tag
    detail = api.get(f"{LIST}/{asset.pk}")
    assert detail["ETag"] != first["ETag"] and detail["Cache-Control"].startswith("private, max-age=")


@pytest.mark.parametrize("detail", [False, True], ids=["list", "detail"])
def test_a_revalidation_of_an_answer_in_memory_is_a_304_without_body_or_query(shop, alice, detail):
    asset = storefront_asset(alice.tenant)
    path = f"{LIST}/{asset.pk}" if detail else LIST
    api = shop.client()
    etag = _etag(api, path)
    deadline = time.monotonic() + 15  # the answer is kept once nothing else is being written
    while True:
        with CaptureQueriesContext(connection) as queries:
            response = api.get(path, HTTP_IF_NONE_MATCH=etag)
        if len(queries) == 0 or time.monotonic() > deadline:
            break
        time.sleep(0.05)
    assert response.status_code == 304 and response.content == b"" and len(queries) == 0
    assert response["ETag"] == etag and response["Cache-Control"].startswith("private")
    # Weak comparison and lists of tags, as browsers and CDNs send them.
    assert api.get(path, HTTP_IF_NONE_MATCH=f'"other", W/{etag}').status_code == 304
    assert api.get(path, HTTP_IF_NONE_MATCH='"sf-00000000000000000000000000000000"').status_code == 200


def test_a_cold_revalidation_and_the_detail_answer_304_too(shop, alice, settings):
    settings.CHANGE_FEED = False  # nothing in memory: the body is built, only its transfer is spared
    asset = storefront_asset(alice.tenant)
    api = shop.client()
    for path in (LIST, f"{LIST}/{asset.pk}"):
        etag = _etag(api, path)
        response = api.get(path, HTTP_IF_NONE_MATCH=etag)
        assert response.status_code == 304 and response.content == b"" and response["ETag"] == etag


def test_the_tag_changes_on_publish_unpublish_metadata_and_new_assets(shop, alice):
    asset = storefront_asset(alice.tenant)
    api = shop.client()
    seen = [_etag(api)]
    detail_seen = [_etag(api, f"{LIST}/{asset.pk}")]

    def changed() -> None:
        seen.append(_etag(api))
        detail_seen.append(_etag(api, f"{LIST}/{asset.pk}"))
        assert seen[-1] not in seen[:-1]
        assert api.get(LIST, HTTP_IF_NONE_MATCH=seen[-2]).status_code == 200

    _after_commit_announced(lambda: set_status(asset.current_version, VersionStatus.PUBLISHED))
    changed()
    assert detail_seen[-1] != detail_seen[-2]
    _after_commit_announced(lambda: Asset.objects.for_tenant(alice.tenant).filter(pk=asset.pk).update(title="new"))
    changed()
    assert detail_seen[-1] != detail_seen[-2]
    _after_commit_announced(lambda: storefront_asset(alice.tenant, title="another"))
    changed()
    _after_commit_announced(lambda: set_status(asset.current_version, VersionStatus.BLOCKED))  # unpublished
    seen.append(_etag(api))
    assert seen[-1] not in seen[:-1]
    assert api.get(LIST, HTTP_IF_NONE_MATCH=seen[-2]).status_code == 200
    assert api.get(f"{LIST}/{asset.pk}", HTTP_IF_NONE_MATCH=detail_seen[-1]).status_code == 404


def test_freshness_ends_at_the_next_window_boundary_and_the_tag_changes_there(shop, alice):
    steady = storefront_asset(alice.tenant, title="steady")  # no window of its own
    closing = storefront_asset(alice.tenant, title="closing")
    opening = storefront_asset(alice.tenant, title="opening")
    soon = timezone.now() + dt.timedelta(seconds=2)
    _after_commit_announced(lambda: set_window(closing.current_version, start=None, end=soon))
    _after_commit_announced(lambda: set_window(opening.current_version, start=soon, end=None))
    api = shop.client()
    before = api.get(LIST)
    assert {item["id"] for item in before.json()["results"]} == {steady.pk, closing.pk}
    assert _max_age(before) <= 2  # not one second past the boundary
    # A response that holds no window still ends there: a window that opens elsewhere may change it.
    assert _max_age(api.get(f"{LIST}/{steady.pk}")) <= 2
    assert _max_age(api.get(f"{LIST}?q=steady")) <= 2
    time.sleep(max(0.0, (soon - timezone.now()).total_seconds()) + 0.1)  # no row changes
    after = api.get(LIST, HTTP_IF_NONE_MATCH=before["ETag"])
    assert after.status_code == 200 and after["ETag"] != before["ETag"]
    assert {item["id"] for item in after.json()["results"]} == {steady.pk, opening.pk}
    assert _max_age(after) > 2  # no boundary ahead any more


def test_another_tenants_tag_never_matches(shop, alice, charlie):
    other = key_holder(charlie.tenant, Scope.ASSETS_READ, name="other-shop").client()
    api = shop.client()
    etag = _etag(api)  # both lists are empty: same bytes, yet not the same tag
    response = other.get(LIST, HTTP_IF_NONE_MATCH=etag)
    assert response.status_code == 200 and response["ETag"] != etag


def test_errors_are_not_cacheable(shop, alice, client):
    api = shop.client()
    for response in (
        api.get(f"{LIST}/999999999"),  # 404
        client.get(LIST),  # 401: no key
        api.get(f"{LIST}?created_after=yesterday"),  # 400
    ):
        assert response.status_code >= 400, response.status_code
        assert response["Cache-Control"] == "no-store" and "ETag" not in response
        assert "Authorization" in response["Vary"]


@pytest.mark.django_db
def test_the_next_window_boundary_is_the_tenants_earliest_opening_or_closing_after_now(alice, charlie):
    from dam.delivery.http_cache import next_window_boundary

    now = timezone.now()
    hour = dt.timedelta(hours=1)
    assert next_window_boundary(tenant_id=alice.tenant.pk, now=now) is None  # no windows at all
    past = storefront_asset(alice.tenant, title="past")
    set_window(past.current_version, start=now - 3 * hour, end=now - hour)  # both bounds behind us: not one
    late = storefront_asset(alice.tenant, title="late")
    set_window(late.current_version, start=now + 5 * hour, end=now + 9 * hour)
    closing = storefront_asset(alice.tenant, title="closing")
    set_window(closing.current_version, start=now - hour, end=now + 3 * hour)
    elsewhere = storefront_asset(charlie.tenant, title="another tenant's")
    set_window(elsewhere.current_version, start=now + dt.timedelta(minutes=1), end=None)
    assert next_window_boundary(tenant_id=alice.tenant.pk, now=now) == now + 3 * hour  # a closing beats an opening
    set_window(late.current_version, start=now + 2 * hour, end=now + 9 * hour)
    assert next_window_boundary(tenant_id=alice.tenant.pk, now=now) == now + 2 * hour
    with CaptureQueriesContext(connection) as queries:
        next_window_boundary(tenant_id=alice.tenant.pk, now=now)
    assert len(queries) == 1
