"""The checks service on real renders (the emulator's own renderer, real Tesseract), without a worker: what is
recorded, what the status becomes, idempotence, a crashing checker, the API and the webhook."""

from __future__ import annotations

import pytest

from dam.blobs import blob_put
from dam.lifecycle import VersionStatus
from dam.models import Asset, AssetVersion, ChecksState, VersionCheck, WebhookDelivery
from dam.services.assets import asset_create, asset_version_create
from dam.services.checks import version_checks_run
from dam.services.webhooks import webhook_endpoint_create
from generation.emulator.images import RenderSpec, render_generation
from governance.models import AuditEvent
from tenants.models import Scope
from tenants.services import brand_policy_update
from tests.support.actors import key_holder

pytestmark = pytest.mark.django_db

COPY = "Summer sale"


def _render(copy: str = COPY, *, text_fault: str | None = None, width: int = 1024, height: int = 1024) -> bytes:
    spec = RenderSpec(
        prompt=f'A green tent on a ridge "{copy}"',
        width=width,
        height=height,
        quality="low",
        output_format="png",
        output_compression=None,
        transparent=False,
        text_fault=text_fault,
    )
    return render_generation(spec, 0)


def _pending_version(tenant, data: bytes, *, copy: str = COPY, locale: str = "en-GB", **fields) -> AssetVersion:
    """A generated-style version waiting for its checks, as the generation worker files one."""
    policy = brand_policy_update(tenant=tenant, review_required=False, **fields.pop("policy", {}))
    blob = blob_put(tenant_id=tenant.pk, kind="originals", data=data, image_format="png")
    asset = asset_create(tenant=tenant, title="Summer", source=Asset.Source.GENERATED, locale=locale)
    return asset_version_create(
        asset=asset,
        blob=blob,
        width=1024,
        height=1024,
        image_format="png",
        new_asset=True,
        locale=locale,
        expected_copy=copy,
        brand_policy_version=policy.version,
        checks_state=ChecksState.PENDING,
        status=fields.pop("status", VersionStatus.NEEDS_REVIEW),
        approve_when_checked=fields.pop("approve_when_checked", True),
        **fields,
    )


def _fresh(version: AssetVersion) -> AssetVersion:
    return AssetVersion.objects.for_tenant(version.tenant_id).get(pk=version.pk)


def test_exact_copy_is_recorded_approved_audited_announced_and_run_once(alice):
    webhook_endpoint_create(
        tenant=alice.tenant, url="https://hooks.example/dam", events=["asset.version_checked", "asset.approved"]
    )
    version = _pending_version(alice.tenant, _render())
    assert version_checks_run(version_id=version.pk) == "done"
    version = _fresh(version)
    assert (version.status, version.checks_state, version.approve_when_checked) == ("approved", "done", False)
    copy = VersionCheck.objects.for_tenant(alice.tenant).get(version=version, kind="copy")
    assert (copy.verdict, copy.outcome, copy.score) == ("exact", "pass", 0.0)
    assert copy.evidence_key and copy.evidence["reading"]["boxes"]
    assert version.checks_summary["copy"]["verdict"] == "exact"
    assert version.brand_checks_passed == version.brand_checks_run >= 1
    actions = set(
        AuditEvent.objects.for_tenant(alice.tenant).filter(target_id=str(version.pk)).values_list("action", flat=True)
    )
    assert {"version.checked", "version.approved"} <= actions
    events = list(WebhookDelivery.objects.for_tenant(alice.tenant).values_list("event", flat=True))
    assert sorted(events) == ["asset.approved", "asset.version_checked"]
    checked = WebhookDelivery.objects.for_tenant(alice.tenant).get(event="asset.version_checked")
    assert checked.payload["data"]["copy"]["verdict"] == "exact" and checked.payload["data"]["status"] == "approved"
    # A second run of the task (acks_late, a sweep) records nothing twice.
    assert version_checks_run(version_id=version.pk) == "skipped"
    assert VersionCheck.objects.for_tenant(alice.tenant).filter(version=version, kind="copy").count() == 1
    assert WebhookDelivery.objects.for_tenant(alice.tenant).count() == 2


def test_a_dropped_character_waits_for_a_person_with_the_difference_as_evidence(alice):
    version = _pending_version(alice.tenant, _render(text_fault="drop"))
    assert version_checks_run(version_id=version.pk) == "done"
    version = _fresh(version)
    assert version.status == VersionStatus.NEEDS_REVIEW and not version.approve_when_checked
    copy = VersionCheck.objects.for_tenant(alice.tenant).get(version=version, kind="copy")
    assert copy.verdict in ("near", "mismatch") and copy.outcome in ("warn", "fail")
    assert any(d["op"] == "delete" for d in copy.evidence["differences"]), copy.evidence
    assert version.brand_checks_passed < version.brand_checks_run


