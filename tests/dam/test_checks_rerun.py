"""Checking a version again (`version_checks_rerun`): after the checker failed, or to read the copy again. From the
service, the API (one version, and in bulk) and the asset page; the run itself is the checks service's, on real
emulator renders read by Tesseract, and once end to end through a real worker."""

from __future__ import annotations

import threading
import time

import pytest
from django.db import connection
from django.test import Client

from dam.lifecycle import VersionStatus
from dam.models import AssetVersion, ChecksState, VersionCheck
from dam.services.checks import (
    version_checks_failed,
    version_checks_measure,
    version_checks_record,
    version_checks_rerun,
    version_checks_run,
)
from governance.models import AuditEvent
from tenants.audit import Actor
from tenants.errors import Conflict
from tenants.models import Scope
from tests.support.actors import key_holder
from tests.support.checks import make_version, run_checks_on_render

pytestmark = pytest.mark.django_db

ACTOR = Actor.system("test")


def _rows(version: AssetVersion) -> list[VersionCheck]:
    return list(VersionCheck.objects.for_tenant(version.tenant_id).filter(version=version).order_by("kind", "pk"))


def _state(version: AssetVersion, **fields) -> AssetVersion:
    AssetVersion.objects.for_tenant(version.tenant_id).filter(pk=version.pk).update(**fields)
    version.refresh_from_db()
    return version


def test_a_failed_check_runs_again_and_its_rows_replace_the_old_ones(alice, django_capture_on_commit_callbacks):
    version = run_checks_on_render(alice.tenant)
    before = _rows(version)
    assert before and version.checks_summary["copy"]["verdict"] == "exact"
    _state(version, checks_state=ChecksState.FAILED)  # as `version_checks_failed` leaves it

    with django_capture_on_commit_callbacks() as queued:
        version_checks_rerun(version=version, actor=ACTOR)
    assert len(queued) == 1  # the check task, once the request commits
    version.refresh_from_db()
    assert version.checks_state == ChecksState.PENDING and not version.approve_when_checked
    event = AuditEvent.objects.for_tenant(alice.tenant).get(action="version.checks_requested")
    assert event.payload["previous"] == "failed" and event.target_id == str(version.pk)

    assert version_checks_run(version_id=version.pk) == "done"
    version.refresh_from_db()
    after = _rows(version)
    assert version.checks_state == ChecksState.DONE
    # Replaced, not added to: one row per check, none of the old ones left.
    assert sorted(r.kind for r in after) == sorted(r.kind for r in before)
    assert not {r.pk for r in after} & {r.pk for r in before}


def test_a_run_again_refuses_a_version_being_checked_a_blocked_one_and_one_with_nothing_to_check(alice):
    version = run_checks_on_render(alice.tenant)
    _state(version, checks_state=ChecksState.PENDING)
    with pytest.raises(Conflict) as running:
        version_checks_rerun(version=version, actor=ACTOR)
    assert running.value.code == "checks_pending"

    _state(version, checks_state=ChecksState.DONE, status=VersionStatus.BLOCKED)
    with pytest.raises(Conflict) as blocked:
        version_checks_rerun(version=version, actor=ACTOR)
    assert blocked.value.code == "version_blocked"

    plain = make_version(alice.tenant, title="no copy")  # no expected copy, a brand without palette or logo
    with pytest.raises(Conflict) as nothing:
        version_checks_rerun(version=plain, actor=ACTOR)
    assert nothing.value.code == "nothing_to_check"
    assert not AuditEvent.objects.for_tenant(alice.tenant).filter(action="version.checks_requested").exists()
    assert AssetVersion.unscoped.get(pk=version.pk).checks_state == ChecksState.DONE


