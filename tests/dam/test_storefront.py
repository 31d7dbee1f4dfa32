"""The storefront API: only approved/published versions inside their window, per tenant, in constant queries."""

from __future__ import annotations

import datetime as dt
from urllib.parse import quote, urlsplit

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from dam.blobs import blob_put
from dam.delivery.cache import storefront_pages
from dam.lifecycle import VersionStatus
from dam.models import TenantDelivery
from dam.services.assets import asset_version_create, collection_get_or_create
from tenants.models import Scope
from tests.factories import add_rendition, png_bytes, set_status, set_window, storefront_asset
from tests.support.actors import Persona, key_holder
from tests.support.errors import error_codes

pytestmark = pytest.mark.django_db


@pytest.fixture
def shop(alice) -> Persona:
    """A storefront key of tenant A: only `assets:read`."""
    shop = key_holder(alice.tenant, Scope.ASSETS_READ, name="web-shop")
    assert shop.api_key.scopes == [Scope.ASSETS_READ]
    return shop


def _ids(response) -> list[int]:
    assert response.status_code == 200, response.content
    return [item["id"] for item in response.json()["results"]]


def _every_url(data) -> list[str]:
    if isinstance(data, dict):
        return [url for value in data.values() for url in _every_url(value)]
    if isinstance(data, list):
        return [url for value in data for url in _every_url(value)]
    if isinstance(data, str) and "/d/" in data:
        # A srcset string ("url 16w, url 32w") holds several URLs.
        return [candidate.strip().split(" ")[0] for candidate in data.split(", ")]
    return []


def _fetch(client, url: str):
    parts = urlsplit(url)
    return client.get(parts.path + (f"?{parts.query}" if parts.query else ""))


def test_a_storefront_key_sees_only_approved_or_published_versions_in_their_window(shop, alice, client):
    now = timezone.now()
    approved = storefront_asset(alice.tenant, title="approved")
    published = storefront_asset(alice.tenant, title="published", status=VersionStatus.PUBLISHED)
    hidden = {
        "needs review": storefront_asset(alice.tenant, title="draft", status=VersionStatus.NEEDS_REVIEW),
        "rejected": storefront_asset(alice.tenant, title="rejected", status=VersionStatus.REJECTED),
        "blocked": storefront_asset(alice.tenant, title="blocked", status=VersionStatus.BLOCKED),
        "not yet": storefront_asset(alice.tenant, title="future"),
        "expired": storefront_asset(alice.tenant, title="expired"),
    }
    set_window(hidden["not yet"].current_version, start=now + dt.timedelta(days=1), end=None)
    set_window(hidden["expired"].current_version, start=None, end=now - dt.timedelta(minutes=1))
    api = shop.client()

    assert sorted(_ids(api.get("/api/v1/storefront/assets"))) == sorted([approved.pk, published.pk])
    for asset in hidden.values():
        assert api.get(f"/api/v1/storefront/assets/{asset.pk}").status_code == 404
        assert api.get(f"/api/v1/storefront/assets/{asset.pk}/renditions/placement:pdp-square").status_code == 404
        assert api.get(f"/api/v1/storefront/assets/{asset.pk}/renditions/original").status_code == 404
        assert client.get(f"/d/current/{asset.pk}/pdp-square").status_code == 404
        version = asset.current_version
        assert client.get(f"/d/{version.pk}/original/{version.sha256}.png").status_code == 404
    # Every URL the storefront was given serves bytes.
    for asset in (approved, published):
        urls = _every_url(api.get(f"/api/v1/storefront/assets/{asset.pk}").json())
        assert len(urls) >= 3
        for url in urls:
            assert _fetch(client, url).status_code in (200, 302), url


