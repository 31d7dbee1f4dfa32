"""Hand-off exports: a selection packed as `<market>/<placement>/<name>.<ext>` with a manifest, built by a real
worker, checked against the stored bytes; progress, re-runs, verification, isolation and bad selections."""

from __future__ import annotations

import csv
import hashlib
import io
import json
import time
import zipfile

import pytest
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.urls import reverse
from django.utils import timezone

from dam.blobs import blob_read
from dam.lifecycle import VersionStatus
from dam.models import Asset, AssetVersion, Export, Rendition
from dam.services import exports as export_services
from dam.services.exports import export_build, export_create
from governance.models import AuditEvent
from tenants.models import Scope
from tenants.services import placement_create
from tests.factories import add_rendition, encode, make_version, marked_image, set_status
from tests.support.actors import key_holder
from tests.support.errors import error_fields
from tests.support.exports import campaign_assets


def _wait_done(client, export_id: int, timeout: float = 60.0) -> list[dict]:
    seen = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        body = client.get(f"/api/v1/exports/{export_id}").json()
        seen.append(body)
        if body["state"] in ("done", "failed"):
            return seen
        time.sleep(0.05)
    raise AssertionError(f"export {export_id} not finished: {seen[-1]}")


def _zip_of(client, export_id: int) -> zipfile.ZipFile:
    response = client.get(f"/api/v1/exports/{export_id}/download")
    assert response.status_code == 200
    assert response["Content-Type"] == "application/zip"
    assert f'filename="export-{export_id}.zip"' in response["Content-Disposition"]
    return zipfile.ZipFile(io.BytesIO(b"".join(response.streaming_content)))


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def test_a_worker_builds_the_zip_laid_out_by_market_and_placement_with_a_manifest(celery_worker, alice):
    versions = campaign_assets(alice.tenant)
    api = alice.client()
    created = api.post("/api/v1/exports", {"campaign_id": 7}, format="json")
    assert created.status_code == 202, created.content
    assert created["Location"] == f"/api/v1/exports/{created.json()['id']}"
    assert created.json()["files_total"] == 4 * 3  # 4 versions x (original + 2 placements)

    states = _wait_done(api, created.json()["id"])
    final = states[-1]
    assert final["state"] == "done", final
    assert final["files_done"] == final["files_total"] == 12 and final["percent"] == 100
    archive = _zip_of(api, final["id"])

    expected = {
        f"{market}/{folder}/{creative}.{ext}"
        for market in ("de-DE", "ja-JP")
        for creative in ("sneaker", "boot")
        for folder, ext in (("original", "png"), ("pdp-square", "jpg"), ("hero-wide", "webp"))
    }
    assert set(archive.namelist()) == expected | {"manifest.csv", "manifest.json"}

    manifest = json.loads(archive.read("manifest.json"))
    assert _sha(archive.read("manifest.json")) == final["manifest_sha256"]
    rows = {row["path"]: row for row in manifest["files"]}
    assert set(rows) == expected
    by_id = {v.pk: v for v in versions}
    for path, row in rows.items():
        data = archive.read(path)
        version = by_id[row["version_id"]]
        stored = (
            version
            if row["placement"] == "original"
            else Rendition.objects.for_tenant(alice.tenant).get(version=version, spec=f"placement:{row['placement']}")
        )
        # The zip's bytes are the stored blob's, byte for byte, and the manifest says so.
        assert _sha(data) == row["sha256"] == stored.sha256 == _sha(blob_read(stored.storage_key))
        assert row["size"] == len(data) == stored.file_size
        assert row["format"] == stored.format and (row["width"], row["height"]) == (stored.width, stored.height)
        assert row["market"] == path.split("/")[0] and row["creative"] == path.split("/")[2].split(".")[0]
        assert row["delivery_url"].startswith("http://testserver/d/") and row["sha256"] in row["delivery_url"]
        assert row["provenance"]["digital_source_type"] == "trainedAlgorithmicMedia"
        assert row["provenance"]["job_id"] == version.job_id
    csv_rows = list(csv.DictReader(io.StringIO(archive.read("manifest.csv").decode("utf-8"))))
    assert {row["path"]: row["sha256"] for row in csv_rows} == {p: r["sha256"] for p, r in rows.items()}
    assert all("trainedAlgorithmicMedia" in row["provenance"] for row in csv_rows)

    actions = list(
        AuditEvent.objects.for_tenant(alice.tenant)
        .filter(target_type="export", target_id=str(final["id"]))
        .values_list("action", flat=True)
        .order_by("seq")
    )
    assert actions == ["export.created", "export.finished"]


