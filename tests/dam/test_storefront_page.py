"""The storefront's list and detail, built from rows (dam.api.storefront_page), answer the reference's bytes.

The reference is `storefront_asset_data` over model instances and `storefront_version_rows` (what the API
answered before the rows path, and what the serializers document), rendered by DRF's JSONRenderer. The
dataset varies everything the answer shows: Unicode (and U+2028, quotes, backslashes, tabs) in titles, tags
and alt texts; locales on the asset and on the version; collections or none; several versions (the shown one
is not the newest); publish windows with microseconds; placement renditions (with `current_url`) and filter
specs with `|`; two renditions of one width, ratio and format (one candidate each in a srcset); signed URLs.
"""

from __future__ import annotations

import datetime as dt
import json
import zoneinfo
from urllib.parse import parse_qs, urlsplit

import pytest
from django.conf import settings
from django.db.models import Count, Subquery
from django.utils import timezone
from hypothesis import given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st
from rest_framework.renderers import JSONRenderer

from dam.api.storefront import STOREFRONT_ASSET_FIELDS, storefront_asset_data
from dam.api.storefront_page import render_json
from dam.blobs import blob_put
from dam.delivery.cache import storefront_pages
from dam.lifecycle import VersionStatus
from dam.models import Asset, AssetVersion, TenantDelivery
from dam.selectors.storefront import (
    UrlBuilder,
    storefront_assets,
    storefront_page_assets,
    storefront_page_versions,
    storefront_version_rows,
)
from dam.services.assets import asset_version_create, collection_get_or_create
from tenants.models import Scope
from tests.factories import add_rendition, png_bytes, set_status, set_window, storefront_asset
from tests.support.actors import key_holder

pytestmark = pytest.mark.django_db

LIST = "/api/v1/storefront/assets"


@pytest.fixture(autouse=True)
def empty_page_cache():
    storefront_pages.clear()
    yield
    storefront_pages.clear()


def _varied_library(tenant) -> list[Asset]:
    now = timezone.now()
    summer = collection_get_or_create(tenant=tenant, slug="summer-26")
    kimono = collection_get_or_create(tenant=tenant, slug="夏-キモノ")
    assets = []
    titles = [
        "Plain hero",
        "晴れたビーチの白いスニーカー",
        'Quote " backslash \\ tab \t line\u2028separator\u2029end',
        "Emoji 👟🏖️ and ß, é, Ω",
        "Straße & <b>bold</b> 'single'",
        "Arabic سلام and RTL",
    ]
    for index, title in enumerate(titles):
        asset = storefront_asset(tenant, title=title, colour=(index * 30, 10, 200))
        version = asset.current_version
        if index % 2:
            add_rendition(version, "width-16", width=16, height=12, image_format="webp")
            add_rendition(version, "width-16|format-avif", width=16, height=12, image_format="avif")
            add_rendition(version, "fill-24x24|format-webp", width=24, height=24, image_format="webp")
            add_rendition(version, "placement:hero-wide", width=64, height=36, image_format="jpeg")
            # Same width, ratio and format as the original (64x48 png): the srcset keeps one of them.
            add_rendition(version, "width-64", width=64, height=48, image_format="png")
        updates = {
            "tags": [["sneakers", "sale"], ["ビーチ", "summer"], [], ["emoji👟"], ["a\u2028b"], ["x"]][index],
            "locale": ["", "ja-JP", "en-US", "", "de-DE", "ar"][index],
            "collection": [summer, kimono, None, summer, None, kimono][index],
        }
        Asset.objects.for_tenant(tenant).filter(pk=asset.pk).update(**updates)
        AssetVersion.objects.for_tenant(tenant).filter(pk=version.pk).update(
            locale=["", "ja-JP", "", "fr-FR", "", ""][index],
            alt_text=[
                {},
                {"en": "White sneaker on a sunny beach", "ja": "晴れたビーチの白いスニーカー"},
                {"de": 'Anführungszeichen " und \\', "zz": "\u2028\u2029"},
                {"fr": "Basket 👟"},
                {"en-US": "tab\there", "es": "ñ"},
                {"ar": "سلام"},
            ][index],
        )
        if index in (1, 4):
            # A window with microseconds, open now; and one closing later.
            set_window(version, start=now - dt.timedelta(days=1, microseconds=123), end=now + dt.timedelta(days=3))
        if index == 2:
            set_window(version, start=None, end=now + dt.timedelta(hours=5, microseconds=7))
        if index == 3:
            set_status(version, VersionStatus.PUBLISHED)
        if index == 5:
            # A newer version waiting for review: the storefront shows the approved one below it.
            data = png_bytes(width=80, height=40, colour=(1, 2, 3))
            blob = blob_put(tenant_id=tenant.pk, kind="originals", data=data, image_format="png")
            asset_version_create(asset=asset, blob=blob, width=80, height=40, image_format="png")
        assets.append(asset)
    # A version whose window has not opened: not shown, but it is the tenant's next boundary.
    later = storefront_asset(tenant, title="not yet")
    set_window(later.current_version, start=now + dt.timedelta(days=2), end=None)
    return assets


