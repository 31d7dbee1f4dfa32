"""The copy and brand checks end to end: API -> a real Celery worker -> the emulator over HTTP (rendering the copy
right, or wrong on purpose) -> the version's checks read back in the renditions pool -> its status.

One job per case carries every supported locale's copy, so each check meets every script in one run."""

from __future__ import annotations

import time

import pytest

from dam.lifecycle import VersionStatus
from dam.models import AssetVersion, ChecksState, Rendition, VersionCheck
from dam.services.review import Reviewer, version_approve
from governance.models import AuditEvent
from governance.services.safety import safety_config_update
from tenants.errors import Conflict
from tenants.services import brand_policy_update, placement_create
from tests.support.jobs import wait_for_job

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]

# Realistic copy in every supported locale (the scripts the OCR packs cover).
COPY = {
    "en-GB": "Summer sale",
    "de": "Sommerschlussverkauf",
    "fr": "Soldes d'été",
    "es": "Rebajas de verano",
    "it": "Saldi estivi",
    "pt": "Promoção de verão",
    "ja": "夏のセール",
    "ko": "여름 세일",
    "zh-Hans": "夏季特卖",
    "zh-Hant": "夏季特賣",
    "hi": "गर्मी की सेल",
    "bn": "গ্রীষ্মের সেল",
}


@pytest.fixture
def emulator(clean_emulator, celery_worker):
    return clean_emulator


@pytest.fixture
def auto_approving(alice):
    """Nothing waits for a person unless a check says so: moderation never asks, the brand does not either."""
    safety_config_update(tenant=alice.tenant, review_rule="never")
    brand_policy_update(tenant=alice.tenant, review_required=False)
    placement_create(tenant=alice.tenant, slug="square", width=1024, height=1024, output_format="png")
    return alice


def _submit(actor, locales: dict[str, str], **body) -> int:
    response = actor.client().post(
        "/api/v1/jobs",
        {"prompt": "A green tent on a ridge", "quality": "low", "placements": ["square"], "locales": locales, **body},
        format="json",
    )
    assert response.status_code in (200, 201, 202), response.content
    return response.json()["id"]


def _checked(tenant, job_id: int, *, timeout: float = 180) -> list[AssetVersion]:
    """The job's versions once none of them is still being checked."""
    job = wait_for_job(job_id)
    assert job.state == "succeeded", (job.error_code, job.error_message)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        versions = list(AssetVersion.objects.for_tenant(tenant).filter(job_id=job_id).order_by("locale"))
        if versions and all(v.checks_state != ChecksState.PENDING for v in versions):
            return versions
        time.sleep(0.5)
    raise AssertionError(f"checks still pending after {timeout} s")


def _copy_check(version: AssetVersion) -> VersionCheck:
    return VersionCheck.objects.for_tenant(version.tenant_id).get(version=version, kind="copy")


def test_correct_copy_in_every_script_reads_exact_and_the_checks_approve_it(auto_approving, emulator):
    alice = auto_approving
    job_id = _submit(alice, COPY)
    # While the copy is read back, nobody can approve: the version waits in review (it would have started approved).
    versions = _checked(alice.tenant, job_id)
    assert len(versions) == len(COPY)
    misread = {
        v.locale: (_copy_check(v).verdict, _copy_check(v).evidence["read"])
        for v in versions
        if _copy_check(v).verdict != "exact"
    }
    assert not misread, misread
    for version in versions:
        check = _copy_check(version)
        assert check.outcome == "pass"
        assert check.evidence["reading"]["boxes"], version.locale
        assert version.status == VersionStatus.APPROVED and version.checks_state == ChecksState.DONE
        assert version.expected_copy == COPY[version.locale]
        assert not version.approve_when_checked
        # Copy, legibility and the placement's crop ran; the copy passed (legibility depends on the picture).
        assert version.brand_checks_run == 3 and version.brand_checks_passed >= 1, version.checks_summary
        events = AuditEvent.objects.for_tenant(alice.tenant).filter(target_id=str(version.pk))
        assert {"version.checked", "version.approved"} <= set(events.values_list("action", flat=True))
    detail = alice.client().get(f"/api/v1/assets/{versions[0].asset_id}").json()
    current = detail["current_version"]
    assert current["checks"]["state"] == "done" and current["checks"]["copy"]["verdict"] == "exact"