def test_an_off_palette_render_fails_the_palette_check_without_changing_the_status(alice):
    policy = {"palette": ["#1f4d3a", "#f2efe6", "#c8a24a"], "palette_max_delta_e": "12", "palette_min_score": "0.5"}
    version = _pending_version(alice.tenant, _render(text_fault="off_palette"), policy=policy)
    version_checks_run(version_id=version.pk)
    version = _fresh(version)
    palette = VersionCheck.objects.for_tenant(alice.tenant).get(version=version, kind="palette")
    assert (palette.verdict, palette.outcome) == ("failed", "fail")
    assert palette.score < 0.5 and palette.evidence["colours"]
    # The copy is right and the palette is a brand score matter, not a gate: the checks approve it.
    assert version.status == VersionStatus.APPROVED
    assert (version.brand_checks_passed, version.brand_checks_run) == (
        version.brand_checks_run - 1,
        version.brand_checks_run,
    )


def test_a_crashing_checker_leaves_the_version_failed_in_review_never_approved(alice):
    version = _pending_version(alice.tenant, b"not an image at all")
    assert version_checks_run(version_id=version.pk) == "failed"
    version = _fresh(version)
    assert (version.status, version.checks_state, version.approve_when_checked) == ("needs_review", "failed", False)
    failed = AuditEvent.objects.for_tenant(alice.tenant).get(target_id=str(version.pk), action="version.check_failed")
    assert failed.payload["reason"]


def test_the_checks_endpoint_shows_rows_and_evidence_to_staff_keys_not_storefronts(alice, charlie):
    version = _pending_version(alice.tenant, _render())
    version_checks_run(version_id=version.pk)
    url = f"/api/v1/assets/{version.asset_id}/versions/1/checks"
    data = alice.client().get(url).json()
    assert data["state"] == "done" and data["copy"]["verdict"] == "exact"
    copy = next(row for row in data["results"] if row["kind"] == "copy")
    assert copy["evidence_url"] and copy["evidence"]["expected"]
    shop = key_holder(alice.tenant, Scope.ASSETS_READ, name="web-shop")
    assert shop.client().get(url).status_code in (403, 404)
    assert charlie.client().get(url).status_code == 404
    # The asset's API carries the overview from the version row.
    overview = alice.client().get(f"/api/v1/assets/{version.asset_id}").json()["current_version"]["checks"]
    assert overview["state"] == "done" and overview["brand_score"]["run"] >= 1
    AssetVersion.objects.for_tenant(alice.tenant).filter(pk=version.pk).update(status=VersionStatus.NEEDS_REVIEW)
    queue = alice.client().get("/api/v1/reviews").json()["results"]
    assert [v["checks"]["copy"]["verdict"] for v in queue if v["id"] == version.pk] == ["exact"]
    assert shop.client().get(f"/api/v1/assets/{version.asset_id}").status_code == 404  # not visible to a shop
    # A blocked version's evidence (a picture of it) is never handed out.
    AssetVersion.objects.for_tenant(alice.tenant).filter(pk=version.pk).update(status=VersionStatus.BLOCKED)
    blocked = alice.client().get(url).json()
    assert all(row["evidence_url"] is None for row in blocked["results"])


def test_block_action_quarantines_a_mismatch(alice):
    policy = {"copy_mismatch_action": "block", "copy_near_cer": "0.01"}
    version = _pending_version(
        alice.tenant,
        _render("Sommerschlussverkauf", text_fault="substitute"),
        policy=policy,
        copy="Sommerschlussverkauf",
        locale="de",
    )
    version_checks_run(version_id=version.pk)
    version = _fresh(version)
    assert version.status == VersionStatus.BLOCKED
    assert VersionCheck.objects.for_tenant(alice.tenant).get(version=version, kind="copy").verdict == "mismatch"


def test_bulk_review_filters_by_what_the_checks_found(alice, bob):
    near = _pending_version(alice.tenant, _render(text_fault="drop"))
    exact = _pending_version(alice.tenant, _render(), approve_when_checked=False)
    for version in (near, exact):
        version_checks_run(version_id=version.pk)
    response = bob.client().post(
        "/api/v1/reviews/bulk",
        {"action": "reject", "comment": "the copy is wrong", "filter": {"checks": "copy"}},
        format="json",
    )
    assert response.status_code == 200, response.content
    assert response.json()["done"] == [near.pk]
    assert _fresh(exact).status == VersionStatus.NEEDS_REVIEW
    bad = bob.client().post("/api/v1/reviews/bulk", {"action": "approve", "filter": {"checks": "x"}}, format="json")
    assert bad.status_code == 400 and "checks" in bad.content.decode()