def _reference(tenant, asset_id: int, urls: UrlBuilder) -> dict:
    asset = storefront_assets(tenant=tenant).only(*STOREFRONT_ASSET_FIELDS).get(pk=asset_id)
    rows = storefront_version_rows(tenant=tenant, ids=[asset.storefront_version_id])
    return storefront_asset_data(asset, rows[asset.storefront_version_id], urls=urls)


def _urls_of(data: dict, *, signed: bool) -> UrlBuilder:
    """The UrlBuilder the request used: its origin, and a `now` that signs with the response's expiry (a multiple
    of the TTL's quarter, so `expires - TTL` rounds up to it again)."""
    origin = settings.DELIVERY_BASE_URL or "http://testserver"
    now = timezone.now()
    if signed:
        expires = int(parse_qs(urlsplit(data["version"]["url"]).query)["expires"][0])
        now = dt.datetime.fromtimestamp(expires - settings.DELIVERY_SIGNED_URL_TTL_SECONDS, tz=dt.UTC)
    return UrlBuilder(origin=origin, sign=signed, now=now)


def _expected_list(tenant, body: bytes, *, signed: bool) -> bytes:
    page = json.loads(body)
    results = [_reference(tenant, item["id"], _urls_of(item, signed=signed)) for item in page["results"]]
    return JSONRenderer().render({"next": page["next"], "previous": page["previous"], "results": results})


@pytest.mark.parametrize("signed", [False, True], ids=["public", "signed"])
def test_list_and_detail_answer_the_reference_bytes(alice, signed):
    if signed:
        TenantDelivery.objects.for_tenant(alice.tenant).create(tenant=alice.tenant, signed_urls_required=True)
    assets = _varied_library(alice.tenant)
    api = key_holder(alice.tenant, Scope.ASSETS_READ, name="web-shop").client()
    today = timezone.localdate()
    queries = [
        "",
        "?page_size=2",
        "?q=sneaker",
        "?tag=sneakers",
        "?tag=%E3%83%93%E3%83%BC%E3%83%81",
        "?collection=summer-26",
        "?locale=ja-JP",
        "?locale=fr",
        "?placement=hero-wide",
        f"?created_after={today}&created_before={today}",
        "?q=nothing-matches-this",
    ]
    seen = set()
    for query in queries:
        response = api.get(LIST + query)
        assert response.status_code == 200, response.content
        assert response.content == _expected_list(alice.tenant, response.content, signed=signed), query
        seen.update(item["id"] for item in response.json()["results"])
    # Every cursor page both ways: next links, then the previous links back.
    response = api.get(LIST + "?page_size=2")
    pages = [response]
    while (link := response.json()["next"]) is not None:
        response = api.get(link.removeprefix("http://testserver"))
        pages.append(response)
    while (link := response.json()["previous"]) is not None:
        response = api.get(link.removeprefix("http://testserver"))
        pages.append(response)
    assert len(pages) == 5  # 3 pages of 2, and back
    for page in pages:
        assert page.status_code == 200
        assert page.content == _expected_list(alice.tenant, page.content, signed=signed)
    assert seen == {asset.pk for asset in assets}
    for asset in assets:
        response = api.get(f"{LIST}/{asset.pk}")
        assert response.status_code == 200
        expected = _reference(alice.tenant, asset.pk, _urls_of(response.json(), signed=signed))
        assert response.content == JSONRenderer().render(expected)
    # What the dataset is meant to hold, so the comparison covers it.
    bodies = b"".join(page.content for page in pages)
    assert b"\\u2028" in bodies and "晴れた".encode() in bodies and b"%7Cformat-avif" in bodies
    assert b'"current_url":"http' in bodies and b'"available_until":"' in bodies
    assert (b"sig=" in bodies) == signed


def test_an_empty_page_and_an_unknown_asset(alice):
    api = key_holder(alice.tenant, Scope.ASSETS_READ, name="web-shop").client()
    response = api.get(LIST)
    assert response.status_code == 200
    assert response.content == b'{"next":null,"previous":null,"results":[]}'
    hidden = storefront_asset(alice.tenant, title="draft", status=VersionStatus.NEEDS_REVIEW)
    assert api.get(f"{LIST}/{hidden.pk}").status_code == 404
    assert api.get(f"{LIST}/not-a-number").status_code == 404


