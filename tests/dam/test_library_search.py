"""Searching the library: full text over title, prompt, tags, alt text and locale; filters; stable pages."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from dam.models import Asset
from dam.services.metadata import asset_update, collection_create, version_metadata_update
from dam.services.renditions import rendition_get_or_create
from tenants.services import placement_create
from tests.factories import make_version
from tests.support.errors import names_field

pytestmark = pytest.mark.django_db
URL = "/api/v1/assets"


def _ids(response) -> list[int]:
    assert response.status_code == 200, response.content
    return [item["id"] for item in response.json()["results"]]


@pytest.fixture
def library(alice, charlie):
    summer = collection_create(tenant=alice.tenant, slug="summer-26", name="Summer 2026")
    sneakers = make_version(alice.tenant, title="Red sneakers on sand", compiled_prompt="A red sneaker on a beach")
    asset_update(asset=sneakers.asset, tags=["Footwear", "sale"], collection=summer, locale="en-US")
    version_metadata_update(version=sneakers, alt_text={"ja-JP": "砂の上の 赤い スニーカー", "de": "Rote Turnschuhe"})
    lamp = make_version(
        alice.tenant, title="Desk lamp", compiled_prompt="A brass lamp in a dim study", status="approved"
    )
    asset_update(asset=lamp.asset, tags=["home"], locale="ja-JP")
    upload = make_version(alice.tenant, title="Studio photo of a chair", generated=False)
    other_tenant = make_version(charlie.tenant, title="Red sneakers of tenant B")
    versions = {"sneakers": sneakers, "lamp": lamp, "upload": upload, "other": other_tenant}
    return {name: Asset.unscoped.select_related("current_version").get(pk=v.asset_id) for name, v in versions.items()}


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("sneakers", ["sneakers"]),  # title
        ("sneaker", ["sneakers"]),  # English stem of the title word
        ("brass", ["lamp"]),  # prompt
        ("footwear", ["sneakers"]),  # tag
        ("turnschuhe", ["sneakers"]),  # German alt text, unstemmed
        ("スニーカー", ["sneakers"]),  # a space-separated Japanese word of the alt text
        ("ja-JP", ["lamp", "sneakers"]),  # a locale, of the asset or of an alt text
        ('"desk lamp"', ["lamp"]),  # websearch phrase
        ("red -beach", []),  # exclusion: the sneakers' prompt mentions a beach
        ("chair or lamp", ["lamp", "upload"]),
    ],
)
def test_full_text_search(alice, library, query, expected):
    found = _ids(alice.client().get(URL, {"q": query}))
    assert sorted(found) == sorted(library[name].pk for name in expected)


def test_filters_narrow_and_combine(alice, library):
    placement_create(tenant=alice.tenant, slug="pdp", width=300, height=300, output_format="webp")
    rendition_get_or_create(version=library["lamp"].current_version, spec="placement:pdp")
    api = alice.client()
    assert _ids(api.get(URL, {"collection": "summer-26"})) == [library["sneakers"].pk]
    assert _ids(api.get(URL, {"tag": "SALE"})) == [library["sneakers"].pk]
    assert _ids(api.get(URL, {"locale": "de"})) == [library["sneakers"].pk]  # an alt-text locale
    assert _ids(api.get(URL, {"placement": "pdp"})) == [library["lamp"].pk]
    assert _ids(api.get(URL, {"status": "approved"})) == [library["lamp"].pk]
    assert _ids(api.get(URL, {"status": "needs_review", "q": "red"})) == [library["sneakers"].pk]
    today = timezone.localdate()
    assert len(_ids(api.get(URL, {"created_after": today.isoformat()}))) == 3
    assert _ids(api.get(URL, {"created_before": (today - dt.timedelta(days=1)).isoformat()})) == []
    for params, field in [({"status": "lost"}, "status"), ({"created_after": "yesterday"}, "created_after")]:
        response = api.get(URL, params)
        assert response.status_code == 400 and names_field(response, field)


def test_search_never_crosses_tenants(alice, charlie, library):
    assert _ids(charlie.client().get(URL, {"q": "sneakers"})) == [library["other"].pk]
    assert library["other"].pk not in _ids(alice.client().get(URL, {"q": "sneakers"}))


def test_pages_are_stable_while_assets_are_added(alice, library):
    api = alice.client()
    first = api.get(URL, {"page_size": 2})
    page_one = _ids(first)
    make_version(alice.tenant, title="added between two pages")
    page_two = _ids(api.get(first.json()["next"]))
    assert len(page_one) == 2 and len(page_two) == 1
    assert set(page_one) | set(page_two) == {library[name].pk for name in ("sneakers", "lamp", "upload")}
    assert page_one == sorted(page_one, reverse=True)  # newest first, by id


def test_the_search_vector_follows_changes(alice, library):
    api = alice.client()
    assert _ids(api.get(URL, {"q": "velvet"})) == []
    asset_update(asset=library["upload"], title="Velvet armchair")
    assert _ids(api.get(URL, {"q": "velvet"})) == [library["upload"].pk]
    version_metadata_update(version=library["lamp"].current_version, alt_text={"fr": "Lampe de bureau en laiton"})
    assert _ids(api.get(URL, {"q": "laiton"})) == [library["lamp"].pk]
    # A new version of an asset is what search sees from then on.
    make_version(alice.tenant, asset=library["lamp"], compiled_prompt="A copper kettle")
    assert _ids(api.get(URL, {"q": "brass"})) == []
    assert _ids(api.get(URL, {"q": "kettle"})) == [library["lamp"].pk]
    assert Asset.objects.for_tenant(alice.tenant).filter(search_vector__isnull=True).count() == 0


def test_the_backfill_command_makes_older_assets_searchable(alice, library):
    from io import StringIO

    from django.core.management import call_command

    Asset.objects.for_tenant(alice.tenant).update(search_vector=None)  # as rows from before full-text search
    assert _ids(alice.client().get(URL, {"q": "lamp"})) == []
    out = StringIO()
    call_command("library_backfill", "--tenant", alice.tenant.slug, stdout=out)
    assert "3 assets reindexed" in out.getvalue()
    assert _ids(alice.client().get(URL, {"q": "lamp"})) == [library["lamp"].pk]


def test_archived_assets_are_left_out_unless_asked_for_and_combine_with_search(alice, library):
    from dam.selectors.search import AssetFilters, assets_search
    from dam.services.metadata import asset_archive

    asset_archive(asset=library["sneakers"])
    api = alice.client()
    assert library["sneakers"].pk not in _ids(api.get(URL))
    assert _ids(api.get(URL, {"q": "red"})) == []
    assert _ids(api.get(URL, {"q": "red", "archived": "true"})) == [library["sneakers"].pk]
    assert _ids(api.get(URL, {"archived": "true", "collection": "summer-26"})) == [library["sneakers"].pk]
    assert _ids(api.get(URL, {"archived": "true", "tag": "home"})) == []
    assert len(_ids(api.get(URL, {"archived": "all"}))) == 3
    response = api.get(URL, {"archived": "yes"})
    assert response.status_code == 400 and names_field(response, "archived")
    # A query string without `archived` leaves them out; a filter built in code narrows only what it names.
    assert library["sneakers"] not in assets_search(tenant=alice.tenant, filters=AssetFilters.from_query_params({}))
    assert library["sneakers"] in assets_search(tenant=alice.tenant, filters=AssetFilters(q="red"))
    # Another tenant's archived assets stay out of every answer.
    assert library["other"].pk not in _ids(api.get(URL, {"archived": "all"}))
