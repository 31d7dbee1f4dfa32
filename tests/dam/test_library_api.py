"""Library write endpoints: collections, asset facts, a version's focal point and alt text, library settings."""

from __future__ import annotations

import pytest

from dam.models import Asset, AssetVersion, Collection, LibrarySettings
from dam.services.metadata import collection_create
from governance.models.audit import AuditEvent
from tests.factories import make_version
from tests.support.errors import error_message

pytestmark = pytest.mark.django_db


def _audited(tenant, action: str) -> list[AuditEvent]:
    return list(AuditEvent.objects.for_tenant(tenant).filter(action=action))


class TestCollections:
    def test_create_list_rename_delete(self, alice):
        api = alice.client()
        created = api.post("/api/v1/collections", {"slug": "summer-26", "name": "Summer 2026"}, format="json")
        assert created.status_code == 201, created.content
        collection_id = created.json()["id"]
        version = make_version(alice.tenant)
        api.patch(f"/api/v1/assets/{version.asset_id}", {"collection": "summer-26"}, format="json")
        listed = api.get("/api/v1/collections").json()["results"]
        assert [(c["slug"], c["assets"]) for c in listed] == [("summer-26", 1)]
        renamed = api.patch(f"/api/v1/collections/{collection_id}", {"name": "Summer 26 EU"}, format="json")
        assert renamed.status_code == 200 and renamed.json()["name"] == "Summer 26 EU"
        assert api.delete(f"/api/v1/collections/{collection_id}").status_code == 204
        assert Asset.objects.for_tenant(alice.tenant).get().collection is None  # the asset stays
        assert [len(_audited(alice.tenant, f"collection.{verb}")) for verb in ("created", "updated", "deleted")] == [
            1,
            1,
            1,
        ]

    def test_slugs_are_unique_per_tenant_and_well_formed(self, alice, charlie):
        api = alice.client()
        assert api.post("/api/v1/collections", {"slug": "spring"}, format="json").status_code == 201
        duplicate = api.post("/api/v1/collections", {"slug": "spring"}, format="json")
        assert duplicate.status_code == 400 and "already exists" in error_message(duplicate, "slug")
        assert api.post("/api/v1/collections", {"slug": "Not A Slug"}, format="json").status_code == 400
        # Another tenant may use the same slug.
        assert charlie.client().post("/api/v1/collections", {"slug": "spring"}, format="json").status_code == 201

    def test_another_tenant_cannot_touch_a_collection_and_a_reader_cannot_write(self, alice, bob, charlie):
        collection = collection_create(tenant=alice.tenant, slug="secret-launch", name="Secret launch")
        url = f"/api/v1/collections/{collection.pk}"
        for response in (
            charlie.client().get(url),
            charlie.client().patch(url, {"name": "x"}, format="json"),
            charlie.client().delete(url),
        ):
            assert response.status_code == 404
        assert bob.client().get("/api/v1/collections").status_code == 200
        assert bob.client().delete(url).status_code == 403
        assert bob.client().post("/api/v1/collections", {"slug": "x"}, format="json").status_code == 403
        assert Collection.objects.for_tenant(alice.tenant).get().name == "Secret launch"
        assert not Collection.objects.for_tenant(alice.tenant).filter(slug="x").exists()