@pytest.mark.parametrize("fault", ["substitute", "drop"])
def test_a_wrong_character_in_any_script_is_caught_and_waits_for_a_person(auto_approving, emulator, fault):
    alice = auto_approving
    emulator.configure(text_fault=fault)
    versions = _checked(alice.tenant, _submit(alice, COPY))
    caught = {}
    for version in versions:
        check = _copy_check(version)
        caught[version.locale] = check.verdict
        assert check.verdict in ("near", "mismatch"), (version.locale, check.evidence)
        assert check.evidence["differences"], version.locale
        assert version.status == VersionStatus.NEEDS_REVIEW, version.locale
    assert set(caught) == set(COPY)


def test_a_broken_conjunct_or_misplaced_vowel_sign_is_caught(auto_approving, emulator):
    """The emulator's `conjunct` fault on copy without a conjunct: a vowel sign drawn before its consonant (glyph
    order). (A conjunct broken by a ZWNJ reads back as the same letters: the limit docs/checks.md states.)"""
    alice = auto_approving
    emulator.configure(text_fault="conjunct")
    versions = _checked(alice.tenant, _submit(alice, {"hi": "नया सामान", "bn": "বিশেষ ছাড়"}))
    assert len(versions) == 2
    for version in versions:
        check = _copy_check(version)
        assert check.verdict in ("near", "mismatch"), (version.locale, check.evidence)
        assert version.status == VersionStatus.NEEDS_REVIEW


def test_copy_too_small_for_a_placement_waits_for_a_person(auto_approving, emulator):
    """Copy set at 1.2% of the short side is about 3 px tall in a leaderboard: the crop check says too small."""
    alice = auto_approving
    placement_create(tenant=alice.tenant, slug="leaderboard", width=970, height=250, output_format="png")
    emulator.configure(text_fault="tiny")
    (version,) = _checked(
        alice.tenant, _submit(alice, {"en-GB": "Summer sale"}, placements=["leaderboard"], quality="medium")
    )
    crops = VersionCheck.objects.for_tenant(alice.tenant).filter(version=version, kind="crop")
    copy = _copy_check(version)
    # Either the OCR cannot read copy that small (the copy check fails) or it can and the crop check says too small.
    assert copy.verdict != "exact" or {c.verdict for c in crops} == {"too_small"}, (copy.evidence, list(crops))
    assert version.status == VersionStatus.NEEDS_REVIEW


def test_the_brand_policy_can_block_a_mismatch(auto_approving, emulator):
    alice = auto_approving
    brand_policy_update(tenant=alice.tenant, copy_mismatch_action="block", copy_near_cer="0.01")
    emulator.configure(text_fault="substitute")
    (version,) = _checked(alice.tenant, _submit(alice, {"de": "Sommerschlussverkauf"}))
    assert _copy_check(version).verdict == "mismatch"
    assert version.status == VersionStatus.BLOCKED
    blocked = AuditEvent.objects.for_tenant(alice.tenant).get(target_id=str(version.pk), action="version.blocked")
    assert "does not match" in blocked.payload["reason"]


def test_copy_a_leaderboard_crop_would_cut_is_kept_whole_by_moving_the_window(alice, emulator):
    """A 970x250 leaderboard is cut from a 3:1 generation (the model makes nothing wider) by a centre crop; the
    emulator sets the copy across that crop's top line: the window moves up, the rendition is cut again from the
    moved window, and the check records both windows."""
    placement_create(tenant=alice.tenant, slug="leaderboard", width=970, height=250, output_format="png")
    emulator.configure(text_fault="crop_cut")
    response = alice.client().post(
        "/api/v1/jobs",
        {"prompt": "A canoe on a lake", "quality": "low", "placements": ["leaderboard"], "locales": {"de": "Neu"}},
        format="json",
    )
    assert response.status_code in (200, 201, 202), response.content
    (version,) = _checked(alice.tenant, response.json()["id"])
    crop = VersionCheck.objects.for_tenant(alice.tenant).get(version=version, kind="crop", placement="leaderboard")
    assert crop.verdict == "adjusted", crop.evidence
    assert crop.evidence["adjusted_box"]["top"] < crop.evidence["original_box"]["top"]
    assert crop.evidence_key
    rendition = Rendition.objects.for_tenant(alice.tenant).get(version=version, spec="placement:leaderboard")
    assert (rendition.width, rendition.height) == (970, 250)
    recut = AuditEvent.objects.for_tenant(alice.tenant).get(target_id=str(version.pk), action="rendition.recut")
    assert recut.payload["placement"] == "leaderboard"
    # The moved cut holds the whole copy: read back from the rendition itself.
    from dam.blobs import blob_read
    from dam.checks.copy import compare_copy
    from dam.checks.ocr import read_text
    from dam.imaging import open_image

    reading = read_text(open_image(blob_read(rendition.storage_key)), locale="de")
    assert compare_copy(expected="Neu", reading=reading, locale="de").verdict == "exact", reading.text


