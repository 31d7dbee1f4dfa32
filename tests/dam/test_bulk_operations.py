"""Bulk operations: a large selection of the library's bulk actions runs in the background with its progress on a
row. The service (validation as in the request, resume after a crash with nothing done or audited twice, a
superseded run stops), the API (200 for a small selection, 202 above BULK_INLINE_MAX, the operation's state),
a real worker end to end, the staff UI's progress and report, and tenant isolation."""

from __future__ import annotations

import datetime as dt
import time

import pytest
from django.core.exceptions import ValidationError
from django.test import Client
from django.urls import reverse

from dam.models import Asset, BulkOperation, PublishWindow
from dam.services import bulk as bulk_services
from dam.services.assets import asset_create
from dam.services.bulk import BulkChange, bulk_operation_run, bulk_operation_start
from dam.services.metadata import asset_update, collection_create
from governance.models.audit import AuditEvent
from tests.factories import make_asset

URL = "/api/v1/assets/bulk"


class WorkerKilled(BaseException):
    """What a SIGKILL looks like from inside the run: nothing after it runs, the open transaction rolls back."""


def _assets(tenant, n: int, *, prefix: str = "a") -> list[Asset]:
    return [asset_create(tenant=tenant, title=f"{prefix} {i}", source="uploaded") for i in range(n)]


def _events(tenant, action: str, **filters) -> list[AuditEvent]:
    return list(AuditEvent.objects.for_tenant(tenant).filter(action=action, **filters).order_by("seq"))


def _per_target(tenant, action: str) -> dict[str, int]:
    counts: dict[str, int] = {}
    for event in _events(tenant, action):
        counts[event.target_id] = counts.get(event.target_id, 0) + 1
    return counts


def _tags(asset: Asset) -> list[str]:
    asset.refresh_from_db()
    return asset.tags


def _row(operation: BulkOperation) -> BulkOperation:
    operation.refresh_from_db()
    return operation


@pytest.fixture
def inline_max(settings):
    """Selections of more than 3 assets go to the background (the default is 100)."""
    settings.BULK_INLINE_MAX = 3
    return 3


# --- The service ----------------------------------------------------------------------------------