@pytest.mark.django_db(transaction=True)
def test_progress_is_committed_file_by_file(alice, monkeypatch):
    versions = campaign_assets(alice.tenant, markets=("de-DE",))
    # Built here, in this process, not by a standing worker of the session.
    monkeypatch.setattr(export_services, "export_build_enqueue", lambda *, export_id: None)
    export = export_create(tenant=alice.tenant, selection={"version_ids": [v.pk for v in versions]})
    seen: list[tuple[int, int]] = []
    copy = export_services._copy_into_zip

    def observed(archive, file):
        # What a poller on another connection reads while the build runs.
        row = Export.unscoped.filter(pk=export.pk).values_list("files_done", "files_total").get()
        seen.append(row)
        return copy(archive, file)

    monkeypatch.setattr(export_services, "_copy_into_zip", observed)
    assert export_build(export_id=export.pk) == "done"
    assert seen == [(done, 6) for done in range(6)]


def test_alt_text_of_the_market_and_names_without_creative(db, alice, tmp_path):
    placement_create(tenant=alice.tenant, slug="pdp-square", width=32, height=32, output_format="jpeg")
    first = make_version(alice.tenant, title="Red Sneaker!", alt_text={"de": "Roter Schuh", "en": "Red shoe"})
    second = make_version(alice.tenant, title="Red Sneaker!")
    Asset.objects.for_tenant(alice.tenant).filter(pk=first.asset_id).update(locale="de-DE")
    add_rendition(first, "placement:pdp-square", width=32, height=32, image_format="jpeg")
    export = export_create(tenant=alice.tenant, selection={"version_ids": [first.pk, second.pk]})
    assert export_build(export_id=export.pk) == "done"
    export.refresh_from_db()
    with default_storage.open(export.storage_key, "rb") as handle:
        archive = zipfile.ZipFile(io.BytesIO(handle.read()))
    rows = {row["path"]: row for row in json.loads(archive.read("manifest.json"))["files"]}
    assert set(rows) == {
        "de-DE/original/red-sneaker.png",
        "de-DE/pdp-square/red-sneaker.jpg",
        "default/original/red-sneaker.png",
    }
    assert rows["de-DE/pdp-square/red-sneaker.jpg"]["alt_text"] == "Roter Schuh"
    # Not approved: no delivery URL (delivery would answer 404).
    assert rows["default/original/red-sneaker.png"]["delivery_url"] == ""


def test_same_name_in_one_market_gets_the_asset_id(db, alice):
    first = make_version(alice.tenant, title="Hero")
    second = make_version(alice.tenant, title="Hero")
    export = export_create(tenant=alice.tenant, selection={"version_ids": [first.pk, second.pk]})
    export_build(export_id=export.pk)
    export.refresh_from_db()
    with default_storage.open(export.storage_key, "rb") as handle:
        names = zipfile.ZipFile(io.BytesIO(handle.read())).namelist()
    assert sorted(names) == sorted(
        ["default/original/hero.png", f"default/original/hero-{second.asset_id}.png", "manifest.csv", "manifest.json"]
    )