def test_while_the_checks_run_nobody_can_approve(alice, bob):
    """A version pending its checks refuses an approval (the bulk path lists it as skipped for that reason)."""
    from tests.factories import make_asset

    asset = make_asset(alice.tenant)
    version = asset.current_version
    AssetVersion.objects.for_tenant(alice.tenant).filter(pk=version.pk).update(checks_state=ChecksState.PENDING)
    version.refresh_from_db()
    with pytest.raises(Conflict) as refused:
        version_approve(version=version, reviewer=Reviewer(user=bob.user))
    assert refused.value.code == "checks_pending"
    response = bob.client().post(
        "/api/v1/reviews/bulk", {"action": "approve", "version_ids": [version.pk]}, format="json"
    )
    assert response.status_code == 200, response.content
    assert [s["reason"] for s in response.json()["skipped"]] == ["checks_pending"]


def _leaderboard_reads(version: AssetVersion, copy: str, locale: str) -> str:
    from dam.blobs import blob_read
    from dam.checks.copy import compare_copy
    from dam.checks.ocr import read_text
    from dam.imaging import open_image

    rendition = Rendition.objects.for_tenant(version.tenant_id).get(version=version, spec="placement:leaderboard")
    reading = read_text(open_image(blob_read(rendition.storage_key)), locale=locale)
    return compare_copy(expected=copy, reading=reading, locale=locale).verdict


def test_a_focal_point_moved_after_the_checks_recuts_the_crops_around_it_keeping_the_copy_whole(alice, emulator):
    """The copy sits across the centred leaderboard crop's top line. A focal point set low afterwards re-cuts the
    placement around it, further down, through the copy: the worker checks the crops again around the new point
    with the copy's lines the copy check found (no OCR again), moves the window up (the point still inside), cuts
    the rendition again from it, and records the new verdict once."""
    placement_create(tenant=alice.tenant, slug="leaderboard", width=970, height=250, output_format="png")
    emulator.configure(text_fault="crop_cut")
    response = alice.client().post(
        "/api/v1/jobs",
        {"prompt": "A canoe on a lake", "quality": "low", "placements": ["leaderboard"], "locales": {"de": "Neu"}},
        format="json",
    )
    assert response.status_code in (200, 201, 202), response.content
    (version,) = _checked(alice.tenant, response.json()["id"])
    assert _leaderboard_reads(version, "Neu", "de") == "exact"
    before = VersionCheck.objects.for_tenant(alice.tenant).get(version=version, kind="crop", placement="leaderboard")

    url = f"/api/v1/assets/{version.asset_id}/versions/{version.number}"
    moved = alice.client().patch(url, {"focal_point": {"x": 0.5, "y": 0.6}}, format="json")
    assert moved.status_code == 200, moved.content

    deadline = time.monotonic() + 120
    while (
        not AuditEvent.objects.for_tenant(alice.tenant)
        .filter(target_id=str(version.pk), action="version.crops_rechecked")
        .exists()
    ):
        assert time.monotonic() < deadline, "the crops were not checked again"
        time.sleep(0.3)
    crops = VersionCheck.objects.for_tenant(alice.tenant).filter(version=version, kind="crop")
    (crop,) = crops.filter(placement="leaderboard")
    assert crop.pk != before.pk and crop.evidence["focal"] == {"x": 0.5, "y": 0.6}
    assert crop.verdict == "adjusted" and crop.evidence["focal_kept"] is True, crop.evidence
    # Around y = 0.6 the renderer's window starts below the copy; the moved one starts above it.
    assert crop.evidence["adjusted_box"]["top"] < crop.evidence["original_box"]["top"]
    # The up-front re-render and the re-check race for the rendition; whichever ends last, the copy is whole.
    deadline = time.monotonic() + 60
    while not Rendition.objects.for_tenant(alice.tenant).filter(version=version, spec="placement:leaderboard"):
        assert time.monotonic() < deadline
        time.sleep(0.3)
    assert _leaderboard_reads(version, "Neu", "de") == "exact"
    event = AuditEvent.objects.for_tenant(alice.tenant).get(target_id=str(version.pk), action="version.crops_rechecked")
    assert event.payload["recut"] == ["leaderboard"]
    assert {axis: float(value) for axis, value in event.payload["focal"].items()} == {"x": 0.5, "y": 0.6}
