"""Deterministic checks of a generated version: its copy read back, its placement crops kept text-safe, the
brand's palette, legibility and logo (the measurements are in `dam.checks`; this module runs them and records
what they found).

A generated version whose brand policy asks for checks is created `checks_state=pending` (`checks_wanted`,
called by the generation worker). While its copy is being read it cannot be approved by anyone: a version
that would have started approved starts in review with `approve_when_checked`, and the checks approve it when
the copy is exactly right and every crop keeps it whole. What the checks find (`version_checks_run`, in the
renditions worker pool):

- copy `exact`: passes; `near` (a small character error rate): the version waits for a person; `mismatch`:
  the brand policy's `copy_mismatch_action` decides, `review` (wait for a person) or `block` (quarantine).
- a placement crop that cut the copy is moved (same size, within the generation, keeping the focal point) and
  its rendition re-cut; a crop no window can keep the copy whole in, or copy that ends up smaller than the
  placement's `min_text_height`: the version waits for a person.
- palette, legibility, logo: shown in the brand score (checks passed / checks run), never a status change.

The measurements run outside any transaction (they take up to a second or two of CPU); the results, the re-cut
renditions and the status change are recorded in one transaction that first takes the asset's row lock (the
review services' lock order) and does nothing if the version is no longer pending (a second run of the task).
A checker that crashes leaves the version `failed`: in review, never approved unchecked.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field, replace
from datetime import timedelta
from typing import Any

from django.db import InterfaceError, OperationalError, connection, transaction
from django.utils import timezone
from PIL import Image, ImageOps

from dam.blobs import StoredBlob, blob_put, blob_read
from dam.checks.charset import unreadable_characters
from dam.checks.copy import NEAR_CER, CopyComparison, CopyVerdict, compare_copy, copy_evidence_png, normalise_copy
from dam.checks.crops import CropVerdict, crop_evidence_png, crop_fit, fill_steps
from dam.checks.legibility import WCAG_AA, legibility_check
from dam.checks.logo import logo_check, logo_evidence_png
from dam.checks.ocr import locale_supported, read_text, tessdata_path
from dam.checks.palette import palette_check
from dam.credentials.signing import actions_for_steps, sign_derived
from dam.imaging import derive, open_image
from dam.lifecycle import VersionStatus, version_sources
from dam.models import Asset, AssetVersion, CheckKind, CheckOutcome, ChecksState, Rendition, VersionCheck
from dam.provenance import provenance_for_version, provenance_stamp
from dam.renditions.presets import placement_quality, placement_spec_key
from dam.services.renditions import rendition_replace
from dam.services.settings import library_settings_for
from dam.services.webhooks import webhook_emit
from dam.tasks import crops_recheck_enqueue, version_checks_enqueue
from tenants.audit import Actor, RequestOrigin, audit
from tenants.errors import Conflict
from tenants.models import BrandLogo, BrandPolicy, Placement

logger = logging.getLogger(__name__)

ACTOR = "checks"
DEFAULT_MIN_TEXT_HEIGHT = 12  # output px, for a placement archived or deleted since the generation
MISMATCH_BLOCKS = "block"
# What makes a version wait for a person (besides a copy mismatch under the `review` action).
_NEEDS_PERSON_CROPS = frozenset({CropVerdict.CUT, CropVerdict.TOO_SMALL})
_COPY_OUTCOME = {CopyVerdict.EXACT: CheckOutcome.PASS, CopyVerdict.NEAR: CheckOutcome.WARN}


def _policy_checks_copy(policy: BrandPolicy | None) -> bool:
    return policy is None or policy.copy_check


def checks_wanted(*, expected_copy: str, locale: str, brand_policy: BrandPolicy | None) -> tuple[bool, bool]:
    """(whether a new generated version gets checks, whether its copy is read back: then it cannot start
    approved). Copy is checked when there is copy, in a locale the OCR reads, and the policy has the check on;
    the palette and logo checks run when the policy has a palette or a logo."""
    copy = bool(locale) and locale_supported(locale) and _policy_checks_copy(brand_policy)
    # Copy of nothing readable (punctuation, symbols) has no letters to compare: nothing to read back.
    copy = copy and bool(normalise_copy(expected_copy, locale=locale))
    brand = brand_policy is not None and (bool(brand_policy.palette) or brand_policy.logo_id is not None)
    return copy or brand, copy


@dataclass
class Finding:
    """One check's result, ready to be recorded."""

    kind: str
    outcome: str
    verdict: str
    score: float | None
    evidence: dict[str, Any]
    seconds: float
    placement: str = ""
    picture: bytes | None = None  # the evidence image (PNG), stored as a blob before the row