def test_the_pages_assets_and_versions_are_storefront_assets(alice, charlie):
    """`storefront_page_assets` (the latest visible version as SQL written once) answers what `storefront_assets`
    (the ORM's, from `storefront_visible`) answers: same assets, same version shown."""
    now = timezone.now()
    hour = dt.timedelta(hours=1)
    for status in VersionStatus.values:
        storefront_asset(alice.tenant, title=status, status=status)
    for start, end in ((now - hour, now + hour), (now + hour, None), (None, now - hour), (None, now + hour)):
        set_window(storefront_asset(alice.tenant, title="windowed").current_version, start=start, end=end)
    for newer in ("waiting", "approved later", "approved, window open"):
        asset = storefront_asset(alice.tenant, title=newer)
        blob = blob_put(
            tenant_id=alice.tenant.pk, kind="originals", data=png_bytes(colour=(9, 9, 9)), image_format="png"
        )
        version = asset_version_create(asset=asset, blob=blob, width=64, height=48, image_format="png")
        if newer != "waiting":
            set_status(version, VersionStatus.APPROVED)
            start = now + hour if newer == "approved later" else now - hour
            set_window(version, start=start, end=None)
    archived = storefront_asset(alice.tenant, title="archived")
    Asset.objects.for_tenant(alice.tenant).filter(pk=archived.pk).update(archived_at=now)
    storefront_asset(charlie.tenant, title="another tenant's")

    def shown(assets) -> list[tuple[int, int]]:
        return list(assets.order_by("id").values_list("id", "storefront_version_id"))

    expected = shown(storefront_assets(tenant=alice.tenant, now=now))
    assert shown(storefront_page_assets(tenant=alice.tenant, now=now)) == expected
    assert shown(storefront_page_assets(tenant=alice.tenant.pk, now=now)) == expected
    # As another query's subquery (its tables renamed), it judges its own rows, not the outer query's: seen from a
    # hidden asset's row, the shown assets are still counted.
    counted = (
        storefront_page_assets(tenant=alice.tenant, now=now)
        .order_by()
        .values("tenant")
        .annotate(shown=Count("pk"))
        .values("shown")
    )
    hidden = Asset.objects.for_tenant(alice.tenant).exclude(pk__in=[asset_id for asset_id, _ in expected])
    outer = hidden.filter(archived_at__isnull=True).annotate(shown=Subquery(counted)).values_list("shown", flat=True)
    assert set(outer) == {len(expected)}


_TIME_ZONES = st.sampled_from(
    [dt.UTC, zoneinfo.ZoneInfo("UTC"), dt.timezone(dt.timedelta(hours=2)), dt.timezone(-dt.timedelta(hours=9.5))]
)
_SCALARS = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**63), max_value=2**63 - 1)
    | st.text(alphabet=st.characters(exclude_categories=("Cs",)))
    | st.text(alphabet='\u2028\u2029\x00\x1f\x7f"\\/\t\n é👟\ufeff')
    | st.datetimes(min_value=dt.datetime(1900, 1, 1), max_value=dt.datetime(2200, 1, 1), timezones=_TIME_ZONES)
)
_JSON_DATA = st.recursive(
    _SCALARS, lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4), max_leaves=20
)


@hypothesis_settings(max_examples=300, deadline=None)
@given(st.dictionaries(st.text(), _JSON_DATA, max_size=4))  # an answer is an object
def test_render_json_gives_drf_renderers_bytes(data):
    assert render_json(data) == JSONRenderer().render(data)


def test_a_page_reads_only_its_tenants_versions_and_windows(alice, charlie):
    now = timezone.now()
    mine = storefront_asset(alice.tenant, title="mine")
    theirs = storefront_asset(charlie.tenant, title="theirs")
    set_window(theirs.current_version, start=now + dt.timedelta(hours=1), end=None)
    ids = [mine.current_version_id, theirs.current_version_id]
    versions, boundary = storefront_page_versions(tenant_id=alice.tenant.pk, version_ids=ids, now=now)
    assert list(versions) == [mine.current_version_id] and boundary is None  # charlie's window is not alice's
    versions, boundary = storefront_page_versions(tenant_id=charlie.tenant.pk, version_ids=ids, now=now)
    assert list(versions) == [theirs.current_version_id] and boundary == now + dt.timedelta(hours=1)
    assert [r[0] for r in versions[theirs.current_version_id].renditions] == ["placement:pdp-square"]
