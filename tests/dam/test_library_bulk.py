"""Bulk work on the library: the service (one transaction and one audit event per asset, skips listed
with reasons) and `POST /api/v1/assets/bulk` (ids or a filter, scope assets:write, tenant isolation)."""

from __future__ import annotations

import datetime as dt

import pytest

from dam.models import Asset, Collection, PublishWindow
from dam.services.assets import asset_create
from dam.services.bulk import BulkChange, assets_bulk_update
from dam.services.metadata import asset_update, collection_create
from governance.models.audit import AuditEvent
from tests.factories import make_asset
from tests.support.errors import error_message

pytestmark = pytest.mark.django_db
URL = "/api/v1/assets/bulk"


def _events(tenant, action: str) -> list[AuditEvent]:
    return list(AuditEvent.objects.for_tenant(tenant).filter(action=action))


def _tags(asset: Asset) -> list[str]:
    asset.refresh_from_db()
    return asset.tags


class TestService:
    def test_tag_adds_to_each_asset_audits_each_and_skips_what_already_has_it(self, alice):
        one, two = make_asset(alice.tenant, title="one"), make_asset(alice.tenant, title="two")
        asset_update(asset=two, tags=["summer"])
        before = len(_events(alice.tenant, "asset.updated"))
        result = assets_bulk_update(
            tenant=alice.tenant, asset_ids=[one.pk, two.pk, 999_999], change=BulkChange(action="tag", tags=["Summer"])
        )
        assert result.done == [one.pk]
        assert [(s.asset_id, s.reason) for s in result.skipped] == [
            (two.pk, "already tagged summer"),
            (999_999, "not found"),
        ]
        assert _tags(one) == ["summer"] and _tags(two) == ["summer"]
        assert len(_events(alice.tenant, "asset.updated")) == before + 1

    def test_untag_move_and_publish_window(self, alice):
        summer = collection_create(tenant=alice.tenant, slug="summer")
        one, two = make_asset(alice.tenant, title="one"), make_asset(alice.tenant, title="two")
        asset_update(asset=one, tags=["a", "b"])
        result = assets_bulk_update(
            tenant=alice.tenant, asset_ids=[one.pk, two.pk], change=BulkChange(action="untag", tags=["a"])
        )
        assert result.done == [one.pk] and _tags(one) == ["b"]
        assert result.skipped[0].reason == "has none of the tags a"

        moved = assets_bulk_update(
            tenant=alice.tenant, asset_ids=[one.pk, two.pk], change=BulkChange(action="move", collection=summer)
        )
        assert moved.done == [one.pk, two.pk]
        assert set(Asset.objects.for_tenant(alice.tenant).values_list("collection_id", flat=True)) == {summer.pk}
        again = assets_bulk_update(
            tenant=alice.tenant, asset_ids=[one.pk], change=BulkChange(action="move", collection=summer)
        )
        assert again.skipped[0].reason == "already in this collection"

        start, end = dt.datetime(2030, 1, 1, tzinfo=dt.UTC), dt.datetime(2030, 2, 1, tzinfo=dt.UTC)
        empty = asset_create(tenant=alice.tenant, title="no version", source="uploaded")
        window = assets_bulk_update(
            tenant=alice.tenant,
            asset_ids=[one.pk, two.pk, empty.pk],
            change=BulkChange(action="publish_window", available_from=start, available_until=end),
        )
        assert window.done == [one.pk, two.pk]
        assert [(s.asset_id, s.reason) for s in window.skipped] == [(empty.pk, "has no version yet")]
        assert PublishWindow.objects.for_tenant(alice.tenant).count() == 2
        assert len(_events(alice.tenant, "publish_window.set")) == 2

    def test_another_tenants_assets_are_not_found_and_unchanged(self, alice, charlie):
        theirs = make_asset(alice.tenant, title="alice's")
        result = assets_bulk_update(
            tenant=charlie.tenant, asset_ids=[theirs.pk], change=BulkChange(action="tag", tags=["x"])
        )
        assert result.done == [] and result.skipped[0].reason == "not found"
        assert _tags(theirs) == []

    def test_a_bad_change_is_refused_before_any_asset(self, alice, charlie):
        from django.core.exceptions import ValidationError

        with pytest.raises(ValidationError):
            BulkChange(action="tag", tags=[])
        with pytest.raises(ValidationError):
            BulkChange(action="explode")
        asset = make_asset(alice.tenant)
        theirs = collection_create(tenant=charlie.tenant, slug="theirs")
        with pytest.raises(ValidationError):
            assets_bulk_update(
                tenant=alice.tenant, asset_ids=[asset.pk], change=BulkChange(action="move", collection=theirs)
            )
        asset.refresh_from_db()
        assert asset.collection_id is None and not Collection.objects.for_tenant(alice.tenant).exists()