@dataclass
class Recut:
    """A placement rendition to replace: cut again with a window that keeps the copy whole."""

    placement: str
    blob: StoredBlob
    width: int
    height: int
    image_format: str
    window: dict[str, int] | None = None  # the moved window, in source pixels


@dataclass
class Findings:
    checks: list[Finding] = field(default_factory=list)
    recuts: list[Recut] = field(default_factory=list)
    focal: tuple[float, float] | None = None  # the focal point the crops were checked with

    def of(self, kind: str) -> list[Finding]:
        return [finding for finding in self.checks if finding.kind == kind]


def _brand_policy(version: AssetVersion) -> BrandPolicy | None:
    """The brand policy version the version was generated under (not the current one)."""
    if version.brand_policy_version is None:
        return None
    return BrandPolicy.objects.for_tenant(version.tenant_id).filter(version=version.brand_policy_version).first()


def _timed(function, *args, **kwargs) -> tuple[Any, float]:
    started = time.process_time()
    result = function(*args, **kwargs)
    return result, round(time.process_time() - started, 4)


def _only_unreadable(comparison: CopyComparison, unreadable: tuple[str, ...]) -> bool:
    """Whether every difference lies in characters no model can write (a copy that is simply absent, or has a
    wrong readable character, is not explained by them)."""
    if not unreadable or not comparison.differences:
        return False
    return all(
        diff["expected"].strip() and all(char in unreadable or char.isspace() for char in diff["expected"])
        for diff in comparison.differences
    )


def _copy_and_crops(
    version: AssetVersion, source: bytes, image: Image.Image, policy: BrandPolicy | None, findings: Findings
) -> None:
    near_cer = float(policy.copy_near_cer) if policy else NEAR_CER
    started = time.process_time()
    reading = read_text(image, locale=version.locale)
    comparison = compare_copy(expected=version.expected_copy, reading=reading, locale=version.locale, near_cer=near_cer)
    unreadable = unreadable_characters(version.expected_copy, languages=reading.languages, tessdata=tessdata_path())
    if comparison.verdict == CopyVerdict.MISMATCH and _only_unreadable(comparison, unreadable):
        # Every difference is a character the models cannot write: no evidence against the render, so a person
        # looks (near) rather than the policy blocking a correct image ("앱 다운로드" read "다운로드").
        comparison = replace(comparison, verdict=CopyVerdict.NEAR)
    seconds = round(time.process_time() - started, 4)
    findings.checks.append(
        Finding(
            kind=CheckKind.COPY,
            outcome=_COPY_OUTCOME.get(comparison.verdict, CheckOutcome.FAIL),
            verdict=str(comparison.verdict),
            score=round(comparison.cer, 4),
            evidence={
                **comparison.to_dict(),
                "reading": reading.to_dict(),
                # The copy's characters no model of the reading can write: they cannot read back exact.
                "unreadable": list(unreadable),
            },
            seconds=seconds,
            picture=copy_evidence_png(image, comparison=comparison, reading=reading),
        )
    )
    boxes = list(comparison.boxes)
    if not boxes:
        return  # the copy was not found: nothing to keep whole, nothing to measure the contrast of
    minimum = float(policy.legibility_min_contrast) if policy else WCAG_AA
    legibility, seconds = _timed(legibility_check, image, boxes=boxes, minimum=minimum)
    findings.checks.append(
        Finding(
            kind=CheckKind.LEGIBILITY,
            outcome=CheckOutcome.PASS if legibility.passed else CheckOutcome.FAIL,
            verdict="passed" if legibility.passed else "failed",
            score=round(legibility.ratio, 4),
            evidence=legibility.to_dict(),
            seconds=seconds,
        )
    )
    _crops(version, source, image, boxes, findings)