def test_a_rerun_after_a_crash_starts_over_and_a_finished_export_is_left_alone(db, alice):
    versions = campaign_assets(alice.tenant, markets=("de-DE",), creatives=("sneaker",))
    export = export_create(tenant=alice.tenant, selection={"version_ids": [versions[0].pk]})
    # A worker died mid-build: the row says running, attempt 1, half its files.
    Export.unscoped.filter(pk=export.pk).update(state="running", attempts=1, files_done=2, files_total=3)
    assert export_build(export_id=export.pk) == "done"
    export.refresh_from_db()
    assert (export.state, export.attempts, export.files_done) == ("done", 2, 3)
    assert export.storage_key.endswith("/attempt-2.zip")
    # The redelivered message of the first run finds it done and does nothing.
    assert export_build(export_id=export.pk) == "skipped"
    export.refresh_from_db()
    assert export.attempts == 2


def test_bytes_not_matching_their_sha256_fail_the_export_naming_the_file(db, alice):
    version = make_version(alice.tenant, title="Hero")
    export = export_create(tenant=alice.tenant, selection={"version_ids": [version.pk]})
    tampered = encode(marked_image(mark=(0.2, 0.7)))
    default_storage.delete(version.storage_key)
    default_storage.save(version.storage_key, ContentFile(tampered))
    assert export_build(export_id=export.pk) == "failed"
    export.refresh_from_db()
    assert export.state == "failed" and "default/original/hero.png" in export.error and not export.storage_key
    finished = AuditEvent.objects.for_tenant(alice.tenant).get(action="export.finished", target_id=str(export.pk))
    assert finished.payload["state"] == "failed"


def test_a_build_that_breaks_fails_the_export_instead_of_leaving_it_running(db, alice, monkeypatch):
    version = make_version(alice.tenant, title="Hero")
    export = export_create(tenant=alice.tenant, selection={"version_ids": [version.pk]})

    def broken(export):
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(export_services, "export_files", broken)
    with pytest.raises(RuntimeError):
        export_build(export_id=export.pk)
    export.refresh_from_db()
    assert export.state == "failed" and export.error == "the build broke: RuntimeError: disk on fire"


def test_a_missing_blob_fails_the_export_naming_the_file(db, alice):
    version = make_version(alice.tenant, title="Hero")
    export = export_create(tenant=alice.tenant, selection={"version_ids": [version.pk]})
    default_storage.delete(version.storage_key)
    assert export_build(export_id=export.pk) == "failed"
    export.refresh_from_db()
    assert export.error.startswith("default/original/hero.png: the stored file")


def test_the_time_limit_fails_the_export(db, alice, monkeypatch):
    version = make_version(alice.tenant, title="Hero")
    export = export_create(tenant=alice.tenant, selection={"version_ids": [version.pk]})
    assert export_build(export_id=export.pk, time_limit_seconds=-1) == "failed"
    export.refresh_from_db()
    assert "time limit" in export.error


def test_download_before_done_is_a_conflict(db, alice):
    version = make_version(alice.tenant, title="Hero")
    export = export_create(tenant=alice.tenant, selection={"version_ids": [version.pk]})
    response = alice.client().get(f"/api/v1/exports/{export.pk}/download")
    assert response.status_code == 409 and error_fields(response) == {"state"}


def test_blocked_versions_are_skipped_and_listed(db, alice):
    kept = make_version(alice.tenant, title="Kept")
    blocked = make_version(alice.tenant, title="Blocked")
    AssetVersion.objects.for_tenant(alice.tenant).filter(pk=blocked.pk).update(status=VersionStatus.BLOCKED)
    body = alice.client().post("/api/v1/exports", {"version_ids": [kept.pk, blocked.pk]}, format="json").json()
    assert body["versions"] == 1 and body["skipped"] == [
        {"version": blocked.pk, "reason": body["skipped"][0]["reason"]}
    ]