class TestService:
    def test_start_stores_the_resolved_ids_and_audits_and_the_run_reports_done_and_skipped(self, alice):
        assets = _assets(alice.tenant, 5)
        asset_update(asset=assets[1], tags=["summer"])
        ids = [a.pk for a in assets] + [999_999, assets[0].pk]  # a repeat is counted once
        operation = bulk_operation_start(
            tenant=alice.tenant,
            asset_ids=ids,
            change=BulkChange(action="tag", tags=["Summer"]),
            requested_by=alice.user,
        )
        assert (operation.state, operation.total, operation.processed) == ("queued", 6, 0)
        assert operation.asset_ids == [a.pk for a in assets] + [999_999]
        assert operation.parameters == {"tags": ["summer"]} and operation.actor["label"] == "user:alice"
        started = _events(alice.tenant, "bulk.started")
        assert [(e.target_id, e.payload["assets"]) for e in started] == [(str(operation.pk), 6)]

        updated_before = len(_events(alice.tenant, "asset.updated"))
        assert bulk_operation_run(operation_id=operation.pk) == "done"
        row = _row(operation)
        assert (row.state, row.processed, row.done_count, row.percent) == ("done", 6, 4, 100)
        assert row.skipped == [
            {"id": assets[1].pk, "title": "a 1", "reason": "already tagged summer"},
            {"id": 999_999, "title": "", "reason": "not found"},
        ]
        assert all(_tags(a) == ["summer"] for a in assets)
        changed = _events(alice.tenant, "asset.updated")[updated_before:]
        # One event per changed asset, in the requester's name (not the worker's).
        assert sorted(int(e.target_id) for e in changed) == sorted(a.pk for a in assets if a.pk != assets[1].pk)
        assert {e.actor_label for e in changed} == {"user:alice"}
        finished = _events(alice.tenant, "bulk.finished")
        assert len(finished) == 1 and finished[0].payload | {"attempts": 1} == {
            "state": "done",
            "action": "tag",
            "total": 6,
            "processed": 6,
            "done": 4,
            "skipped": 2,
            "attempts": 1,
            "error": "",
        }
        # A redelivered message finds it done and does nothing.
        assert bulk_operation_run(operation_id=operation.pk) == "skipped"
        assert len(_events(alice.tenant, "bulk.finished")) == 1

    @pytest.mark.parametrize("action", ["publish_window", "tag"])
    def test_a_run_killed_mid_asset_resumes_and_nothing_is_done_or_audited_twice(self, alice, monkeypatch, action):
        # publish_window_set audits every call, even one that changes nothing: only the progress written in the
        # asset's own transaction keeps a resumed run from doing it again.
        assets = [make_asset(alice.tenant, title=f"v{i}") for i in range(6)]
        start, end = dt.datetime(2030, 1, 1, tzinfo=dt.UTC), dt.datetime(2030, 2, 1, tzinfo=dt.UTC)
        change = (
            BulkChange(action="publish_window", available_from=start, available_until=end)
            if action == "publish_window"
            else BulkChange(action="tag", tags=["sale"])
        )
        audited = "publish_window.set" if action == "publish_window" else "asset.updated"
        before = len(_events(alice.tenant, audited))
        operation = bulk_operation_start(tenant=alice.tenant, asset_ids=[a.pk for a in assets], change=change)
        apply, calls = bulk_services._apply, []

        def killed_on_the_fourth(asset, asset_id, change, who):
            calls.append(asset_id)
            result = apply(asset, asset_id, change, who)  # the change and its audit event are written...
            if len(calls) == 4:
                raise WorkerKilled  # ...and the worker dies before the transaction commits
            return result

        monkeypatch.setattr(bulk_services, "_apply", killed_on_the_fourth)
        with pytest.raises(WorkerKilled):
            bulk_operation_run(operation_id=operation.pk)
        row = _row(operation)
        assert (row.state, row.attempts, row.processed, row.done_count) == ("running", 1, 3, 3)
        assert len(_events(alice.tenant, audited)) == before + 3  # the fourth rolled back with its progress

        # The progress the API shows meanwhile.
        body = alice.client().get(f"/api/v1/bulk-operations/{operation.pk}").json()
        assert (body["state"], body["processed"], body["total"], body["percent"]) == ("running", 3, 6, 50)

        monkeypatch.setattr(bulk_services, "_apply", apply)
        assert bulk_operation_run(operation_id=operation.pk) == "done"
        row = _row(operation)
        assert (row.state, row.attempts, row.processed, row.done_count, row.skipped) == ("done", 2, 6, 6, [])
        events = _events(alice.tenant, audited)[before:]
        targets = [e.target_id for e in events]
        assert len(targets) == len(set(targets)) == 6  # each asset (or version) audited exactly once
        if action == "publish_window":
            assert PublishWindow.objects.for_tenant(alice.tenant).count() == 6
        else:
            assert all(_tags(a) == ["sale"] for a in assets)

    def test_a_superseded_run_stops_without_touching_anything(self, alice):
        assets = _assets(alice.tenant, 3)
        operation = bulk_operation_start(
            tenant=alice.tenant, asset_ids=[a.pk for a in assets], change=BulkChange(action="tag", tags=["x"])
        )
        stale, attempt = bulk_services._claim(operation.pk)  # a run that stalled after claiming
        assert bulk_operation_run(operation_id=operation.pk) == "done"  # the redelivered message's run
        updates = len(_events(alice.tenant, "asset.updated"))
        Asset.objects.for_tenant(alice.tenant).filter(pk=assets[0].pk).update(tags=[])
        who = {"actor": None, "origin": None}
        with pytest.raises(bulk_services.Superseded):
            bulk_services._work_through(
                stale, attempt, BulkChange(action="tag", tags=["x"]), who, time.monotonic() + 60
            )
        assert _tags(assets[0]) == [] and len(_events(alice.tenant, "asset.updated")) == updates

    def test_long_runs_of_skips_are_written_every_few_hundred_not_lost(self, alice, monkeypatch):
        monkeypatch.setattr(bulk_services, "SKIP_FLUSH", 2)
        assets = _assets(alice.tenant, 5)
        for asset in assets[:4]:
            asset_update(asset=asset, tags=["x"])
        operation = bulk_operation_start(
            tenant=alice.tenant, asset_ids=[a.pk for a in assets], change=BulkChange(action="tag", tags=["x"])
        )
        apply, seen = bulk_services._apply, []

        def observed(asset, asset_id, change, who):
            seen.append(BulkOperation.unscoped.values_list("processed", flat=True).get(pk=operation.pk))
            return apply(asset, asset_id, change, who)

        monkeypatch.setattr(bulk_services, "_apply", observed)
        assert bulk_operation_run(operation_id=operation.pk) == "done"
        assert seen == [0, 0, 2, 2, 4]
        row = _row(operation)
        assert [s["id"] for s in row.skipped] == [a.pk for a in assets[:4]] and row.done_count == 1

    def test_refusals_store_nothing(self, alice, charlie, settings):
        settings.BULK_OPERATION_MAX_ASSETS = 3
        asset = make_asset(alice.tenant)
        theirs = collection_create(tenant=charlie.tenant, slug="theirs")
        with pytest.raises(ValidationError) as refused:
            bulk_operation_start(
                tenant=alice.tenant, asset_ids=[asset.pk], change=BulkChange(action="move", collection=theirs)
            )
        assert "collection" in refused.value.message_dict
        with pytest.raises(ValidationError) as refused:
            bulk_operation_start(tenant=alice.tenant, asset_ids=[1, 2, 3, 4], change=BulkChange(action="archive"))
        assert refused.value.message_dict == {"ids": ["at most 3 assets at once"]}
        with pytest.raises(ValidationError):
            bulk_operation_start(tenant=alice.tenant, asset_ids=[], change=BulkChange(action="archive"))
        assert not BulkOperation.objects.for_tenant(alice.tenant).exists() and not _events(alice.tenant, "bulk.started")

    def test_a_collection_deleted_before_the_run_fails_the_operation_saying_so(self, alice):
        summer = collection_create(tenant=alice.tenant, slug="summer")
        assets = _assets(alice.tenant, 2)
        operation = bulk_operation_start(
            tenant=alice.tenant, asset_ids=[a.pk for a in assets], change=BulkChange(action="move", collection=summer)
        )
        summer.delete()
        assert bulk_operation_run(operation_id=operation.pk) == "failed"
        row = _row(operation)
        assert row.state == "failed" and "summer" in row.error and row.processed == 0
        assert _events(alice.tenant, "bulk.finished")[0].payload["state"] == "failed"

    def test_the_time_limit_fails_the_operation_keeping_what_was_done(self, alice):
        assets = _assets(alice.tenant, 2)
        operation = bulk_operation_start(
            tenant=alice.tenant, asset_ids=[a.pk for a in assets], change=BulkChange(action="archive")
        )
        assert bulk_operation_run(operation_id=operation.pk, time_limit_seconds=-1) == "failed"
        assert "time limit after 0 of 2" in _row(operation).error


