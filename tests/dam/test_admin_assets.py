"""The asset browser in the staff UI: tenant isolation of lists, pages, search, filters and files."""

from __future__ import annotations

import io

import pytest
from django.contrib.auth import get_user_model
from django.test import Client
from PIL import Image

from dam.blobs import blob_put
from dam.models import AssetVersion
from dam.services.assets import asset_version_create, rendition_create
from tests.factories import make_asset, png_bytes

pytestmark = pytest.mark.django_db


def signed_in(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def current(asset) -> AssetVersion:
    asset.refresh_from_db()
    return asset.current_version


def add_edit(asset, *, colour=(20, 120, 220), size=(64, 48)) -> AssetVersion:
    data = png_bytes(*size, colour=colour)
    blob = blob_put(tenant_id=asset.tenant_id, kind="originals", data=data, image_format="png")
    return asset_version_create(
        asset=asset, blob=blob, width=size[0], height=size[1], image_format="png", parent=current(asset)
    )


def asset_urls(asset) -> list[str]:
    version = current(asset)
    return [
        f"/admin/dam/asset/{asset.pk}/change/",
        f"/admin/dam/asset/{asset.pk}/compare/",
        f"/admin/dam/asset/version/{version.pk}/thumbnail/?w=160",
        f"/admin/dam/asset/version/{version.pk}/file/",
    ]


def test_a_member_browses_their_assets_and_opens_them(alice):
    asset = make_asset(alice.tenant, title="Trail shoe hero")
    client = signed_in(alice.user)
    grid = client.get("/admin/dam/asset/")
    assert grid.status_code == 200
    assert b"Trail shoe hero" in grid.content
    assert f"/admin/dam/asset/version/{current(asset).pk}/thumbnail/".encode() in grid.content
    for url in asset_urls(asset):
        assert client.get(url).status_code == 200, url


def test_another_tenants_assets_and_files_are_invisible(alice, charlie):
    asset = make_asset(alice.tenant, title="Alice secret launch")
    rendition = _rendition(asset)
    client = signed_in(charlie.user)
    grid = client.get("/admin/dam/asset/", {"q": "secret"})
    assert grid.status_code == 200 and b"Alice secret launch" not in grid.content
    assert b"Alice secret launch" not in client.get("/admin/dam/asset/").content
    assert b"Alice secret launch" not in client.get("/admin/").content
    for url in [*asset_urls(asset), f"/admin/dam/asset/rendition/{rendition.pk}/file/"]:
        assert client.get(url).status_code == 404, url


def test_a_superuser_sees_every_tenants_assets(alice, charlie):
    make_asset(alice.tenant, title="from tenant a")
    make_asset(charlie.tenant, title="from tenant b")
    root = get_user_model().objects.create_superuser("root", password="pw-root")
    page = signed_in(root).get("/admin/dam/asset/").content.decode()
    assert "from tenant a" in page and "from tenant b" in page


def test_search_and_filters_narrow_the_grid(alice):
    from dam.services.assets import asset_create

    shoe = make_asset(alice.tenant, title="Trail shoe")
    tent = asset_create(tenant=alice.tenant, title="Dome tent", source="uploaded", tags=["camping"], locale="ja")
    blob = blob_put(tenant_id=alice.tenant.pk, kind="originals", data=png_bytes(), image_format="png")
    asset_version_create(asset=tent, blob=blob, width=64, height=48, image_format="png")
    client = signed_in(alice.user)

    def titles(**params) -> set[str]:
        page = client.get("/admin/dam/asset/", params).content.decode()
        return {title for title in ("Trail shoe", "Dome tent") if title in page}

    assert titles() == {"Trail shoe", "Dome tent"}
    assert titles(q="tent") == {"Dome tent"}
    assert titles(q="camping") == {"Dome tent"}  # an exact tag
    assert titles(tag="camping") == {"Dome tent"}
    assert titles(locale="ja") == {"Dome tent"}
    _rendition(shoe, slug="leaderboard")
    assert titles(placement="leaderboard") == {"Trail shoe"}
    assert titles(status="approved") == set()
    assert titles(status="needs_review") == {"Trail shoe", "Dome tent"}


def test_the_tag_filter_lists_only_this_tenants_tags(alice, charlie):
    from dam.services.assets import asset_create

    asset_create(tenant=charlie.tenant, title="b", source="uploaded", tags=["tenant-b-only"])
    asset_create(tenant=alice.tenant, title="a", source="uploaded", tags=["tenant-a-tag"])
    page = signed_in(alice.user).get("/admin/dam/asset/").content.decode()
    assert "tenant-a-tag" in page and "tenant-b-only" not in page


def test_the_asset_page_shows_the_lineage_and_the_compare_page_both_versions(alice):
    asset = make_asset(alice.tenant, title="Lineage")
    first = current(asset)
    second = add_edit(asset)
    client = signed_in(alice.user)
    page = client.get(f"/admin/dam/asset/{asset.pk}/change/").content.decode()
    assert "Edit of v1" in page and "v2" in page
    assert f"/admin/dam/asset/version/{first.pk}/thumbnail/" in page
    assert f"/admin/dam/asset/{asset.pk}/compare/?a=1&amp;b=2" in page
    compare = client.get(f"/admin/dam/asset/{asset.pk}/compare/", {"a": 1, "b": 2}).content.decode()
    assert f"/admin/dam/asset/version/{first.pk}/thumbnail/" in compare
    assert f"/admin/dam/asset/version/{second.pk}/thumbnail/" in compare


def test_a_thumbnail_is_a_downscaled_webp_of_the_stored_image_and_cacheable(alice):
    from dam.services.assets import asset_create

    asset = asset_create(tenant=alice.tenant, title="big", source="uploaded")
    blob = blob_put(tenant_id=alice.tenant.pk, kind="originals", data=png_bytes(1200, 800), image_format="png")
    version = asset_version_create(asset=asset, blob=blob, width=1200, height=800, image_format="png")
    client = signed_in(alice.user)
    response = client.get(f"/admin/dam/asset/version/{version.pk}/thumbnail/", {"w": 300})
    assert response.status_code == 200 and response["Content-Type"] == "image/webp"
    image = Image.open(io.BytesIO(response.content))
    assert (image.format, image.width, image.height) == ("WEBP", 320, 213)  # the next allowed width
    assert "private" in response["Cache-Control"]
    again = client.get(
        f"/admin/dam/asset/version/{version.pk}/thumbnail/", {"w": 300}, HTTP_IF_NONE_MATCH=response["ETag"]
    )
    assert again.status_code == 304


def test_files_need_a_signed_in_staff_member(alice):
    asset = make_asset(alice.tenant)
    response = Client().get(f"/admin/dam/asset/version/{current(asset).pk}/file/")
    assert response.status_code == 302 and "/admin/login/" in response["Location"]


def _rendition(asset, *, slug: str = "square"):
    version = current(asset)
    data = png_bytes(32, 32)
    blob = blob_put(tenant_id=asset.tenant_id, kind="renditions", data=data, image_format="png")
    return rendition_create(
        version=version,
        spec=f"placement:{slug}",
        blob=blob,
        width=32,
        height=32,
        image_format="png",
        placement_slug=slug,
    )


def test_the_asset_page_shows_verdicts_cost_and_audit_events_of_its_versions(alice, bob):
    from django.db import transaction
    from django.utils import timezone

    from dam.services.assets import asset_create
    from governance.services.ledger import ledger_charge_response
    from tenants.audit import Actor, audit

    asset = asset_create(tenant=alice.tenant, title="governed", source="generated")
    blob = blob_put(tenant_id=alice.tenant.pk, kind="originals", data=png_bytes(), image_format="png")
    verdict = {
        "stage": "output",
        "target": "output 0",
        "decision": "flag",
        "backend": "local",
        "categories": {"violence": {"severity": 2, "threshold": 4, "blocked": False}},
        "blocklist_matches": [{"item_id": "bl-1", "field": "prompt", "text": "secret-term"}],
        "reasons": ["not analysed by an image classifier"],
    }
    version = asset_version_create(
        asset=asset,
        blob=blob,
        width=64,
        height=48,
        image_format="png",
        job_id=991,
        provider_request_id="req-governed",
        usage={"output_tokens": 272},
        safety_verdicts=[verdict],
        safety_config_version=3,
    )
    usage = {"text_input_tokens": 100, "image_input_tokens": 0, "output_tokens": 272, "total_tokens": 372}
    ledger_charge_response(
        tenant=alice.tenant, job_id=991, provider_request_id="req-governed", usage=usage, occurred_at=timezone.now()
    )
    with transaction.atomic():
        audit(
            tenant=alice.tenant,
            actor=Actor.for_user(alice.user),
            action="asset.reviewed",
            target=("asset_version", version.pk),
            payload={},
        )
    page = signed_in(alice.user).get(f"/admin/dam/asset/{asset.pk}/change/").content.decode()
    assert "Flag" in page and "violence 2/4" in page and "safety configuration v3" in page
    assert "prompt: secret-term" in page  # admins may see blocklist terms
    assert "Cost of this version" in page and "$0.00" in page
    assert "asset.reviewed" in page and "user:alice" in page

    viewer_page = signed_in(bob.user).get(f"/admin/dam/asset/{asset.pk}/change/").content.decode()
    assert "Flag" in viewer_page and "secret-term" not in viewer_page
    assert "asset.reviewed" not in viewer_page  # the audit trail is for admins, as in the API


def test_the_placement_filter_follows_the_size_plan_not_the_up_front_renditions(alice):
    from dam.services.assets import asset_create

    def generated(title: str, planned: str):
        asset = asset_create(tenant=alice.tenant, title=title, source="generated")
        blob = blob_put(tenant_id=alice.tenant.pk, kind="originals", data=png_bytes(), image_format="png")
        plan = {"size": {"width": 64, "height": 48}, "placements": [{"slug": planned}]}
        asset_version_create(asset=asset, blob=blob, width=64, height=48, image_format="png", size_plan=plan)
        for slug in ("leaderboard", "story"):  # every placement is rendered up front
            _rendition(asset, slug=slug)
        return asset

    generated("Banner", "leaderboard")
    generated("Story", "story")
    uploaded = make_asset(alice.tenant, title="Upload")
    _rendition(uploaded, slug="leaderboard")
    page = signed_in(alice.user).get("/admin/dam/asset/", {"placement": "leaderboard"}).content.decode()
    assert "Banner" in page and "Upload" in page and "Story" not in page


def test_an_editor_uploads_through_the_upload_service_and_a_viewer_cannot(alice, bob):
    from django.core.files.uploadedfile import SimpleUploadedFile

    from dam.models import Asset
    from governance.models import AuditEvent

    def image(name: str, data: bytes | None = None) -> SimpleUploadedFile:
        return SimpleUploadedFile(name, data if data is not None else png_bytes(40, 30), content_type="image/png")

    assert signed_in(bob.user).post("/admin/dam/asset/upload/", {"files": [image("a.png")]}).status_code == 403
    assert not Asset.objects.for_tenant(alice.tenant).exists()

    client = signed_in(alice.user)
    refused = client.post("/admin/dam/asset/upload/", {"files": [image("notes.png", b"just text")]})
    assert refused.status_code == 400 and "Refused" in refused.content.decode()
    assert not Asset.objects.for_tenant(alice.tenant).exists()

    response = client.post("/admin/dam/asset/upload/", {"files": [image("Beach shot.png")], "tags": "summer, beach"})
    asset = Asset.objects.for_tenant(alice.tenant).get()
    assert response.status_code == 302 and response["Location"] == f"/admin/dam/asset/{asset.pk}/change/"
    assert (asset.title, asset.source, asset.tags) == ("Beach shot", "uploaded", ["summer", "beach"])
    assert asset.current_version.created_by == alice.user
    uploaded = AuditEvent.objects.for_tenant(alice.tenant).get(action="asset.uploaded")
    assert uploaded.actor_label == "user:alice"
    again = client.post("/admin/dam/asset/upload/", {"files": [image("copy.png")]})
    assert again["Location"] == response["Location"]  # the same bytes are the same asset


def test_the_grid_costs_the_same_queries_for_many_assets_as_for_few(alice):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    client = signed_in(alice.user)
    client.get("/admin/dam/asset/")  # session and caches warm

    def queries() -> int:
        with CaptureQueriesContext(connection) as captured:
            assert client.get("/admin/dam/asset/").status_code == 200
        return len(captured)

    for index in range(2):
        make_asset(alice.tenant, title=f"few {index}")
    few = queries()
    for index in range(10):
        make_asset(alice.tenant, title=f"many {index}", colour=(index, 10, 10))
    assert queries() == few


# --- bulk work and metadata editing (issue 17) ------------------------------------------------------


def _messages(response) -> list[str]:
    return [str(m) for m in response.context["messages"]] if response.context else []


def test_the_bulk_bar_offers_what_each_role_may_do(alice, bob):
    from tenants.models import Role
    from tests.support.actors import make_persona

    make_asset(alice.tenant, title="Pickable")
    editor = signed_in(alice.user).get("/admin/dam/asset/").content.decode()
    assert 'form="bulk-form"' in editor and 'id="bulk-form"' in editor
    assert 'value="tag"' in editor and 'value="approve"' in editor and "data-bulk-download" in editor
    reviewer = signed_in(bob.user).get("/admin/dam/asset/").content.decode()
    assert 'value="approve"' in reviewer and 'value="tag"' not in reviewer
    viewer = make_persona("vera", tenant=alice.tenant, role=Role.VIEWER)
    page = signed_in(viewer.user).get("/admin/dam/asset/").content.decode()
    assert "Pickable" in page and "data-bulk-verb" not in page and "data-bulk-download" in page


def test_bulk_approve_decides_current_versions_and_lists_four_eyes_skips(alice, bob):
    from dam.lifecycle import VersionStatus
    from tests.factories import make_version

    theirs = make_version(alice.tenant, title="Requested by alice", created_by=alice.user)
    other = make_version(alice.tenant, title="Requested by someone else")
    response = signed_in(alice.user).post(
        "/admin/dam/asset/bulk/", {"action": "approve", "ids": [theirs.asset_id, other.asset_id]}, follow=True
    )
    said = " | ".join(_messages(response))
    assert "Approved 1 version" in said and "Requested by alice v1" in said and "another reviewer" in said
    theirs.refresh_from_db()
    other.refresh_from_db()
    assert (theirs.status, other.status) == (VersionStatus.NEEDS_REVIEW, VersionStatus.APPROVED)
    refused = signed_in(bob.user).post(
        "/admin/dam/asset/bulk/", {"action": "reject", "ids": [theirs.asset_id], "comment": ""}, follow=True
    )
    assert any(m.startswith("Nothing decided:") for m in _messages(refused))
    rejected = signed_in(bob.user).post(
        "/admin/dam/asset/bulk/", {"action": "reject", "ids": [theirs.asset_id], "comment": "off brand"}, follow=True
    )
    assert "Rejected 1 version" in " ".join(_messages(rejected))
    assert (
        signed_in(bob.user).post("/admin/dam/asset/bulk/", {"action": "tag", "tags": "x", "ids": [1]}).status_code
        == 403
    )


def test_bulk_tag_by_ids_reports_done_and_skipped_with_reasons(alice):
    from dam.services.metadata import asset_update
    from governance.models import AuditEvent

    one, two = make_asset(alice.tenant, title="One"), make_asset(alice.tenant, title="Two")
    asset_update(asset=two, tags=["summer"])
    response = signed_in(alice.user).post(
        "/admin/dam/asset/bulk/",
        {"action": "tag", "tags": "Summer", "ids": [one.pk, two.pk], "next": "/admin/dam/asset/?tag=summer"},
        follow=True,
    )
    assert response.redirect_chain[-1][0] == "/admin/dam/asset/?tag=summer"
    said = _messages(response)
    assert "Tagged 1 asset with summer." in said
    assert f"Skipped 1 (already tagged summer): #{two.pk} Two" in said
    one.refresh_from_db()
    assert one.tags == ["summer"]
    assert AuditEvent.objects.for_tenant(alice.tenant).filter(action="asset.updated", target_id=str(one.pk)).exists()


def test_bulk_select_all_matching_the_filter_covers_every_page(alice):
    from dam.models import Asset
    from dam.services.assets import asset_create
    from dam.services.metadata import collection_create

    for i in range(52):  # more than a page (48)
        asset_create(tenant=alice.tenant, title=f"ja {i}", source="uploaded", locale="ja-JP")
    asset_create(tenant=alice.tenant, title="en", source="uploaded", locale="en-US")
    japan = collection_create(tenant=alice.tenant, slug="japan", name="Japan")
    client = signed_in(alice.user)
    grid = client.get("/admin/dam/asset/", {"locale": "ja-JP"}).content.decode()
    assert "Select all 52 matching" in grid
    response = client.post(
        "/admin/dam/asset/bulk/",
        {"action": "move", "to_collection": "japan", "all": "1", "filters": "locale=ja-JP&p=2"},
        follow=True,
    )
    assert "Moved 52 assets to Japan." in _messages(response)
    assert Asset.objects.for_tenant(alice.tenant).filter(collection=japan).count() == 52
    assert Asset.objects.for_tenant(alice.tenant).get(title="en").collection_id is None


def test_bulk_is_for_editors_of_the_tenant_and_never_crosses_it(alice, bob, charlie):
    asset = make_asset(alice.tenant, title="Alice's")
    body = {"action": "tag", "tags": "x", "ids": [asset.pk]}
    assert signed_in(bob.user).post("/admin/dam/asset/bulk/", body).status_code == 403
    response = signed_in(charlie.user).post("/admin/dam/asset/bulk/", body, follow=True)
    assert f"Skipped 1 (not found): #{asset.pk}" in _messages(response)
    asset.refresh_from_db()
    assert asset.tags == []
    refused = signed_in(alice.user).post(
        "/admin/dam/asset/bulk/", {"action": "tag", "tags": "", "ids": [asset.pk]}, follow=True
    )
    assert any(m.startswith("Nothing changed: tags") for m in _messages(refused))


def test_bulk_publish_window(alice):
    from dam.models import PublishWindow

    asset = make_asset(alice.tenant)
    response = signed_in(alice.user).post(
        "/admin/dam/asset/bulk/",
        {"action": "publish_window", "ids": [asset.pk], "available_from": "2030-01-01T09:00", "available_until": ""},
        follow=True,
    )
    assert "Set the publish window of 1 asset." in _messages(response)
    window = PublishWindow.objects.for_tenant(alice.tenant).get()
    assert window.version_id == current(asset).pk and window.available_until is None


def test_the_asset_page_edits_details_alt_text_window_and_focal_point_through_the_services(alice):
    from dam.models import PublishWindow
    from dam.services.metadata import collection_create
    from governance.models import AuditEvent

    collection_create(tenant=alice.tenant, slug="summer", name="Summer")
    asset = make_asset(alice.tenant, title="Old title")
    version = current(asset)
    client = signed_in(alice.user)
    page = client.get(f"/admin/dam/asset/{asset.pk}/change/").content.decode()
    assert 'id="edit-title"' in page and "data-focal-picker" in page
    url = f"/admin/dam/asset/{asset.pk}/edit/"
    client.post(url, {"part": "details", "title": "New title", "tags": "a, B", "collection": "summer"})
    client.post(url, {"part": "alt_text", "v": 1, "alt_locale": ["de-DE"], "alt_text": ["Ein Schuh"]})
    client.post(url, {"part": "focal_point", "v": 1, "focal_x": "0.25", "focal_y": "0.75"})
    client.post(
        url,
        {"part": "publish_window", "v": 1, "available_from": "2030-01-01T00:00", "available_until": "2030-02-01T00:00"},
    )
    asset.refresh_from_db()
    version.refresh_from_db()
    assert (asset.title, asset.tags, asset.collection.slug) == ("New title", ["a", "b"], "summer")
    assert version.alt_text == {"de-DE": "Ein Schuh"}
    assert (version.focal_x, version.focal_y) == (0.25, 0.75)
    assert PublishWindow.objects.for_tenant(alice.tenant).get().version_id == version.pk
    actions = set(AuditEvent.objects.for_tenant(alice.tenant).values_list("action", flat=True))
    assert {"asset.updated", "version.metadata_updated", "publish_window.set"} <= actions
    # The page shows what was saved, and an emptied alt text removes its market.
    page = client.get(f"/admin/dam/asset/{asset.pk}/change/").content.decode()
    assert "Ein Schuh" in page and "set at 0.25, 0.75" in page
    client.post(url, {"part": "alt_text", "v": 1, "alt_locale": ["de-DE"], "alt_text": [""]})
    version.refresh_from_db()
    assert version.alt_text == {}


def test_a_refused_edit_is_a_message_and_changes_nothing(alice, bob, charlie):
    asset = make_asset(alice.tenant, title="Keep")
    url = f"/admin/dam/asset/{asset.pk}/edit/"
    refused = signed_in(alice.user).post(url, {"part": "details", "title": "  ", "tags": ""}, follow=True)
    assert any(m.startswith("Not saved: title") for m in _messages(refused))
    bad_point = signed_in(alice.user).post(url, {"part": "focal_point", "focal_x": "2", "focal_y": "0"}, follow=True)
    assert any(m.startswith("Not saved: focal point") for m in _messages(bad_point))
    assert signed_in(bob.user).post(url, {"part": "details", "title": "x"}).status_code == 403
    assert signed_in(charlie.user).post(url, {"part": "details", "title": "x"}).status_code == 404
    asset.refresh_from_db()
    assert asset.title == "Keep"
    reviewer_page = signed_in(bob.user).get(f"/admin/dam/asset/{asset.pk}/change/").content.decode()
    assert 'id="edit-title"' not in reviewer_page


def test_the_grid_searches_and_sorts_like_the_api(alice):
    from dam.models import Asset
    from dam.services.assets import asset_create
    from dam.services.metadata import version_metadata_update

    boot = make_asset(alice.tenant, title="Zebra boot")
    make_asset(alice.tenant, title="Alpine jacket")
    version_metadata_update(version=current(boot), alt_text={"de-DE": "Wanderstiefel"})
    campaign = asset_create(tenant=alice.tenant, title="Campaign cell", source="generated")
    Asset.objects.for_tenant(alice.tenant).filter(pk=campaign.pk).update(campaign_id=7, placements=["story"])
    client = signed_in(alice.user)

    def order(**params) -> list[str]:
        page = client.get("/admin/dam/asset/", params).content.decode()
        found = [(page.find(f">{t}<"), t) for t in ("Zebra boot", "Alpine jacket", "Campaign cell")]
        return [t for at, t in sorted(found) if at >= 0]

    assert order(q="wanderstiefel") == ["Zebra boot"]  # alt text, through the API's full-text search
    assert order(sort="name") == ["Alpine jacket", "Campaign cell", "Zebra boot"]
    assert order(sort="oldest") == ["Zebra boot", "Alpine jacket", "Campaign cell"]
    assert order() == ["Campaign cell", "Alpine jacket", "Zebra boot"]
    assert order(campaign="7") == ["Campaign cell"]
    assert order(placement="story") == ["Campaign cell"]
    assert order(source="uploaded") == ["Alpine jacket", "Zebra boot"] or order(source="uploaded") == [
        "Zebra boot",
        "Alpine jacket",
    ]
    assert order(q="boot jacket", sort="relevance") == []  # websearch: both words must match
    assert order(q="boot or jacket", sort="relevance")[0] in {"Zebra boot", "Alpine jacket"}
    # A search ranks by relevance unless another order is chosen: the title (weight A) before the alt text (B).
    version_metadata_update(version=current(make_asset(alice.tenant, title="Plain")), alt_text={"en": "zebra print"})
    assert order(q="zebra")[0] == "Zebra boot"
    page = client.get("/admin/dam/asset/", {"q": "zebra"}).content.decode()
    assert '?q=zebra&amp;sort=relevance" selected' in page


def test_the_bulk_bar_archives_and_the_grid_hides_archived_unless_asked(alice, charlie):
    from governance.models import AuditEvent

    one, two = make_asset(alice.tenant, title="Old one"), make_asset(alice.tenant, title="Still here")
    client = signed_in(alice.user)
    grid = client.get("/admin/dam/asset/").content.decode()
    assert 'value="archive"' in grid and 'value="unarchive"' not in grid
    response = client.post(
        "/admin/dam/asset/bulk/", {"action": "archive", "ids": [one.pk], "next": "/admin/dam/asset/"}, follow=True
    )
    assert "Archived 1 asset: out of the lists, still reachable by id." in _messages(response)
    again = client.post("/admin/dam/asset/bulk/", {"action": "archive", "ids": [one.pk]}, follow=True)
    assert f"Skipped 1 (already archived): #{one.pk} Old one" in _messages(again)
    assert AuditEvent.objects.for_tenant(alice.tenant).filter(action="asset.archived").count() == 1

    active = client.get("/admin/dam/asset/").content.decode()
    assert "Still here" in active and "Old one" not in active
    archived = client.get("/admin/dam/asset/", {"archived": "true"}).content.decode()
    assert "Old one" in archived and "Still here" not in archived and 'value="unarchive"' in archived
    both = client.get("/admin/dam/asset/", {"archived": "all"}).content.decode()
    assert "Old one" in both and "Still here" in both

    # The asset page still opens by id, with the badge and Unarchive.
    page = client.get(f"/admin/dam/asset/{one.pk}/change/").content.decode()
    assert "ui-status-archived" in page and 'value="unarchive"' in page
    # Select-all over the archived view unarchives through the same service.
    back = client.post(
        "/admin/dam/asset/bulk/", {"action": "unarchive", "all": "1", "filters": "archived=true"}, follow=True
    )
    assert "Unarchived 1 asset." in _messages(back)
    one.refresh_from_db()
    assert one.archived_at is None
    # Another tenant's editor cannot archive these.
    intruder = signed_in(charlie.user).post(
        "/admin/dam/asset/bulk/", {"action": "archive", "ids": [two.pk]}, follow=True
    )
    assert f"Skipped 1 (not found): #{two.pk}" in _messages(intruder)
    two.refresh_from_db()
    assert two.archived_at is None


def test_the_asset_page_archives_and_unarchives(alice, bob):
    asset = make_asset(alice.tenant, title="Page")
    url = f"/admin/dam/asset/{asset.pk}/edit/"
    page = signed_in(alice.user).get(f"/admin/dam/asset/{asset.pk}/change/").content.decode()
    assert 'value="archive"' in page and "ui-status-archived" not in page
    assert signed_in(bob.user).post(url, {"part": "archive"}).status_code == 403
    done = signed_in(alice.user).post(url, {"part": "archive"}, follow=True)
    assert any(m.startswith("Archived") for m in _messages(done))
    asset.refresh_from_db()
    assert asset.archived_at is not None
    signed_in(alice.user).post(url, {"part": "unarchive"})
    asset.refresh_from_db()
    assert asset.archived_at is None


def test_the_grid_counts_each_assets_versions_and_lists_only_collections_in_use(alice, charlie):
    from dam.services.assets import asset_create, collection_get_or_create

    shoe = make_asset(alice.tenant, title="Trail shoe")
    blob = blob_put(tenant_id=alice.tenant.pk, kind="originals", data=png_bytes(colour=(9, 9, 9)), image_format="png")
    asset_version_create(asset=shoe, blob=blob, width=64, height=48, image_format="png")
    used = collection_get_or_create(tenant=alice.tenant, slug="autumn-drop")
    collection_get_or_create(tenant=alice.tenant, slug="never-used")
    collection_get_or_create(tenant=charlie.tenant, slug="their-drop")
    asset_create(tenant=alice.tenant, title="Tent", source="uploaded", collection=used)
    asset_create(
        tenant=charlie.tenant,
        title="Theirs",
        source="uploaded",
        collection=used.__class__.unscoped.get(slug="their-drop"),
    )
    page = signed_in(alice.user).get("/admin/dam/asset/")
    body = page.content.decode()
    counts = {asset.title: asset.version_count for asset in page.context["cl"].result_list}
    assert counts["Trail shoe"] == 2 and "2 versions" in body
    (collections,) = [spec for spec in page.context["cl"].filter_specs if spec.parameter_name == "collection"]
    assert [slug for slug, _ in collections.lookup_choices] == ["autumn-drop"]  # in use, and this tenant's
    assert "their-drop" not in body