class TestApi:
    def test_tag_by_ids_answers_done_and_skipped(self, alice):
        one, two = make_asset(alice.tenant, title="one"), make_asset(alice.tenant, title="two")
        asset_update(asset=two, tags=["summer"])
        response = alice.client().post(URL, {"action": "tag", "ids": [one.pk, two.pk], "tags": ["summer"]}, "json")
        assert response.status_code == 200, response.content
        assert response.json() == {
            "action": "tag",
            "matched": 2,
            "done": [one.pk],
            "skipped": [{"id": two.pk, "title": "two", "reason": "already tagged summer"}],
        }

    def test_a_filter_selects_every_matching_asset_not_a_page(self, alice):
        ja = [asset_create(tenant=alice.tenant, title=f"ja {i}", source="uploaded", locale="ja-JP") for i in range(3)]
        en = asset_create(tenant=alice.tenant, title="en", source="uploaded", locale="en-US")
        collection_create(tenant=alice.tenant, slug="japan")
        response = alice.client().post(
            URL, {"action": "move", "filter": {"locale": "ja-JP"}, "collection": "japan"}, format="json"
        )
        assert response.status_code == 200, response.content
        assert sorted(response.json()["done"]) == sorted(a.pk for a in ja)
        en.refresh_from_db()
        assert en.collection_id is None

    def test_move_out_of_any_collection_with_null(self, alice):
        summer = collection_create(tenant=alice.tenant, slug="summer")
        asset = make_asset(alice.tenant)
        asset_update(asset=asset, collection=summer)
        response = alice.client().post(URL, {"action": "move", "ids": [asset.pk], "collection": None}, format="json")
        assert response.json()["done"] == [asset.pk]
        asset.refresh_from_db()
        assert asset.collection_id is None

    def test_publish_window_for_the_current_versions(self, alice):
        asset = make_asset(alice.tenant)
        body = {
            "action": "publish_window",
            "ids": [asset.pk],
            "available_from": "2030-01-01T00:00:00Z",
            "available_until": "2030-02-01T00:00:00Z",
        }
        assert alice.client().post(URL, body, format="json").json()["done"] == [asset.pk]
        asset.refresh_from_db()
        window = PublishWindow.objects.for_tenant(alice.tenant).get()
        assert window.version_id == asset.current_version_id
        body["available_until"] = "2029-01-01T00:00:00Z"
        refused = alice.client().post(URL, body, format="json")
        assert refused.status_code == 400 and "after" in error_message(refused, "available_until")

    @pytest.mark.parametrize(
        "body",
        [
            {"action": "tag", "ids": [1]},  # no tags
            {"action": "tag", "tags": ["x"]},  # no selection
            {"action": "tag", "tags": ["x"], "ids": [1], "filter": {}},  # both
            {"action": "move", "ids": [1]},  # no collection key
            {"action": "move", "ids": [1], "collection": "nowhere"},
            {"action": "burn", "ids": [1]},
            {"action": "tag", "ids": [1], "tags": ["x"], "colour": "red"},
            {"action": "tag", "ids": ["a"], "tags": ["x"]},
            {"action": "tag", "ids": [0], "tags": ["x"]},
            {"action": "tag", "filter": {"status": "nope"}, "tags": ["x"]},
            {"action": "tag", "filter": {"campaign": -1}, "tags": ["x"]},
            {"action": "tag", "ids": list(range(1, 10_003)), "tags": ["x"]},  # over BULK_OPERATION_MAX_ASSETS
        ],
    )
    def test_bad_requests_are_400_and_change_nothing(self, alice, body):
        asset = make_asset(alice.tenant)
        response = alice.client().post(URL, body, format="json")
        assert response.status_code == 400, response.content
        assert _tags(asset) == [] and not _events(alice.tenant, "asset.updated")

    def test_another_tenants_ids_are_not_found_and_a_reader_cannot_write(self, alice, bob, charlie):
        asset = make_asset(alice.tenant, title="alice's")
        response = charlie.client().post(URL, {"action": "tag", "ids": [asset.pk], "tags": ["x"]}, format="json")
        assert response.status_code == 200
        assert response.json()["skipped"] == [{"id": asset.pk, "title": "", "reason": "not found"}]
        # A filter only ever sees the caller's own assets.
        by_filter = charlie.client().post(URL, {"action": "tag", "filter": {}, "tags": ["x"]}, format="json")
        assert by_filter.json()["matched"] == 0
        denied = bob.client().post(URL, {"action": "tag", "ids": [asset.pk], "tags": ["x"]}, format="json")
        assert denied.status_code == 403
        assert _tags(asset) == [] and not _events(alice.tenant, "asset.updated")

    def test_the_schema_lists_the_endpoint(self, alice):
        schema = alice.client().get("/api/schema/", {"format": "json"}).json()
        operation = schema["paths"]["/api/v1/assets/bulk"]["post"]
        assert "AssetBulkResult" in str(operation["responses"]["200"])


def _archived(asset: Asset) -> bool:
    asset.refresh_from_db()
    return asset.archived_at is not None