# --- The API --------------------------------------------------------------------------------------


class TestApi:
    def test_a_small_selection_answers_200_with_the_report_a_large_one_202_with_the_operation(self, alice, inline_max):
        small, large = _assets(alice.tenant, 3, prefix="s"), _assets(alice.tenant, 4, prefix="l")
        api = alice.client()
        inline = api.post(URL, {"action": "tag", "ids": [a.pk for a in small], "tags": ["x"]}, format="json")
        assert inline.status_code == 200 and sorted(inline.json()["done"]) == sorted(a.pk for a in small)
        assert not BulkOperation.objects.for_tenant(alice.tenant).exists()

        started = time.perf_counter()
        accepted = api.post(URL, {"action": "tag", "ids": [a.pk for a in large], "tags": ["x"]}, format="json")
        assert accepted.status_code == 202, accepted.content
        body = accepted.json()
        operation = BulkOperation.objects.for_tenant(alice.tenant).get()
        assert accepted["Location"] == f"/api/v1/bulk-operations/{operation.pk}" == body["status_url"]
        assert body["id"] == operation.pk and body["state"] == "queued" and body["matched"] == 4
        assert (body["total"], body["processed"], body["done"], body["percent"], body["skipped"]) == (4, 0, 0, 0, [])
        assert time.perf_counter() - started < 2  # nothing done in the request (the bench measures it closely)
        assert all(_tags(a) == [] for a in large)  # the worker does it

        bulk_operation_run(operation_id=operation.pk)
        done = api.get(f"/api/v1/bulk-operations/{operation.pk}").json()
        assert (done["state"], done["done"], done["percent"]) == ("done", 4, 100) and done["finished_at"]
        assert done["action"] == "tag" and done["parameters"] == {"tags": ["x"]}
        listed = api.get("/api/v1/bulk-operations").json()["results"]
        assert [row["id"] for row in listed] == [operation.pk] and "asset_ids" not in listed[0]

    def test_a_filter_matching_more_than_the_inline_maximum_runs_in_the_background(self, alice, inline_max):
        ja = [asset_create(tenant=alice.tenant, title=f"ja {i}", source="uploaded", locale="ja-JP") for i in range(5)]
        asset_create(tenant=alice.tenant, title="en", source="uploaded", locale="en-US")
        response = alice.client().post(URL, {"action": "archive", "filter": {"locale": "ja-JP"}}, format="json")
        assert response.status_code == 202 and response.json()["matched"] == 5
        operation = BulkOperation.objects.for_tenant(alice.tenant).get()
        assert sorted(operation.asset_ids) == sorted(a.pk for a in ja)

    def test_over_the_operation_maximum_is_a_400_naming_the_selection(self, alice, inline_max, settings):
        settings.BULK_OPERATION_MAX_ASSETS = 4
        _assets(alice.tenant, 5)
        by_filter = alice.client().post(URL, {"action": "archive", "filter": {}}, format="json")
        assert by_filter.status_code == 400 and "filter" in str(by_filter.json())
        by_ids = alice.client().post(URL, {"action": "archive", "ids": [1, 2, 3, 4, 5]}, format="json")
        assert by_ids.status_code == 400 and "ids" in str(by_ids.json())
        assert not BulkOperation.objects.for_tenant(alice.tenant).exists()

    def test_the_operations_are_the_tenants_own_and_need_the_bulk_scope(self, alice, bob, charlie, inline_max):
        assets = _assets(alice.tenant, 4)
        accepted = alice.client().post(URL, {"action": "archive", "ids": [a.pk for a in assets]}, format="json")
        operation_id = accepted.json()["id"]
        assert charlie.client().get(f"/api/v1/bulk-operations/{operation_id}").status_code == 404
        assert charlie.client().get("/api/v1/bulk-operations").json()["results"] == []
        assert bob.client().get(f"/api/v1/bulk-operations/{operation_id}").status_code == 403
        assert (
            bob.client().post(URL, {"action": "archive", "ids": [a.pk for a in assets]}, format="json").status_code
            == 403
        )
        assert BulkOperation.objects.for_tenant(alice.tenant).count() == 1

    def test_the_schema_documents_202_and_the_operations(self, alice):
        schema = alice.client().get("/api/schema/", {"format": "json"}).json()
        bulk = schema["paths"]["/api/v1/assets/bulk"]["post"]["responses"]
        assert "AssetBulkResult" in str(bulk["200"]) and "BulkOperation" in str(bulk["202"])
        assert "Location" in str(bulk["202"])
        assert "get" in schema["paths"]["/api/v1/bulk-operations/{id}"]
        assert "get" in schema["paths"]["/api/v1/bulk-operations"]