def test_an_unapproved_newer_version_is_never_shown_the_approved_one_stays_current(shop, alice):
    asset = storefront_asset(alice.tenant)
    approved = asset.current_version
    blob = blob_put(tenant_id=alice.tenant.pk, kind="originals", data=png_bytes(colour=(9, 9, 9)), image_format="png")
    draft = asset_version_create(asset=asset, blob=blob, width=64, height=48, image_format="png", parent=approved)
    add_rendition(draft, "placement:pdp-square", width=32, height=32, image_format="jpeg")
    body = shop.client().get(f"/api/v1/storefront/assets/{asset.pk}").json()
    assert body["version"]["number"] == approved.number
    assert draft.sha256 not in str(body) and body["version"]["sha256"] == approved.sha256
    set_status(draft, VersionStatus.APPROVED)
    assert shop.client().get(f"/api/v1/storefront/assets/{asset.pk}").json()["version"]["number"] == draft.number


def test_internal_keys_get_the_same_storefront_view(alice):
    storefront_asset(alice.tenant, status=VersionStatus.NEEDS_REVIEW)
    assert _ids(alice.client().get("/api/v1/storefront/assets")) == []


def test_tenant_b_gets_404_on_tenant_a_assets_and_renditions_and_lists_stay_apart(shop, alice, charlie):
    mine = storefront_asset(alice.tenant, title="A")
    theirs = storefront_asset(charlie.tenant, title="B")
    intruder = charlie.client()
    for url in (
        f"/api/v1/storefront/assets/{mine.pk}",
        f"/api/v1/storefront/assets/{mine.pk}/renditions/placement:pdp-square",
        f"/api/v1/storefront/assets/{mine.pk}/renditions/original",
    ):
        assert intruder.get(url).status_code == 404
        assert shop.client().get(url).status_code == 200
    assert _ids(intruder.get("/api/v1/storefront/assets")) == [theirs.pk]
    assert _ids(shop.client().get("/api/v1/storefront/assets")) == [mine.pk]


def test_detail_lists_renditions_with_sizes_formats_urls_and_srcsets(shop, alice):
    asset = storefront_asset(alice.tenant)
    version = asset.current_version
    add_rendition(version, "width-16", width=16, height=12, image_format="webp")
    add_rendition(version, "width-32", width=32, height=24, image_format="webp")
    body = shop.client().get(f"/api/v1/storefront/assets/{asset.pk}").json()
    assert body["version"]["width"] == 64 and body["version"]["status"] == "approved"
    specs = {r["spec"]: r for r in body["renditions"]}
    assert set(specs) == {"placement:pdp-square", "width-16", "width-32"}
    assert (specs["width-16"]["width"], specs["width-16"]["height"], specs["width-16"]["format"]) == (16, 12, "webp")
    assert specs["placement:pdp-square"]["current_url"].endswith(f"/d/current/{asset.pk}/pdp-square")
    by_group = {(s["aspect_ratio"], s["format"]): s for s in body["srcsets"]}
    webp = by_group[("4:3", "webp")]
    assert webp["srcset"] == f"{specs['width-16']['url']} 16w, {specs['width-32']['url']} 32w"
    assert by_group[("4:3", "png")]["candidates"] == [{"url": body["version"]["url"], "width": 64}]
    assert by_group[("1:1", "jpeg")]["candidates"][0]["width"] == 32


def test_the_rendition_endpoint_negotiates_the_format_from_accept(shop, alice):
    asset = storefront_asset(alice.tenant)
    version = asset.current_version
    add_rendition(version, "width-32", width=32, height=24, image_format="jpeg")
    add_rendition(version, "width-32|format-webp", width=32, height=24, image_format="webp")
    url = f"/api/v1/storefront/assets/{asset.pk}/renditions/width-32"
    plain = shop.client().get(url, HTTP_ACCEPT="application/json")
    assert plain.json()["format"] == "jpeg" and "Accept" in plain["Vary"]
    modern = shop.client().get(url, HTTP_ACCEPT="application/json, image/webp")
    assert modern.json()["format"] == "webp"
    pinned = shop.client().get(f"/api/v1/storefront/assets/{asset.pk}/renditions/{quote('width-32|format-webp')}")
    assert pinned.json()["spec"] == "width-32|format-webp"