def _crops(
    version: AssetVersion,
    source: bytes,
    image: Image.Image,
    boxes: list,
    findings: Findings,
    *,
    around_focal: bool = False,
) -> None:
    """`source`: the original's bytes as read for the checks (a re-cut is cut from them, not read again).

    The windows checked: the size plan's (centred: how the generation cut its placements), or with `around_focal`
    the renderer's around the version's focal point (`fill_steps`: how a focal change cuts them again)."""
    planned = (version.size_plan or {}).get("placements") or []
    if not planned:
        return
    placements = {
        p.slug: p for p in Placement.objects.for_tenant(version.tenant_id).filter(slug__in=[p["slug"] for p in planned])
    }
    focal = None if version.focal_x is None else (version.focal_x, version.focal_y)
    findings.focal = focal
    for derivation in planned:
        slug = derivation["slug"]
        placement = placements.get(slug)
        if around_focal and placement is None:
            continue  # archived or deleted since: nothing renders it around the new point
        min_height = placement.min_text_height if placement else DEFAULT_MIN_TEXT_HEIGHT
        steps = (
            fill_steps(source_size=image.size, target=(placement.width, placement.height), focal=focal)
            if around_focal
            else list(derivation.get("steps") or [])
        )
        started = time.process_time()
        fit = crop_fit(
            source_size=image.size,
            steps=steps,
            boxes=boxes,
            focal=focal,
            min_text_height=min_height,
            placement=slug,
        )
        outcome = CheckOutcome.FAIL if fit.verdict in _NEEDS_PERSON_CROPS else CheckOutcome.PASS
        picture = crop_evidence_png(image, fit=fit, boxes=boxes) if fit.verdict != CropVerdict.OK else None
        findings.checks.append(
            Finding(
                kind=CheckKind.CROP,
                placement=slug,
                outcome=outcome,
                verdict=str(fit.verdict),
                score=float(fit.text_height) if fit.text_height is not None else None,
                evidence=fit.to_dict(),
                seconds=round(time.process_time() - started, 4),
                picture=picture,
            )
        )
        if fit.adjusted and placement is not None:
            findings.recuts.append(_recut(version, placement, source, fit.steps, fit.adjusted_box))


def _recut(
    version: AssetVersion,
    placement: Placement,
    source: bytes,
    steps: list[dict[str, Any]],
    window: dict[str, int] | None,
) -> Recut:
    """The placement cut again with the moved window, encoded, stamped and signed as a generated cut is."""
    quality = placement_quality(output_format=placement.output_format, compression=placement.compression)
    encoded = derive(source, steps, image_format=placement.output_format, quality=quality)
    record = provenance_for_version(version, library_settings_for(tenant=version.tenant_id))
    data = provenance_stamp(encoded.data, image_format=encoded.format, record=record)
    data = sign_derived(
        data,
        image_format=encoded.format,
        parent=source,
        parent_format=version.format,
        actions=actions_for_steps(steps, source_format=version.format, image_format=encoded.format),
        record=record,
        tenant_id=version.tenant_id,
        title=f"{placement.slug} placement cut",
    )
    blob = blob_put(tenant_id=version.tenant_id, kind="renditions", data=data, image_format=encoded.format)
    return Recut(placement.slug, blob, encoded.width, encoded.height, encoded.format, window)


def _brand(image: Image.Image, policy: BrandPolicy | None, findings: Findings) -> None:
    if policy is None:
        return
    if policy.palette:
        result, seconds = _timed(
            palette_check,
            image,
            palette=list(policy.palette),
            max_delta_e=float(policy.palette_max_delta_e),
            min_score=float(policy.palette_min_score),
        )
        findings.checks.append(
            Finding(
                kind=CheckKind.PALETTE,
                outcome=CheckOutcome.PASS if result.passed else CheckOutcome.FAIL,
                verdict="passed" if result.passed else "failed",
                score=round(result.score, 4),
                evidence=result.to_dict(),
                seconds=seconds,
            )
        )
    if policy.logo_id is not None:
        stored = BrandLogo.objects.for_tenant(policy.tenant_id).get(pk=policy.logo_id)
        logo = open_image(bytes(stored.data))
        result, seconds = _timed(logo_check, image, logo=logo, min_width_share=float(policy.logo_min_width_share))
        verdict = "found" if result.passed else ("too_small" if result.found else "missing")
        findings.checks.append(
            Finding(
                kind=CheckKind.LOGO,
                outcome=CheckOutcome.PASS if result.passed else CheckOutcome.FAIL,
                verdict=verdict,
                score=round(result.width_share, 4),
                evidence=result.to_dict(),
                seconds=seconds,
                picture=logo_evidence_png(image, result=result) if result.found else None,
            )
        )