# --- A real worker --------------------------------------------------------------------------------


def test_a_worker_runs_an_operation_end_to_end(celery_worker, alice, settings):
    settings.BULK_INLINE_MAX = 5
    assets = _assets(alice.tenant, 30)
    asset_update(asset=assets[7], tags=["summer"])
    api = alice.client()
    accepted = api.post(URL, {"action": "tag", "ids": [a.pk for a in assets], "tags": ["summer"]}, format="json")
    assert accepted.status_code == 202, accepted.content
    seen = []
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        body = api.get(accepted["Location"]).json()
        seen.append(body)
        if body["state"] in ("done", "failed"):
            break
        time.sleep(0.05)
    final = seen[-1]
    assert (final["state"], final["done"], final["processed"]) == ("done", 29, 30), final
    assert final["skipped"] == [{"id": assets[7].pk, "title": "a 7", "reason": "already tagged summer"}]
    assert all(_tags(a) == ["summer"] for a in assets)
    updates = _per_target(alice.tenant, "asset.updated")
    assert all(updates[str(a.pk)] == 1 for a in assets)
    assert [e.action for e in _events(alice.tenant, "bulk.finished")] == ["bulk.finished"]


# --- The staff UI ---------------------------------------------------------------------------------


def _signed_in(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def test_the_bulk_bar_starts_an_operation_for_a_large_selection_and_shows_its_progress_then_its_report(
    alice, inline_max
):
    assets = _assets(alice.tenant, 5)
    asset_update(asset=assets[2], tags=["summer"])
    client = _signed_in(alice.user)
    small = client.post(
        reverse("admin:dam_asset_bulk"), {"action": "tag", "tags": "summer", "ids": [assets[0].pk]}, follow=True
    )
    assert "Tagged 1 asset with summer." in small.content.decode()
    assert not BulkOperation.objects.for_tenant(alice.tenant).exists()

    posted = client.post(
        reverse("admin:dam_asset_bulk"),
        {"action": "tag", "tags": "summer", "all": "1", "filters": "", "next": "/admin/dam/asset/"},
    )
    operation = BulkOperation.objects.for_tenant(alice.tenant).get()
    page_url = reverse("admin:dam_asset_bulk_operation", args=[operation.pk])
    assert posted.status_code == 302 and posted["Location"] == page_url
    assert operation.total == 5 and operation.requested_by == alice.user

    page = client.get(page_url).content.decode()
    progress_url = reverse("admin:dam_asset_bulk_operation_progress", args=[operation.pk])
    assert f'hx-get="{progress_url}"' in page and "0 of 5" in page and "style=" not in page
    assert "<script>" not in page

    bulk_operation_run(operation_id=operation.pk)
    row = client.get(progress_url).content.decode()
    # Finished: no more polling, the report instead.
    assert "hx-get" not in row and "5 of 5" in row and "3 changed" in row
    assert f"#{assets[0].pk} a 0" in row and f"#{assets[2].pk} a 2" in row and "already tagged summer" in row

    listing = client.get(reverse("admin:dam_asset_bulk_operations")).content.decode()
    assert page_url in listing and "Add tags summer" in listing
    browser = client.get(reverse("admin:dam_asset_changelist")).content.decode()
    assert reverse("admin:dam_asset_bulk_operations") in browser


def test_another_tenants_operation_is_a_404_in_the_staff_ui_and_a_reader_cannot_start_one(
    alice, bob, charlie, inline_max
):
    assets = _assets(alice.tenant, 4)
    operation = bulk_operation_start(
        tenant=alice.tenant, asset_ids=[a.pk for a in assets], change=BulkChange(action="archive")
    )
    other = _signed_in(charlie.user)
    assert other.get(reverse("admin:dam_asset_bulk_operation", args=[operation.pk])).status_code == 404
    assert other.get(reverse("admin:dam_asset_bulk_operation_progress", args=[operation.pk])).status_code == 404
    listing = other.get(reverse("admin:dam_asset_bulk_operations")).content.decode()
    assert reverse("admin:dam_asset_bulk_operation", args=[operation.pk]) not in listing
    reader = _signed_in(bob.user)
    refused = reader.post(reverse("admin:dam_asset_bulk"), {"action": "archive", "ids": [a.pk for a in assets]})
    assert refused.status_code == 403 and BulkOperation.objects.for_tenant(alice.tenant).count() == 1