def test_an_export_by_filter_leaves_archived_assets_out_and_one_by_name_keeps_them(db, alice):
    kept = make_version(alice.tenant, title="Kept", locale="de-DE")
    archived = make_version(alice.tenant, title="Archived", locale="de-DE")
    for version in (kept, archived):
        Asset.objects.for_tenant(alice.tenant).filter(pk=version.asset_id).update(locale="de-DE")
    Asset.objects.for_tenant(alice.tenant).filter(pk=archived.asset_id).update(archived_at=timezone.now())
    by_market = export_create(tenant=alice.tenant, selection={"locale": "de-DE"})
    assert list(by_market.version_ids) == [kept.pk]
    by_name = export_create(tenant=alice.tenant, selection={"asset_ids": [archived.asset_id]})
    assert list(by_name.version_ids) == [archived.pk]


def test_a_storefront_key_exports_approved_versions_only(db, alice):
    approved = make_version(alice.tenant, title="Approved")
    set_status(approved, VersionStatus.APPROVED)
    waiting = make_version(alice.tenant, title="Waiting")
    storefront = key_holder(alice.tenant, Scope.ASSETS_READ).client()
    refused = storefront.post("/api/v1/exports", {"version_ids": [approved.pk, waiting.pk]}, format="json")
    assert refused.status_code == 400 and error_fields(refused) == {"version_ids"}
    assert storefront.post("/api/v1/exports", {"version_ids": [approved.pk]}, format="json").status_code == 202


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({}, "selection"),
        ({"version_ids": [999999]}, "version_ids"),
        ({"version_ids": "12"}, "version_ids"),
        ({"asset_ids": [999999]}, "asset_ids"),
        ({"collection": "no-such"}, "collection"),
        ({"placement": "no-such"}, "placement"),
        ({"status": "lost"}, "status"),
        ({"campaign_id": 0}, "campaign_id"),
        ({"campaign_id": 2**63}, "campaign_id"),
        ({"asset_ids": [2**63]}, "asset_ids"),
        ({"colour": "red"}, "colour"),
        ({"version_ids": [1], "locale": "de-DE"}, "version_ids"),
        ({"campaign_id": 424242}, "selection"),  # matches nothing
    ],
)
def test_a_bad_selection_is_a_400_naming_the_field_and_stores_nothing(db, alice, body, field):
    make_version(alice.tenant, title="Hero")
    response = alice.client().post("/api/v1/exports", body, format="json")
    assert response.status_code == 400, response.content
    # The field, or one item of it (`asset_ids.0`).
    assert field in {name.split(".")[0] for name in error_fields(response)}
    assert not Export.objects.for_tenant(alice.tenant).exists()


def test_another_tenant_cannot_see_export_or_download_or_name_its_versions(db, alice, charlie):
    version = make_version(alice.tenant, title="Hero")
    export = export_create(tenant=alice.tenant, selection={"version_ids": [version.pk]})
    export_build(export_id=export.pk)
    other = charlie.client()
    assert other.get(f"/api/v1/exports/{export.pk}").status_code == 404
    assert other.get(f"/api/v1/exports/{export.pk}/download").status_code == 404
    assert other.get("/api/v1/exports").json()["results"] == []
    refused = other.post("/api/v1/exports", {"version_ids": [version.pk]}, format="json")
    assert refused.status_code == 400 and error_fields(refused) == {"version_ids"}
    assert not Export.objects.for_tenant(charlie.tenant).exists()
    assert [row["id"] for row in alice.client().get("/api/v1/exports").json()["results"]] == [export.pk]


# --- The staff UI ---------------------------------------------------------------------------------


