"""The asset browser and the review board at a big tenant's size (issue "Scale"): they count up to a cap and never
every row, rank only a bounded set of search matches, and read their filter choices by walking indexes; what users
rely on stays: every match is still selectable and counted in the bulk operation, filters, order and paging."""

from __future__ import annotations

import re

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from dam.blobs import blob_put
from dam.models import Asset
from dam.selectors.facets import asset_campaign_ids, asset_locales, version_job_ids, version_locales
from dam.selectors.review import review_filter_choices
from dam.services.assets import asset_create, asset_version_create
from dam.services.metadata import collection_create
from tests.factories import png_bytes

pytestmark = pytest.mark.django_db

GRID = "/admin/dam/asset/"
BOARD = "/admin/governance/review/"


def _client(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def _page(client: Client, path: str, params: dict | None = None) -> tuple[str, list[str]]:
    with CaptureQueriesContext(connection) as queries:
        response = client.get(path, params or {})
    assert response.status_code == 200
    return response.content.decode(), [q["sql"] for q in queries.captured_queries]


def _unbounded_counts(statements: list[str]) -> list[str]:
    """Row counts that are not over a LIMITed subquery: each reads every matching row of the tenant."""
    return [sql for sql in statements if "COUNT(*)" in sql.upper() and not re.search(r"LIMIT \d+\)", sql)]


def _waiting(tenant, *, title: str, colour=(9, 9, 9), tags=(), **fields):
    """A version waiting for review (its asset searchable by `title` and `tags`)."""
    asset = asset_create(tenant=tenant, title=title, source="generated", tags=tags)
    blob = blob_put(tenant_id=tenant.pk, kind="originals", data=png_bytes(colour=colour), image_format="png")
    return asset_version_create(asset=asset, blob=blob, width=64, height=48, image_format="png", **fields)


def test_the_asset_browser_counts_up_to_a_cap_and_select_all_still_takes_every_match(alice, monkeypatch):
    monkeypatch.setattr("dam.admin.paging.CappedPaginator.cap", 5)
    monkeypatch.setattr("dam.admin.assets.AssetAdmin.list_per_page", 4)
    for i in range(9):
        asset_create(tenant=alice.tenant, title=f"ja {i}", source="uploaded", locale="ja-JP")
    asset_create(tenant=alice.tenant, title="en", source="uploaded", locale="en-US")
    collection_create(tenant=alice.tenant, slug="japan", name="Japan")
    client = _client(alice.user)

    html, statements = _page(client, GRID, {"locale": "ja-JP"})
    assert _unbounded_counts(statements) == []
    assert "5+ assets match" in html and "Select all 5+ matching" in html
    assert 'data-total="6" data-total-label="5+"' in html  # above the bulk limit when the limit is the cap
    assert "5+ assets" in html and "the first 5 by this order" in html  # the paginator's line

    second, _ = _page(client, GRID, {"locale": "ja-JP", "p": "2"})  # pages within the cap are whole
    assert second.count('name="ids"') == 4
    response = client.post(
        "/admin/dam/asset/bulk/",
        {"action": "move", "to_collection": "japan", "all": "1", "filters": "locale=ja-JP"},
        follow=True,
    )
    assert "Moved 9 assets to Japan." in [str(m) for m in response.context["messages"]]
    assert Asset.objects.for_tenant(alice.tenant).filter(collection__slug="japan").count() == 9

    small, _ = _page(client, GRID, {"locale": "en-US"})
    assert "1 asset match" in small and "5+" not in small


def test_a_best_match_list_ranks_the_newest_matches_then_pages_on_through_the_older_ones(alice, monkeypatch):
    monkeypatch.setattr("dam.selectors.search.RANK_CANDIDATES", 2)
    monkeypatch.setattr("dam.admin.assets.AssetAdmin.list_per_page", 3)
    oldest = _waiting(alice.tenant, title="red sneaker").asset  # in the title: ranks high
    older = _waiting(alice.tenant, title="blue bag", tags=["sneaker"]).asset  # in a tag: lower
    newer = _waiting(alice.tenant, title="green sneaker").asset
    newest = _waiting(alice.tenant, title="plain box", tags=["sneaker"]).asset
    _waiting(alice.tenant, title="no match")
    client = _client(alice.user)

    def titles(html: str) -> list[str]:
        found = [(html.find(f">{a.title}<"), a.title) for a in (oldest, older, newer, newest)]
        return [title for at, title in sorted(found) if at >= 0]

    first, statements = _page(client, GRID, {"q": "sneaker"})
    # The newest two matches ranked (the title's above the tag's), then the older ones newest first.
    assert titles(first) == ["green sneaker", "plain box", "blue bag"]
    assert "4 assets match" in first  # every match counted, none ranked for it
    assert _unbounded_counts(statements) == []
    (ranked,) = [sql for sql in statements if "ts_rank" in sql]
    assert f'"id" IN ({newer.pk}, {newest.pk})' in ranked or f'"id" IN ({newest.pk}, {newer.pk})' in ranked
    second, _ = _page(client, GRID, {"q": "sneaker", "p": "2"})
    assert titles(second) == ["red sneaker"]

    # More matches than a search counts: "3+", and the candidates are the newest two found by a walk.
    monkeypatch.setattr("dam.selectors.search.SEARCH_COUNT_CAP", 3)
    capped, statements = _page(client, GRID, {"q": "sneaker"})
    assert "3+ assets match" in capped
    assert titles(capped) == ["green sneaker", "plain box", "blue bag"]
    (ranked,) = [sql for sql in statements if "ts_rank" in sql]
    assert "LIMIT 2)" in ranked

    monkeypatch.setattr("dam.selectors.search.RANK_CANDIDATES", 1_000)
    everything, _ = _page(client, GRID, {"q": "sneaker", "sort": "relevance"})
    assert titles(everything) == ["green sneaker", "red sneaker", "plain box"]  # all ranked: titles first


def test_the_review_board_counts_up_to_a_cap(alice, bob, monkeypatch):
    monkeypatch.setattr("dam.admin.paging.CappedPaginator.cap", 5)
    monkeypatch.setattr("dam.admin.review.PAGE_SIZE", 2)
    monkeypatch.setattr("dam.admin.review.MAX_BULK_VERSIONS", 4)
    for i in range(7):
        _waiting(alice.tenant, title=f"item-{i}", colour=(i, 2, 3))
    html, statements = _page(_client(bob.user), BOARD)
    assert _unbounded_counts(statements) == []
    assert "5+ versions waiting" in html
    assert "Showing 1\u20132 of 5+ · page 1 of 3+" in html
    assert "To decide all 5+ at once, narrow the filter to at most 4" in html
    last, _ = _page(_client(bob.user), BOARD, {"page": "3"})
    assert "Showing 5\u20136 of 5+" in last  # a page within the cap is whole

    uncapped, _ = _page(_client(bob.user), BOARD, {"job": "99"})
    assert "Nothing matches" in uncapped


def test_filter_choices_walk_every_value_of_the_tenant_and_only_its_own(alice, charlie):
    first = _waiting(alice.tenant, title="oldest", locale="pt-BR", job_id=7)  # an old market only a version carries
    Asset.objects.for_tenant(alice.tenant).filter(pk=first.asset_id).update(campaign_id=3, locale="")
    for i, (market, campaign) in enumerate([("de-DE", 5), ("en-US", None), ("de-DE", 5), ("fr-FR", 9)]):
        version = _waiting(alice.tenant, title=f"a{i}", colour=(i, 1, 1), job_id=20 + i)
        Asset.objects.for_tenant(alice.tenant).filter(pk=version.asset_id).update(locale=market, campaign_id=campaign)
    _waiting(alice.tenant, title="decided", status="published", job_id=99)
    theirs = _waiting(charlie.tenant, title="theirs", locale="it-IT", job_id=1000)
    Asset.objects.for_tenant(charlie.tenant).filter(pk=theirs.asset_id).update(locale="sv-SE", campaign_id=77)

    tenant = alice.tenant.pk
    assert asset_locales(tenant_id=tenant) == ["de-DE", "en-US", "fr-FR"]
    assert version_locales(tenant_id=tenant) == ["pt-BR"]
    assert asset_campaign_ids(tenant_id=tenant) == [9, 5, 3]
    assert asset_campaign_ids(tenant_id=tenant, limit=2) == [9, 5]
    assert version_job_ids(tenant_id=tenant, statuses=["needs_review", "approved"]) == [23, 22, 21, 20, 7]
    assert version_job_ids(tenant_id=tenant, statuses=["published"]) == [99]
    choices = review_filter_choices(tenant=alice.tenant)
    assert [value for value, _ in choices["locale"]] == ["de-DE", "en-US", "fr-FR", "pt-BR"]
    assert [value for value, _ in choices["job"]] == ["23", "22", "21", "20", "7"]
    assert [value for value, _ in choices["campaign"]] == ["9", "5", "3"]

    html, _ = _page(_client(alice.user), GRID)
    assert "Campaign #9" in html and "fr-FR" in html and "sv-SE" not in html and "Campaign #77" not in html