def version_checks_measure(*, version: AssetVersion) -> Findings:
    """Run every check the version's brand policy asks for (no database writes)."""
    policy = _brand_policy(version)
    source = blob_read(version.storage_key)
    image = ImageOps.exif_transpose(open_image(source)).convert("RGB")
    findings = Findings()
    wanted_copy = checks_wanted(expected_copy=version.expected_copy, locale=version.locale, brand_policy=policy)[1]
    if wanted_copy:
        _copy_and_crops(version, source, image, policy, findings)
    _brand(image, policy, findings)
    return findings


def brand_score(checks: list[Finding] | list[VersionCheck]) -> tuple[int, int]:
    """(passed, run) over kinds: a kind passes when every row of it passed (all placements' crops, say)."""
    kinds: dict[str, bool] = {}
    for check in checks:
        kinds[check.kind] = kinds.get(check.kind, True) and check.outcome == CheckOutcome.PASS
    return sum(kinds.values()), len(kinds)


def _status_after(version: AssetVersion, findings: Findings, policy: BrandPolicy | None) -> tuple[str, str]:
    """(the status the checks move the version to, why), or (its own status, "") for no change."""
    copy = findings.of(CheckKind.COPY)
    if copy and copy[0].verdict == CopyVerdict.MISMATCH:
        # Only a version still waiting for a person: checks run again on an approved or published one
        # (`version_checks_rerun`) report what they find and leave withdrawing it to a person.
        blocks = policy is not None and policy.copy_mismatch_action == MISMATCH_BLOCKS
        if blocks and version.status == VersionStatus.NEEDS_REVIEW:
            return VersionStatus.BLOCKED, "the copy read back does not match (the brand policy blocks a mismatch)"
        return version.status, "the copy read back does not match"
    if copy and copy[0].outcome != CheckOutcome.PASS:
        return version.status, "the copy read back is close but not exact"
    if any(check.outcome == CheckOutcome.FAIL for check in findings.of(CheckKind.CROP)):
        return version.status, "a placement crop cuts the copy or makes it too small"
    if version.approve_when_checked:
        return VersionStatus.APPROVED, "every check of the copy passed"
    return version.status, ""


def _store_pictures(version: AssetVersion, findings: Findings) -> dict[int, str]:
    keys = {}
    for index, finding in enumerate(findings.checks):
        if finding.picture is not None:
            stored = blob_put(tenant_id=version.tenant_id, kind="evidence", data=finding.picture, image_format="png")
            keys[index] = stored.key
    return keys


def version_checks_run(*, version_id: int) -> str:
    """Check a pending version and record the findings (the renditions queue's task calls this). Returns what
    happened: `skipped` (not pending, or gone), `done`, or `failed`."""
    # A task names its version by id only; the row names its tenant.
    version = AssetVersion.unscoped.filter(pk=version_id).first()
    if version is None or version.checks_state != ChecksState.PENDING:
        return "skipped"
    try:
        findings = version_checks_measure(version=version)
        pictures = _store_pictures(version, findings)
    except (OperationalError, InterfaceError):
        raise  # the database went away: the task retries
    except Exception as error:
        logger.exception("version checks failed", extra={"version_id": version_id, "tenant_id": version.tenant_id})
        version_checks_failed(version=version, reason=f"{type(error).__name__}: {error}"[:500])
        return "failed"
    return version_checks_record(version=version, findings=findings, pictures=pictures)


def _insert_checks(version: AssetVersion, findings: Findings, pictures: dict[int, str]) -> None:
    """The findings as the version's check rows (`pictures`: finding index -> its stored evidence picture)."""
    VersionCheck.objects.for_tenant(version.tenant_id).bulk_create(
        [
            VersionCheck(
                tenant_id=version.tenant_id,
                version=version,
                kind=finding.kind,
                placement=finding.placement,
                outcome=finding.outcome,
                verdict=finding.verdict,
                score=finding.score,
                evidence=finding.evidence,
                evidence_key=pictures.get(index, ""),
                seconds=finding.seconds,
            )
            for index, finding in enumerate(findings.checks)
        ]
    )