@pytest.mark.parametrize(
    ("status", "after"),
    [
        (VersionStatus.NEEDS_REVIEW, VersionStatus.BLOCKED),  # still waiting for a person: the policy applies
        (VersionStatus.APPROVED, VersionStatus.APPROVED),  # served: reported, never withdrawn by a re-check
        (VersionStatus.PUBLISHED, VersionStatus.PUBLISHED),
    ],
)
def test_a_mismatch_found_again_blocks_only_a_version_in_review(alice, status, after):
    version = run_checks_on_render(alice.tenant, policy={"copy_mismatch_action": "block"})
    # The render says "Summer sale"; the version now expects other copy: a mismatch when read again.
    _state(version, status=status, expected_copy="Winter coats, warm and bright")
    version_checks_rerun(version=version, actor=ACTOR)
    assert version_checks_run(version_id=version.pk) == "done"
    version.refresh_from_db()
    assert version.checks_summary["copy"]["verdict"] == "mismatch"
    assert version.status == after
    assert not version.approve_when_checked


def test_a_run_again_never_approves_by_itself(alice):
    version = run_checks_on_render(alice.tenant)
    _state(version, status=VersionStatus.NEEDS_REVIEW, approve_when_checked=True, checks_state=ChecksState.FAILED)
    version_checks_rerun(version=version, actor=ACTOR)
    assert version_checks_run(version_id=version.pk) == "done"
    version.refresh_from_db()
    assert version.checks_summary["copy"]["verdict"] == "exact"
    assert version.status == VersionStatus.NEEDS_REVIEW  # a person decides