def test_private_tenants_get_signed_urls(shop, alice, client):
    TenantDelivery.objects.for_tenant(alice.tenant).create(tenant=alice.tenant, signed_urls_required=True)
    asset = storefront_asset(alice.tenant)
    urls = _every_url(shop.client().get(f"/api/v1/storefront/assets/{asset.pk}").json())
    assert urls and all("sig=" in url and "expires=" in url for url in urls)
    for url in urls:
        assert _fetch(client, url).status_code in (200, 302)
        assert client.get(urlsplit(url).path).status_code == 403


def test_filters(shop, alice, charlie):
    summer = collection_get_or_create(tenant=alice.tenant, slug="summer")
    one = storefront_asset(alice.tenant, title="Red sneaker")
    two = storefront_asset(alice.tenant, title="Blue boot")
    type(one).objects.for_tenant(alice.tenant).filter(pk=one.pk).update(
        collection=summer, tags=["shoes"], locale="ja-JP"
    )
    api = shop.client()
    assert _ids(api.get("/api/v1/storefront/assets?q=sneaker")) == [one.pk]
    assert _ids(api.get("/api/v1/storefront/assets?collection=summer")) == [one.pk]
    # Another tenant's collection of the same slug is not this tenant's (the slug is looked up in the tenant).
    theirs = storefront_asset(charlie.tenant, title="Their sneaker")
    type(theirs).objects.for_tenant(charlie.tenant).filter(pk=theirs.pk).update(
        collection=collection_get_or_create(tenant=charlie.tenant, slug="autumn")
    )
    collection_get_or_create(tenant=charlie.tenant, slug="summer")
    assert _ids(api.get("/api/v1/storefront/assets?collection=summer")) == [one.pk]
    assert _ids(api.get("/api/v1/storefront/assets?collection=autumn")) == []
    today = timezone.localdate()
    assert len(_ids(api.get(f"/api/v1/storefront/assets?created_after={today}&created_before={today}"))) == 2
    assert _ids(api.get(f"/api/v1/storefront/assets?created_before={today - dt.timedelta(days=1)}")) == []
    assert _ids(api.get(f"/api/v1/storefront/assets?created_after={today + dt.timedelta(days=1)}")) == []
    assert _ids(api.get("/api/v1/storefront/assets?tag=shoes")) == [one.pk]
    assert _ids(api.get("/api/v1/storefront/assets?locale=ja-JP")) == [one.pk]
    assert _ids(api.get("/api/v1/storefront/assets?q=boots")) == [two.pk]  # full text: stemmed
    assert api.get("/api/v1/storefront/assets?created_after=yesterday").status_code == 400
    add_rendition(two.current_version, "placement:banner", width=48, height=16, image_format="jpeg")
    assert _ids(api.get("/api/v1/storefront/assets?placement=banner")) == [two.pk]


def _list_queries(api, page_size: int) -> tuple[int, int]:
    with CaptureQueriesContext(connection) as queries:
        response = api.get(f"/api/v1/storefront/assets?page_size={page_size}")
    return len(queries), len(response.json()["results"])


def test_the_list_runs_a_constant_number_of_queries_whatever_the_page_size(shop, alice, django_assert_num_queries):
    for index in range(24):
        asset = storefront_asset(alice.tenant, title=f"asset {index}", colour=(index, 0, 0))
        add_rendition(asset.current_version, "width-16", width=16, height=12, image_format="webp")
    api = shop.client()
    baseline, shown = _list_queries(api, 1)
    assert shown == 1
    with django_assert_num_queries(baseline):
        response = api.get("/api/v1/storefront/assets?page_size=24")
    assert len(response.json()["results"]) == 24
    assert all(len(item["renditions"]) == 2 for item in response.json()["results"])
    with django_assert_num_queries(baseline):
        shop.client().get(f"/api/v1/storefront/assets/{asset.pk}")


@pytest.fixture(autouse=True)
def empty_page_cache():
    storefront_pages.clear()
    yield
    storefront_pages.clear()