class TestArchive:
    def test_the_services_archive_and_unarchive_once_each_audited(self, alice):
        from dam.services.metadata import asset_archive, asset_unarchive

        asset = make_asset(alice.tenant, title="old")
        assert asset_archive(asset=asset) is True and _archived(asset)
        assert asset_archive(asset=asset) is False  # idempotent: nothing written, nothing audited
        assert len(_events(alice.tenant, "asset.archived")) == 1
        assert asset_unarchive(asset=asset) is True and not _archived(asset)
        assert asset_unarchive(asset=asset) is False
        assert len(_events(alice.tenant, "asset.unarchived")) == 1
        assert _events(alice.tenant, "asset.archived")[0].target_id == str(asset.pk)

    def test_bulk_archive_skips_the_archived_and_unarchive_skips_the_active(self, alice):
        one, two = make_asset(alice.tenant, title="one"), make_asset(alice.tenant, title="two")
        first = assets_bulk_update(tenant=alice.tenant, asset_ids=[one.pk], change=BulkChange(action="archive"))
        assert first.done == [one.pk]
        both = assets_bulk_update(
            tenant=alice.tenant, asset_ids=[one.pk, two.pk, 999_999], change=BulkChange(action="archive")
        )
        assert both.done == [two.pk]
        assert [(s.asset_id, s.reason) for s in both.skipped] == [(one.pk, "already archived"), (999_999, "not found")]
        assert len(_events(alice.tenant, "asset.archived")) == 2
        assets_bulk_update(tenant=alice.tenant, asset_ids=[two.pk], change=BulkChange(action="unarchive"))
        back = assets_bulk_update(
            tenant=alice.tenant, asset_ids=[one.pk, two.pk], change=BulkChange(action="unarchive")
        )
        assert back.done == [one.pk]
        assert [(s.asset_id, s.reason) for s in back.skipped] == [(two.pk, "not archived")]
        assert not _archived(one) and not _archived(two)

    def test_api_archive_then_unarchive_by_an_archived_filter(self, alice):
        one, two = make_asset(alice.tenant, title="one"), make_asset(alice.tenant, title="two")
        response = alice.client().post(URL, {"action": "archive", "ids": [one.pk, two.pk]}, format="json")
        assert response.status_code == 200, response.content
        assert response.json() == {"action": "archive", "matched": 2, "done": [one.pk, two.pk], "skipped": []}
        again = alice.client().post(URL, {"action": "archive", "ids": [one.pk]}, format="json").json()
        assert again["skipped"] == [{"id": one.pk, "title": "one", "reason": "already archived"}]
        # A filter leaves archived assets out unless it asks for them.
        hidden = alice.client().post(URL, {"action": "unarchive", "filter": {}}, format="json").json()
        assert hidden["matched"] == 0
        shown = alice.client().post(URL, {"action": "unarchive", "filter": {"archived": "true"}}, format="json")
        assert sorted(shown.json()["done"]) == sorted([one.pk, two.pk])
        assert not _archived(one) and not _archived(two)
        bad = alice.client().post(URL, {"action": "archive", "filter": {"archived": "maybe"}}, format="json")
        assert bad.status_code == 400

    def test_another_tenants_ids_are_not_found_and_nothing_changes(self, alice, bob, charlie):
        asset = make_asset(alice.tenant, title="alice's")
        response = charlie.client().post(URL, {"action": "archive", "ids": [asset.pk]}, format="json")
        assert response.json()["skipped"] == [{"id": asset.pk, "title": "", "reason": "not found"}]
        by_filter = charlie.client().post(URL, {"action": "archive", "filter": {"archived": "all"}}, format="json")
        assert by_filter.json()["matched"] == 0
        assert bob.client().post(URL, {"action": "archive", "ids": [asset.pk]}, format="json").status_code == 403
        assert not _archived(asset) and not _events(alice.tenant, "asset.archived")
        assert not _events(charlie.tenant, "asset.archived")

    def test_the_list_hides_archived_by_default_and_the_detail_still_answers(self, alice):
        kept, gone = make_asset(alice.tenant, title="kept"), make_asset(alice.tenant, title="gone")
        assets_bulk_update(tenant=alice.tenant, asset_ids=[gone.pk], change=BulkChange(action="archive"))
        client = alice.client()

        def listed(**params) -> list[int]:
            response = client.get("/api/v1/assets", params)
            assert response.status_code == 200, response.content
            return [row["id"] for row in response.json()["results"]]

        assert listed() == [kept.pk] and listed(archived="false") == [kept.pk]
        assert listed(archived="true") == [gone.pk]
        assert sorted(listed(archived="all")) == sorted([kept.pk, gone.pk])
        assert client.get("/api/v1/assets", {"archived": "maybe"}).status_code == 400
        detail = client.get(f"/api/v1/assets/{gone.pk}")
        assert detail.status_code == 200 and detail.json()["archived_at"] is not None
        assert client.get(f"/api/v1/assets/{kept.pk}").json()["archived_at"] is None

    def test_the_schema_documents_the_filter_and_the_actions(self, alice):
        schema = alice.client().get("/api/schema/", {"format": "json"}).json()
        listing = schema["paths"]["/api/v1/assets"]["get"]
        assert "archived" in [p["name"] for p in listing["parameters"]]
        assert "archive" in str(schema["components"]["schemas"]["AssetBulkRequest"])