@transaction.atomic
def version_checks_record(*, version: AssetVersion, findings: Findings, pictures: dict[int, str]) -> str:
    """One transaction: the check rows, the re-cut renditions, the brand score, the status change, the audit
    event and the webhook. Nothing happens when the version is no longer pending, or when its checks were asked
    for again since `version` (the row as the run read it) was read: that request's own run records."""
    tenant_id = version.tenant_id
    Asset.objects.for_tenant(tenant_id).select_for_update(no_key=True).get(pk=version.asset_id)
    current = AssetVersion.objects.for_tenant(tenant_id).select_for_update().get(pk=version.pk)
    if current.checks_state != ChecksState.PENDING or current.checks_requested_at != version.checks_requested_at:
        # A run that measured for an earlier request (a task delivered twice, or one the stale sweep sent again,
        # still measuring when a person asked again): recording it would end the new request with old findings
        # and let its own run be skipped, and a third request could then start while the second's run waits.
        return "skipped"
    policy = _brand_policy(current)
    # Checks run again replace the rows of the run before (its evidence pictures stay in storage, unreferenced).
    VersionCheck.objects.for_tenant(tenant_id).filter(version=current).delete()
    _insert_checks(current, findings, pictures)
    focal = None if current.focal_x is None else (current.focal_x, current.focal_y)
    # A focal point set while the checks ran has already re-cut the placements around it: keep those, and check
    # the crops again around it once these findings (the copy's lines) are stored.
    recuts = findings.recuts if focal == findings.focal else []
    if focal != findings.focal and findings.of(CheckKind.CROP):
        crops_recheck_enqueue(version_id=current.pk)
    for recut in recuts:
        replaced = (
            Rendition.objects.for_tenant(tenant_id)
            .filter(version=current, spec=placement_spec_key(recut.placement))
            .update(**recut.blob.row_fields(), width=recut.width, height=recut.height, format=recut.image_format)
        )
        if replaced:
            audit(
                tenant=tenant_id,
                actor=Actor.system(ACTOR),
                action="rendition.recut",
                target=("asset_version", current.pk),
                payload={"placement": recut.placement, "window": recut.window, "reason": "the crop cut the copy"},
            )
    passed, run = brand_score(findings.checks)
    target, reason = _status_after(current, findings, policy)
    moved = target != current.status and (
        AssetVersion.objects.for_tenant(tenant_id)
        .filter(pk=current.pk, status__in=version_sources(target))
        .update(status=target)
    )
    summary = _summary(current, findings, passed=passed, run=run, status=target if moved else current.status)
    AssetVersion.objects.for_tenant(tenant_id).filter(pk=current.pk).update(
        checks_state=ChecksState.DONE,
        approve_when_checked=False,
        brand_checks_passed=passed,
        brand_checks_run=run,
        checks_summary={key: summary[key] for key in ("copy", "brand_score", "checks")},
    )
    actor = Actor.system(ACTOR)
    audit(
        tenant=tenant_id, actor=actor, action="version.checked", target=("asset_version", current.pk), payload=summary
    )
    if moved:
        audit(
            tenant=tenant_id,
            actor=actor,
            action="version.blocked" if target == VersionStatus.BLOCKED else "version.approved",
            target=("asset_version", current.pk),
            payload={"from": current.status, "to": target, "reason": reason},
        )
    if target != VersionStatus.BLOCKED or not moved:
        webhook_emit(tenant=tenant_id, event="asset.version_checked", payload=summary)
    if moved and target == VersionStatus.APPROVED:
        webhook_emit(
            tenant=tenant_id,
            event="asset.approved",
            payload={
                "asset_id": current.asset_id,
                "version": current.number,
                "from": current.status,
                "to": target,
                "comment": "",
                "approved_over_newer": False,
                "by": ACTOR,
            },
        )
    return "done"


def _summary(version: AssetVersion, findings: Findings, *, passed: int, run: int, status: str) -> dict[str, Any]:
    copy = findings.of(CheckKind.COPY)
    return {
        "asset_id": version.asset_id,
        "version": version.number,
        "locale": version.locale,
        "status": status,
        "copy": (
            {
                "verdict": copy[0].verdict,
                "cer": copy[0].score,
                "read": copy[0].evidence.get("read", ""),
                "unreadable": copy[0].evidence.get("unreadable", []),
            }
            if copy
            else None
        ),
        "brand_score": {"passed": passed, "run": run},
        "checks": [
            {"kind": f.kind, "placement": f.placement, "outcome": f.outcome, "verdict": f.verdict, "score": f.score}
            for f in findings.checks
        ],
    }