def test_missing_renditions_are_made_on_demand_only_for_allowed_specs(shop, alice, client):
    asset = storefront_asset(alice.tenant)
    api = shop.client()
    base = f"/api/v1/storefront/assets/{asset.pk}/renditions/"
    unlisted = api.get(base + "width-37")
    assert unlisted.status_code == 403 and "spec_not_allowed" in error_codes(unlisted)
    assert api.get(base + "width-banana").status_code == 400
    assert not asset.current_version.renditions.filter(spec="width-37").exists()
    # Presets are allowed: the Accept header picks the AVIF preset, rendered once, then found.
    avif = api.get(base + "width-800", HTTP_ACCEPT="image/avif,image/webp,*/*")
    assert avif.status_code == 200 and avif.json()["spec"] == "width-800|format-avif"
    assert _fetch(client, avif.json()["url"])["Content-Type"] == "image/avif"
    made = api.get(base + quote("width-800|format-webp"))
    assert made.status_code == 200 and made.json()["format"] == "webp"
    assert api.get(base + quote("format-webp|width-800")).json()["url"] == made.json()["url"]
    # An Accept naming only image types still gets JSON (a storefront forwarding its visitor's header).
    assert api.get(base + "width-800", HTTP_ACCEPT="image/avif").json()["url"] == avif.json()["url"]
    assert asset.current_version.renditions.filter(spec__startswith="width-800").count() == 2


def test_the_library_api_shows_a_storefront_key_only_what_the_storefront_api_shows(shop, alice):
    approved = storefront_asset(alice.tenant, title="approved")
    hidden = [
        storefront_asset(alice.tenant, title="draft", status=VersionStatus.NEEDS_REVIEW),
        storefront_asset(alice.tenant, title="blocked", status=VersionStatus.BLOCKED),
        storefront_asset(alice.tenant, title="expired"),
    ]
    set_window(hidden[2].current_version, start=None, end=timezone.now() - dt.timedelta(minutes=1))
    blob = blob_put(tenant_id=alice.tenant.pk, kind="originals", data=png_bytes(colour=(4, 4, 4)), image_format="png")
    draft = asset_version_create(
        asset=approved, blob=blob, width=64, height=48, image_format="png", parent=approved.current_version
    )
    api = shop.client()
    assert _ids(api.get("/api/v1/assets")) == [approved.pk]
    for asset in hidden:
        assert api.get(f"/api/v1/assets/{asset.pk}").status_code == 404
    body = api.get(f"/api/v1/assets/{approved.pk}").json()
    assert draft.sha256 not in str(body)
    versions = api.get(f"/api/v1/assets/{approved.pk}/versions").json()["results"]
    assert [v["number"] for v in versions] == [1]


def test_archived_assets_leave_the_storefront_lists_but_their_byte_urls_keep_working(shop, alice, client):
    from dam.services.metadata import asset_archive, asset_unarchive

    kept, archived = storefront_asset(alice.tenant, title="kept"), storefront_asset(alice.tenant, title="archived")
    api = shop.client()
    urls = _every_url(api.get(f"/api/v1/storefront/assets/{archived.pk}").json())
    assert urls
    asset_archive(asset=archived)
    storefront_pages.clear()  # the change feed invalidates it in production; tests do not run the listener
    assert _ids(api.get("/api/v1/storefront/assets")) == [kept.pk]
    assert _ids(api.get("/api/v1/storefront/assets", {"archived": "all"})) == [kept.pk]
    assert api.get(f"/api/v1/storefront/assets/{archived.pk}").status_code == 404
    assert archived.pk not in _ids(api.get("/api/v1/assets"))  # the library API's storefront view too
    # A published URL is a promise: the bytes handed out before keep being served.
    for url in urls:
        assert _fetch(client, url).status_code in (200, 302), url
    assert client.get(f"/d/current/{archived.pk}/pdp-square").status_code in (200, 302)
    asset_unarchive(asset=archived)
    storefront_pages.clear()
    assert sorted(_ids(api.get("/api/v1/storefront/assets"))) == sorted([kept.pk, archived.pk])