class TestAssetAndVersionMetadata:
    def test_an_asset_is_retitled_retagged_and_filed(self, alice):
        collection_create(tenant=alice.tenant, slug="summer-26")
        version = make_version(alice.tenant)
        url = f"/api/v1/assets/{version.asset_id}"
        changed = alice.client().patch(
            url, {"title": "Hero", "tags": ["Sale", "sale", "beach"], "collection": "summer-26"}, format="json"
        )
        assert changed.status_code == 200, changed.content
        assert (changed.json()["title"], changed.json()["tags"], changed.json()["collection"]) == (
            "Hero",
            ["sale", "beach"],
            "summer-26",
        )
        assert alice.client().patch(url, {"collection": "nope"}, format="json").status_code == 400
        assert alice.client().patch(url, {"collection": None}, format="json").json()["collection"] is None

    def test_focal_point_and_alt_text_of_a_version(self, alice):
        version = make_version(alice.tenant)
        url = f"/api/v1/assets/{version.asset_id}/versions/{version.number}"
        api = alice.client()
        response = api.patch(
            url,
            {"focal_point": {"x": 0.25, "y": 0.75}, "alt_text": {"en": "A red ball", "ja-JP": "赤いボール"}},
            format="json",
        )
        assert response.status_code == 200, response.content
        assert response.json()["focal_point"] == {"x": 0.25, "y": 0.75}
        merged = api.patch(url, {"alt_text": {"en": "", "de": "Ein roter Ball"}}, format="json").json()
        assert merged["alt_text"] == {"ja-JP": "赤いボール", "de": "Ein roter Ball"}  # en removed, de added
        assert merged["focal_point"] == {"x": 0.25, "y": 0.75}  # untouched when not sent
        assert api.patch(url, {"focal_point": None}, format="json").json()["focal_point"] is None
        events = _audited(alice.tenant, "version.metadata_updated")
        assert len(events) == 3
        recorded = events[0].payload["after"]["focal_point"]  # the audit trail keeps numbers as exact text
        assert {axis: float(value) for axis, value in recorded.items()} == {"x": 0.25, "y": 0.75}

    @pytest.mark.parametrize(
        "body",
        [
            {"focal_point": {"x": 1.5, "y": 0.5}},
            {"focal_point": {"x": 0.5}},
            {"focal_point": [0.5, 0.5]},
            {"alt_text": {"not a locale": "x"}},
            {"alt_text": {"en": "x" * 1001}},
            {"alt_text": ["en", "x"]},
        ],
    )
    def test_bad_metadata_is_400_and_nothing_changes(self, alice, body):
        version = make_version(alice.tenant)
        response = alice.client().patch(f"/api/v1/assets/{version.asset_id}/versions/1", body, format="json")
        assert response.status_code == 400, response.content
        version.refresh_from_db()
        assert (version.focal_x, version.focal_y, version.alt_text) == (None, None, {})

    def test_unknown_versions_other_tenants_and_readers_are_refused(self, alice, bob, charlie):
        version = make_version(alice.tenant)
        body = {"focal_point": {"x": 0.1, "y": 0.1}}
        assert (
            alice.client().patch(f"/api/v1/assets/{version.asset_id}/versions/9", body, format="json").status_code
            == 404
        )
        url = f"/api/v1/assets/{version.asset_id}/versions/1"
        assert charlie.client().patch(url, body, format="json").status_code == 404
        assert bob.client().patch(url, body, format="json").status_code == 403
        assert (
            bob.client().patch(f"/api/v1/assets/{version.asset_id}", {"title": "x"}, format="json").status_code == 403
        )
        version.refresh_from_db()
        assert version.focal_x is None and version.asset.title == "hero"
        assert AssetVersion.objects.for_tenant(alice.tenant).count() == 1


class TestLibrarySettings:
    def test_admins_change_them_editors_read_them_viewers_do_not_see_them(self, alice, bob, tenant_a):
        from tenants.services import api_key_create

        editor = api_key_create(tenant=tenant_a, name="editor", scopes=["assets:read", "assets:write"])
        api = alice.client()
        assert api.get("/api/v1/library-settings").json() == {
            "rendition_allow_list": [],
            "credit_line": "",
            "copyright_notice": "",
            "include_prompt_in_provenance": False,
        }
        changed = api.patch(
            "/api/v1/library-settings",
            {"rendition_allow_list": ["format-webp|fill-1200x628", "width-2400|format-avif"], "credit_line": "Acme"},
            format="json",
        )
        assert changed.status_code == 200, changed.content
        assert changed.json()["rendition_allow_list"] == ["fill-1200x628|format-webp", "width-2400|format-avif"]
        editor_client = alice.client()
        editor_client.credentials(HTTP_AUTHORIZATION=f"Bearer {editor.token}")
        assert editor_client.get("/api/v1/library-settings").json()["credit_line"] == "Acme"
        assert editor_client.patch("/api/v1/library-settings", {"credit_line": "x"}, format="json").status_code == 403
        assert bob.client().get("/api/v1/library-settings").status_code == 403
        assert LibrarySettings.objects.for_tenant(tenant_a).get().credit_line == "Acme"
        assert len(_audited(tenant_a, "library_settings.updated")) == 1

    def test_a_bad_spec_in_the_allow_list_is_named(self, alice):
        response = alice.client().patch(
            "/api/v1/library-settings", {"rendition_allow_list": ["width-400", "rotate-90"]}, format="json"
        )
        assert response.status_code == 400
        assert "rotate-90" in error_message(response, "rendition_allow_list")
        assert not LibrarySettings.objects.for_tenant(alice.tenant).exists()