@transaction.atomic
def version_checks_failed(*, version: AssetVersion, reason: str) -> None:
    """The checker crashed: the version leaves `pending` for `failed` and waits for a person (never approved);
    not when its checks were asked for again since `version` was read (that request's run decides)."""
    tenant_id = version.tenant_id
    Asset.objects.for_tenant(tenant_id).select_for_update(no_key=True).get(pk=version.asset_id)
    updated = (
        AssetVersion.objects.for_tenant(tenant_id)
        .filter(pk=version.pk, checks_state=ChecksState.PENDING, checks_requested_at=version.checks_requested_at)
        .update(checks_state=ChecksState.FAILED, approve_when_checked=False)
    )
    if updated:
        audit(
            tenant=tenant_id,
            actor=Actor.system(ACTOR),
            action="version.check_failed",
            target=("asset_version", version.pk),
            payload={"reason": reason},
        )


@transaction.atomic
def version_checks_rerun(*, version: AssetVersion, actor: Actor, origin: RequestOrigin | None = None) -> None:
    """Check a version again: after the checker failed, after the reading improved, or to see a version's copy read
    today. The version goes back to `pending` and the renditions pool runs the checks as for a new version; their
    rows replace the old ones. A run again never approves by itself (`approve_when_checked` is cleared) and never
    withdraws: a mismatch blocks (under a blocking policy) only a version still waiting for a person. Refused
    (409) while its checks run, for a blocked version (quarantined: nothing decides on it again) and for one
    that has nothing to check (no copy the OCR reads, no palette or logo in its brand policy). Audited
    `version.checks_requested`."""
    tenant_id = version.tenant_id
    Asset.objects.for_tenant(tenant_id).select_for_update(no_key=True).get(pk=version.asset_id)
    current = AssetVersion.objects.for_tenant(tenant_id).select_for_update().get(pk=version.pk)
    if current.checks_state == ChecksState.PENDING:
        raise Conflict("its checks are running: wait for them to finish", field="checks", code="checks_pending")
    if current.status == VersionStatus.BLOCKED:
        raise Conflict("the version is blocked (quarantined): it is not checked again", code="version_blocked")
    wanted, _copy = checks_wanted(
        expected_copy=current.expected_copy, locale=current.locale, brand_policy=_brand_policy(current)
    )
    if not wanted:
        raise Conflict(
            "nothing to check: no copy in a language the OCR reads, and no palette or logo in its brand policy",
            field="checks",
            code="nothing_to_check",
        )
    AssetVersion.objects.for_tenant(tenant_id).filter(pk=current.pk).update(
        checks_state=ChecksState.PENDING, approve_when_checked=False, checks_requested_at=timezone.now()
    )
    audit(
        tenant=tenant_id,
        actor=actor,
        action="version.checks_requested",
        target=("asset_version", current.pk),
        payload={"asset_id": current.asset_id, "version": current.number, "previous": current.checks_state or "none"},
        origin=origin,
    )
    version_checks_enqueue(version_id=current.pk)
    version.checks_state, version.approve_when_checked = ChecksState.PENDING, False


STALE_AFTER = timedelta(minutes=10)


def version_checks_stale(*, older_than: timedelta = STALE_AFTER, limit: int = 500) -> list[int]:
    """Versions still pending checks long after they were made or asked for again (housekeeping, any tenant), oldest
    first: a walk of the pending versions' partial index (version_checks_pending_since, which carries created_at and
    checks_requested_at: no table row is read), stopped at a batch; only the ids come back."""
    with connection.cursor() as cursor:
        cursor.execute(_STALE_SQL, [ChecksState.PENDING.value, timezone.now() - older_than, limit])
        return [row[0] for row in cursor.fetchall()]


_STALE_SQL = (
    "SELECT id FROM dam_assetversion WHERE checks_state = %s AND COALESCE(checks_requested_at, created_at) < %s"
    " ORDER BY id LIMIT %s"
)


@dataclass(frozen=True)
class _Line:
    """A line of copy as the copy check stored it (source pixels)."""

    left: int
    top: int
    width: int
    height: int