@pytest.mark.django_db(transaction=True)
def test_ten_concurrent_requests_to_check_again_start_one_run(alice, monkeypatch):
    version = run_checks_on_render(alice.tenant)
    queued: list[int] = []
    monkeypatch.setattr("dam.services.checks.version_checks_enqueue", lambda *, version_id: queued.append(version_id))
    barrier = threading.Barrier(10)
    outcomes: list[str] = []

    def request() -> None:
        try:
            barrier.wait(timeout=30)
            mine = AssetVersion.objects.for_tenant(alice.tenant).get(pk=version.pk)
            version_checks_rerun(version=mine, actor=ACTOR)
            outcomes.append("started")
        except Conflict as refused:
            outcomes.append(refused.code)
        finally:
            connection.close()

    connection.close()
    threads = [threading.Thread(target=request) for _ in range(10)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert sorted(outcomes) == ["checks_pending"] * 9 + ["started"]
    assert queued == [version.pk]
    assert AuditEvent.objects.for_tenant(alice.tenant).filter(action="version.checks_requested").count() == 1


# --- the API ------------------------------------------------------------------------------------------------


def _checks_url(version: AssetVersion) -> str:
    return f"/api/v1/assets/{version.asset_id}/versions/{version.number}/checks"


def test_the_api_checks_a_version_again_with_assets_write(alice):
    version = run_checks_on_render(alice.tenant)
    response = alice.client().post(_checks_url(version))
    assert response.status_code == 202, response.content
    assert response.json() == {"state": "pending"}
    assert AssetVersion.unscoped.get(pk=version.pk).checks_state == ChecksState.PENDING
    again = alice.client().post(_checks_url(version))
    assert again.status_code == 409 and again.json()["code"] == "checks_pending", again.content


def test_the_api_refuses_a_reader_and_another_tenant_changes_nothing(alice, charlie):
    version = run_checks_on_render(alice.tenant)
    reader = key_holder(alice.tenant, Scope.ASSETS_READ, name="storefront")
    assert reader.client().post(_checks_url(version)).status_code == 403
    assert charlie.client().post(_checks_url(version)).status_code == 404  # tenant B's admin: no such version
    version.refresh_from_db()
    assert version.checks_state == ChecksState.DONE
    assert not AuditEvent.unscoped.filter(action="version.checks_requested").exists()


def test_bulk_recheck_runs_each_current_version_again_and_says_why_it_skipped_others(alice):
    checked = run_checks_on_render(alice.tenant)
    running = _state(run_checks_on_render(alice.tenant), checks_state=ChecksState.PENDING)
    plain = make_version(alice.tenant, title="no copy")
    ids = [checked.asset_id, running.asset_id, plain.asset_id]
    response = alice.client().post("/api/v1/assets/bulk", {"action": "recheck", "ids": ids}, format="json")
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["done"] == [checked.asset_id]
    reasons = {row["id"]: row["reason"] for row in body["skipped"]}
    assert reasons[running.asset_id].startswith("its checks are running")
    assert reasons[plain.asset_id].startswith("nothing to check")
    assert AssetVersion.unscoped.get(pk=checked.pk).checks_state == ChecksState.PENDING


# --- the asset page -------------------------------------------------------------------------------------------


def test_the_asset_page_offers_check_again_and_runs_it(alice, bob):
    version = run_checks_on_render(alice.tenant)
    page = f"/admin/dam/asset/{version.asset_id}/change/"
    client = Client()
    client.force_login(alice.user)
    assert "data-recheck" in client.get(page).content.decode()
    response = client.post(f"/admin/dam/asset/{version.asset_id}/edit/", {"part": "recheck", "v": version.number})
    assert response.status_code == 302
    assert AssetVersion.unscoped.get(pk=version.pk).checks_state == ChecksState.PENDING
    after = client.get(page).content.decode()
    assert "Checking v1 again" in after and "data-recheck" not in after  # not while they run

    reviewer = Client()
    reviewer.force_login(bob.user)  # reviews, cannot edit the library: no button, and the post is refused
    _state(version, checks_state=ChecksState.DONE)
    assert "data-recheck" not in reviewer.get(page).content.decode()
    reviewer.post(f"/admin/dam/asset/{version.asset_id}/edit/", {"part": "recheck", "v": version.number})
    assert AssetVersion.unscoped.get(pk=version.pk).checks_state == ChecksState.DONE


# --- end to end ------------------------------------------------------------------------------------------------


@pytest.mark.integration
@pytest.mark.django_db(transaction=True)
def test_a_worker_runs_the_checks_again_after_a_failure(alice, celery_worker):
    version = run_checks_on_render(alice.tenant, copy="Sommerschlussverkauf")
    _state(version, checks_state=ChecksState.FAILED)
    response = alice.client().post(_checks_url(version))
    assert response.status_code == 202, response.content
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        version.refresh_from_db()
        if version.checks_state != ChecksState.PENDING:
            break
        time.sleep(0.3)
    assert version.checks_state == ChecksState.DONE
    assert version.checks_summary["copy"]["verdict"] == "exact"
    assert len([row for row in _rows(version) if row.kind == "copy"]) == 1


def test_a_run_measured_for_an_earlier_request_does_not_record_over_a_newer_one(alice, monkeypatch):
    """A run still measuring (a task delivered twice, or sent again by the stale sweep) when another run has recorded
    and a person has asked again: recorded, it would end the new request with its findings, the new request's own
    run would then be skipped, and a further request could start while that run waits (CI saw two of ten
    concurrent requests start). It is skipped, and so is its failure; the new request's run records."""
    monkeypatch.setattr("dam.services.checks.version_checks_enqueue", lambda *, version_id: None)
    version = run_checks_on_render(alice.tenant)
    version_checks_rerun(version=version, actor=ACTOR)
    in_flight = AssetVersion.unscoped.get(pk=version.pk)  # run A reads the row, then measures (slowly)
    findings = version_checks_measure(version=in_flight)
    assert version_checks_run(version_id=version.pk) == "done"  # run B, for the same request, records first
    version_checks_rerun(version=AssetVersion.unscoped.get(pk=version.pk), actor=ACTOR)  # asked again

    assert version_checks_record(version=in_flight, findings=findings, pictures={}) == "skipped"
    version_checks_failed(version=in_flight, reason="RuntimeError: as if run A had crashed")
    version.refresh_from_db()
    assert version.checks_state == ChecksState.PENDING  # still waiting for the newer request's run
    with pytest.raises(Conflict) as refused:
        version_checks_rerun(version=version, actor=ACTOR)
    assert refused.value.code == "checks_pending"
    assert version_checks_run(version_id=version.pk) == "done"
    version.refresh_from_db()
    assert version.checks_state == ChecksState.DONE