def test_the_bulk_bar_posts_a_selection_and_the_exports_page_shows_it_with_its_download(db, alice, client):
    versions = campaign_assets(alice.tenant, markets=("de-DE",))
    client.force_login(alice.user)
    posted = client.post(
        reverse("admin:dam_export_create"), {"version_ids": f"{versions[0].pk},{versions[1].pk}"}, follow=False
    )
    export = Export.objects.for_tenant(alice.tenant).get()
    assert posted.status_code == 302 and posted["Location"].endswith(f"?export={export.pk}")
    assert export.version_ids == [versions[0].pk, versions[1].pk] and export.requested_by == alice.user

    page = client.get(reverse("admin:dam_export_changelist"))
    assert page.status_code == 200
    html = page.content.decode()
    assert f'id="export-{export.pk}"' in html and reverse("admin:dam_export_progress", args=[export.pk]) in html
    assert "0 of 6" in html

    export_build(export_id=export.pk)
    row = client.get(reverse("admin:dam_export_progress", args=[export.pk])).content.decode()
    # Done: no more polling, a download link instead.
    assert "hx-get" not in row and "6 of 6" in row and reverse("admin:dam_export_download", args=[export.pk]) in row
    download = client.get(reverse("admin:dam_export_download", args=[export.pk]))
    assert download.status_code == 200 and download["Content-Type"] == "application/zip"
    names = zipfile.ZipFile(io.BytesIO(b"".join(download.streaming_content))).namelist()
    assert "de-DE/pdp-square/sneaker.jpg" in names and "manifest.csv" in names


def test_the_bulk_bar_posts_asset_ids_or_filters(db, alice, client):
    versions = campaign_assets(alice.tenant)
    client.force_login(alice.user)
    client.post(reverse("admin:dam_export_create"), {"asset_ids": [versions[0].asset_id, versions[3].asset_id]})
    client.post(reverse("admin:dam_export_create"), {"campaign_id": "7", "locale": "ja-JP", "placement": "pdp-square"})
    by_assets, by_filter = Export.objects.for_tenant(alice.tenant).order_by("id")
    assert by_assets.version_ids == [versions[0].pk, versions[3].pk]
    assert sorted(by_filter.version_ids) == [v.pk for v in versions[2:]] and by_filter.files_total == 2 + 2


def test_the_bulk_bar_form_as_it_is_checked_assets_or_all_matching_its_filters(db, alice, client):
    versions = campaign_assets(alice.tenant)
    client.force_login(alice.user)
    bar = {"next": "/admin/dam/asset/", "filters": "campaign=7&locale=ja-JP", "action": "tag"}
    client.post(reverse("admin:dam_export_create"), {**bar, "all": "0", "ids": [versions[1].asset_id]})
    client.post(reverse("admin:dam_export_create"), {**bar, "all": "1", "ids": [versions[1].asset_id]})
    checked, matching = Export.objects.for_tenant(alice.tenant).order_by("id")
    assert checked.version_ids == [versions[1].pk]
    assert sorted(matching.version_ids) == [v.pk for v in versions if v.locale == "ja-JP"]


def test_a_refused_selection_from_the_bulk_bar_says_why_and_stores_nothing(db, alice, client):
    client.force_login(alice.user)
    response = client.post(
        reverse("admin:dam_export_create"), {"version_ids": "12,abc", "next": "/admin/dam/asset/?q=x"}, follow=True
    )
    assert response.redirect_chain[-1][0] == "/admin/dam/asset/?q=x"
    assert "version ids" in response.content.decode() and not Export.objects.for_tenant(alice.tenant).exists()


def test_another_tenants_export_is_a_404_in_the_staff_ui(db, alice, charlie, client):
    version = make_version(alice.tenant, title="Hero")
    export = export_create(tenant=alice.tenant, selection={"version_ids": [version.pk]})
    export_build(export_id=export.pk)
    client.force_login(charlie.user)
    assert client.get(reverse("admin:dam_export_progress", args=[export.pk])).status_code == 404
    assert client.get(reverse("admin:dam_export_download", args=[export.pk])).status_code == 404
    assert f'id="export-{export.pk}"' not in client.get(reverse("admin:dam_export_changelist")).content.decode()