def _copy_lines(version: AssetVersion) -> list[_Line]:
    """The lines of the version's copy found by its copy check (its evidence keeps their boxes)."""
    row = VersionCheck.objects.for_tenant(version.tenant_id).filter(version=version, kind=CheckKind.COPY).first()
    boxes = ((row.evidence or {}).get("boxes") or []) if row is not None else []
    return [_Line(int(b["left"]), int(b["top"]), int(b["width"]), int(b["height"])) for b in boxes]


def version_crops_recheck(*, version_id: int) -> str:
    """After a focal-point change: check the placements' crops around the new point against the copy's lines (the
    copy check's, not read again) and move a window that cuts them, as the first checks did. The renditions task
    calls this; returns `skipped` (not checked yet, no copy lines, gone) or what `version_crops_record` returns."""
    version = AssetVersion.unscoped.filter(pk=version_id).first()  # a task names its version by id only
    if version is None or version.checks_state != ChecksState.DONE or version.status == VersionStatus.BLOCKED:
        return "skipped"
    boxes = _copy_lines(version)
    if not boxes:
        return "skipped"
    source = blob_read(version.storage_key)
    image = ImageOps.exif_transpose(open_image(source)).convert("RGB")
    findings = Findings()
    _crops(version, source, image, boxes, findings, around_focal=True)
    return version_crops_record(version=version, findings=findings, pictures=_store_pictures(version, findings))


@transaction.atomic
def version_crops_record(*, version: AssetVersion, findings: Findings, pictures: dict[int, str]) -> str:
    """One transaction: the crop rows replaced, the windows that cut the copy re-cut, the brand score, the audit
    event and the webhook. The version's status does not move: a person moved the focal point, and a crop that
    now cuts the copy shows as a failed check (the board's "checks failed" filter) for them to see. Nothing
    happens when the focal point moved again meanwhile (its own re-check follows)."""
    tenant_id = version.tenant_id
    Asset.objects.for_tenant(tenant_id).select_for_update(no_key=True).get(pk=version.asset_id)
    current = AssetVersion.objects.for_tenant(tenant_id).select_for_update().get(pk=version.pk)
    focal = None if current.focal_x is None else (current.focal_x, current.focal_y)
    if current.checks_state != ChecksState.DONE or focal != findings.focal:
        return "skipped"
    checks = VersionCheck.objects.for_tenant(tenant_id).filter(version=current)
    checks.filter(kind=CheckKind.CROP).delete()
    _insert_checks(current, findings, pictures)
    actor = Actor.system(ACTOR)
    for recut in findings.recuts:
        rendition_replace(
            version=current,
            spec=placement_spec_key(recut.placement),
            blob=recut.blob,
            width=recut.width,
            height=recut.height,
            image_format=recut.image_format,
            placement_slug=recut.placement,
        )
        audit(
            tenant=tenant_id,
            actor=actor,
            action="rendition.recut",
            target=("asset_version", current.pk),
            payload={
                "placement": recut.placement,
                "window": recut.window,
                "reason": "the crop around the new focal point cut the copy",
            },
        )
    rows = [
        Finding(
            kind=row.kind,
            outcome=row.outcome,
            verdict=row.verdict,
            score=row.score,
            evidence=row.evidence,
            seconds=row.seconds,
            placement=row.placement,
        )
        for row in checks.order_by("id")
    ]
    passed, run = brand_score(rows)
    summary = _summary(current, Findings(checks=rows), passed=passed, run=run, status=current.status)
    AssetVersion.objects.for_tenant(tenant_id).filter(pk=current.pk).update(
        brand_checks_passed=passed,
        brand_checks_run=run,
        checks_summary={key: summary[key] for key in ("copy", "brand_score", "checks")},
    )
    audit(
        tenant=tenant_id,
        actor=actor,
        action="version.crops_rechecked",
        target=("asset_version", current.pk),
        payload={
            "focal": None if focal is None else {"x": focal[0], "y": focal[1]},
            "crops": [
                {"placement": f.placement, "verdict": f.verdict, "outcome": f.outcome}
                for f in findings.of(CheckKind.CROP)
            ],
            "recut": [recut.placement for recut in findings.recuts],
            "brand_score": {"passed": passed, "run": run},
        },
    )
    webhook_emit(tenant=tenant_id, event="asset.version_checked", payload=summary)
    return "done"
