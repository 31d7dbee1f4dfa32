"""Versions with copy and brand checks, built as the checks service records them (rows, evidence pictures, the
summary on the version row) without running OCR: for the staff UI's tests and screenshots."""

from __future__ import annotations

from dam.blobs import blob_put
from dam.lifecycle import VersionStatus
from dam.models import AssetVersion, ChecksState, VersionCheck
from dam.services.assets import asset_create, asset_version_create
from tests.factories import png_bytes

EVIDENCE_PNG = png_bytes(40, 30, colour=(250, 10, 130))


def make_version(
    tenant, *, title: str, status: str = VersionStatus.NEEDS_REVIEW, original: bytes | None = None, size=(64, 48)
) -> AssetVersion:
    asset = asset_create(tenant=tenant, title=title, source="generated", locale="en-GB")
    data = original if original is not None else png_bytes(*size, colour=(9, 9, 9))
    blob = blob_put(tenant_id=tenant.pk, kind="originals", data=data, image_format="png")
    return asset_version_create(
        asset=asset, blob=blob, width=size[0], height=size[1], image_format="png", status=status, locale="en-GB"
    )


def set_checks(version: AssetVersion, *, state: str, copy: dict | None = None, score=None, checks=()) -> None:
    summary = {"copy": copy, "brand_score": score, "checks": list(checks)} if state == ChecksState.DONE else {}
    AssetVersion.objects.for_tenant(version.tenant_id).filter(pk=version.pk).update(
        checks_state=state,
        expected_copy="Summer sale",
        brand_checks_passed=score["passed"] if score else None,
        brand_checks_run=score["run"] if score else None,
        checks_summary=summary,
    )
    version.refresh_from_db()


def checked_version(
    tenant,
    *,
    title: str = "checked",
    status: str = VersionStatus.NEEDS_REVIEW,
    verdict: str = "near",
    original: bytes | None = None,
    size=(64, 48),
    evidence: bytes = EVIDENCE_PNG,
) -> AssetVersion:
    """A version checked as the checks service records it: five rows (copy, a crop, palette, legibility, logo),
    the copy's and the logo's with an evidence picture, and the summary on the version row."""
    version = make_version(tenant, title=title, status=status, original=original, size=size)
    evidence_blob = blob_put(tenant_id=tenant.pk, kind="evidence", data=evidence, image_format="png")
    read = {"near": "Sumer sale", "exact": "Summer sale", "mismatch": "Winter"}[verdict]
    cer = {"near": 0.0909, "exact": 0.0, "mismatch": 0.8182}[verdict]
    outcome = {"near": "warn", "exact": "pass", "mismatch": "fail"}[verdict]
    rows = [
        {
            "kind": "copy",
            "outcome": outcome,
            "verdict": verdict,
            "score": cer,
            "evidence_key": evidence_blob.key,
            "evidence": {
                "verdict": verdict,
                "expected": "Summer sale",
                "read": read,
                "cer": cer,
                "differences": [{"op": "delete", "expected": "m", "read": "", "at": 3}] if verdict == "near" else [],
                "reading": {"text": read, "boxes": [], "languages": "eng"},
            },
        },
        {
            "kind": "crop",
            "placement": "leaderboard",
            "outcome": "pass",
            "verdict": "adjusted",
            "score": 18.0,
            "evidence": {
                "adjusted": True,
                "focal_kept": True,
                "text_height": 18,
                "min_text_height": 12,
                "cut_boxes": [],
            },
        },
        {
            "kind": "palette",
            "outcome": "fail",
            "verdict": "failed",
            "score": 0.41,
            "evidence": {
                "passed": False,
                "score": 0.41,
                "threshold": 0.6,
                "max_delta_e": 12.0,
                "colours": [
                    {"hex": "#ff00aa", "share": 0.59, "nearest": "#0a7b4f", "delta_e": 61.2},
                    {"hex": "#0b7a50", "share": 0.41, "nearest": "#0a7b4f", "delta_e": 0.8},
                    {"hex": "red;background:url(x)", "share": 0.0, "nearest": "", "delta_e": 0},
                ],
            },
        },
        {
            "kind": "legibility",
            "outcome": "fail",
            "verdict": "failed",
            "score": 3.21,
            "evidence": {
                "passed": False,
                "ratio": 3.21,
                "minimum": 4.5,
                "lines": [{"text": "Summer sale", "ratio": 3.21, "text_colour": "#777777", "background": "#ffffff"}],
            },
        },
        {
            "kind": "logo",
            "outcome": "pass",
            "verdict": "found",
            "score": 0.083,
            "evidence_key": evidence_blob.key,
            "evidence": {"passed": True, "found": True, "width_share": 0.083, "min_width_share": 0.05, "matches": 41},
        },
    ]
    for row in rows:
        VersionCheck.objects.for_tenant(tenant).create(tenant=tenant, version=version, **row)
    summary = [{k: row.get(k, "") for k in ("kind", "placement", "outcome", "verdict", "score")} for row in rows]
    copy = {"verdict": verdict, "cer": cer, "read": read}
    set_checks(version, state=ChecksState.DONE, copy=copy, score={"passed": 2, "run": 5}, checks=summary)
    return version


def run_checks_on_render(
    tenant,
    *,
    copy: str = "Summer sale",
    text_fault: str | None = None,
    policy: dict | None = None,
    size=(1024, 1024),
    locale: str = "en-GB",
) -> AssetVersion:
    """A version rendered by the emulator with `copy` on it (drawn wrong on purpose by `text_fault`), checked by
    the real checks service (Tesseract, the palette, legibility): what a generated version carries afterwards."""
    from dam.services.checks import version_checks_run
    from generation.emulator.images import RenderSpec, render_generation
    from tenants.services import brand_policy_update

    spec = RenderSpec(
        prompt=f'A green tent on a ridge "{copy}"',
        width=size[0],
        height=size[1],
        quality="low",
        output_format="png",
        output_compression=None,
        transparent=False,
        text_fault=text_fault,
    )
    brand = brand_policy_update(tenant=tenant, review_required=False, **(policy or {}))
    blob = blob_put(tenant_id=tenant.pk, kind="originals", data=render_generation(spec, 0), image_format="png")
    asset = asset_create(tenant=tenant, title=f"{copy} / tent / {locale}", source="generated", locale=locale)
    version = asset_version_create(
        asset=asset,
        blob=blob,
        width=size[0],
        height=size[1],
        image_format="png",
        new_asset=True,
        locale=locale,
        expected_copy=copy,
        brand_policy_version=brand.version,
        checks_state=ChecksState.PENDING,
        status=VersionStatus.NEEDS_REVIEW,
    )
    # A transactional test's standing worker may take the enqueued check first: then this run finds the version
    # no longer pending ("skipped") only after that run has recorded its findings.
    assert version_checks_run(version_id=version.pk) in ("done", "skipped")
    version.refresh_from_db()
    assert version.checks_state == ChecksState.DONE, version.checks_state
    return version
