"""Human review of asset versions: the queue, and the decisions that move a version on.

Every decision is one transaction: the asset row is locked (decisions on one asset are serialised),
the version moves with a conditional UPDATE whose WHERE names the statuses the action may start from
(`dam.lifecycle.review_action_sources`), and a `ReviewDecision` records who, when and why.

Four-eyes: whoever requested a version may not approve it, compared as principals
(`tenants.selectors.principals_of`): the user, the API key and every key it was minted with, and the person
behind them. So a person acting in a session or through any key of a chain they started, and the same key
or chain of keys, all count as the requester, for uploads, generations and edits alike.

Approving an older version while a newer version of the same asset waits for review must be asked for
explicitly (`approve_over_newer`), never happen by accident.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Prefetch, QuerySet

from dam.lifecycle import ReviewAction, VersionStatus, review_action_sources
from dam.models import Asset, AssetVersion, ChecksState, Rendition, ReviewDecision
from dam.services.webhooks import webhook_emit
from tenants.audit import Actor, RequestOrigin, audit
from tenants.errors import Conflict, ServiceError
from tenants.models import ApiKey, Tenant
from tenants.selectors import principals_of

MAX_COMMENT_CHARS = 4000
_PAST_TENSE = {"approve": "approved", "reject": "rejected", "publish": "published", "unpublish": "unpublished"}


class FourEyesViolation(ServiceError):
    status_code = 403
    code = "four_eyes"


@dataclass(frozen=True)
class Reviewer:
    """Who decides: a signed-in person, or an API key (whose chain of issuers ends at the person behind it)."""

    user: Any | None = None
    api_key: ApiKey | None = None

    @property
    def label(self) -> str:
        return Actor.of(user=self.user, api_key=self.api_key, fallback="reviewer").label

    def principals(self, tenant_id: int) -> frozenset[tuple[str, int]]:
        return principals_of(
            tenant=tenant_id,
            user_id=getattr(self.user, "pk", None),
            api_key_id=getattr(self.api_key, "pk", None),
        )


# Review decisions storefront integrations want to hear about.
_WEBHOOK_EVENTS = {ReviewAction.APPROVE: "asset.approved", ReviewAction.PUBLISH: "asset.published"}


def _audit_review_decision(
    *, decision: ReviewDecision, reviewer: Reviewer, origin: RequestOrigin | None = None
) -> None:
    """The decision's audit event (and webhook), inside the decision's transaction."""
    if reviewer.api_key is not None:
        actor = Actor.for_api_key(reviewer.api_key)
    else:
        actor = Actor.resolve(None, user=reviewer.user, fallback="review")
    version = decision.version
    payload = {
        "asset_id": version.asset_id,
        "version": version.number,
        "from": decision.from_status,
        "to": decision.to_status,
        "comment": decision.comment,
        "approved_over_newer": decision.approved_over_newer,
    }
    audit(
        tenant=decision.tenant_id,
        actor=actor,
        action=f"review.{decision.action}",
        target=("asset_version", decision.version_id),
        payload=payload,
        origin=origin,
    )
    if event := _WEBHOOK_EVENTS.get(decision.action):
        webhook_emit(tenant=decision.tenant_id, event=event, payload=payload)


def version_requesters(*, version: AssetVersion) -> frozenset[tuple[str, int]]:
    """The principals behind a version: its user, its key and that key's chain, and the person kept on it."""
    return principals_of(
        tenant=version.tenant_id,
        user_id=version.created_by_id,
        api_key_id=version.created_by_key_id,
        person_id=version.created_by_person_id,
    )


def is_own_request(*, version: AssetVersion, reviewer: Reviewer) -> bool:
    """Four-eyes: the reviewer is (or acts for) the version's requester."""
    return bool(version_requesters(version=version) & reviewer.principals(version.tenant_id))


def _check_four_eyes(version: AssetVersion, reviewer: Reviewer) -> None:
    if is_own_request(version=version, reviewer=reviewer):
        raise FourEyesViolation(
            "the requester of this version may not approve it (four-eyes: the same person, directly or through "
            "an API key they minted, or the same key or chain of keys): another reviewer must decide",
            field="reviewer",
        )


def _newer_waiting(version: AssetVersion) -> list[int]:
    return list(
        AssetVersion.objects.for_tenant(version.tenant_id)
        .filter(asset_id=version.asset_id, number__gt=version.number, status=VersionStatus.NEEDS_REVIEW)
        .order_by("number")
        .values_list("number", flat=True)
    )


def _decide(
    *,
    version: AssetVersion,
    reviewer: Reviewer,
    action: str,
    comment: str,
    approve_over_newer: bool = False,
    origin: RequestOrigin | None = None,
) -> ReviewDecision:
    comment = (comment or "").strip()
    if len(comment) > MAX_COMMENT_CHARS:
        raise ValidationError({"comment": f"at most {MAX_COMMENT_CHARS} characters"})
    if action == ReviewAction.REJECT and not comment:
        raise ValidationError({"comment": "a rejection needs a comment saying why"})
    tenant_id = version.tenant_id
    sources, target = review_action_sources(action)
    with transaction.atomic():
        Asset.objects.for_tenant(tenant_id).select_for_update(no_key=True).get(pk=version.asset_id)
        current = AssetVersion.objects.for_tenant(tenant_id).get(pk=version.pk)
        if action == ReviewAction.APPROVE:
            _check_four_eyes(current, reviewer)
            if current.checks_state == ChecksState.PENDING:
                # Its copy is still being read back: an approval now would skip what the checks find.
                raise Conflict(
                    "the copy and brand checks of this version are still running; approve it when they are done",
                    field="status",
                    code="checks_pending",
                )
        if current.status not in sources:
            raise Conflict(
                f"a {current.status} version cannot be {_PAST_TENSE[action]}", field="status", code="invalid_transition"
            )
        over_newer = False
        if action == ReviewAction.APPROVE and (newer := _newer_waiting(current)):
            if not approve_over_newer:
                raise Conflict(
                    f"newer version(s) {', '.join(map(str, newer))} of this asset wait for review; to approve "
                    f"version {current.number} anyway, say so with approve_over_newer=true",
                    field="approve_over_newer",
                    code="newer_version_waiting",
                )
            over_newer = True
        moved = (
            AssetVersion.objects.for_tenant(tenant_id).filter(pk=current.pk, status__in=sources).update(status=target)
        )
        if not moved:  # unreachable under the asset lock; kept as the UPDATE's own guard
            raise Conflict("the version changed while deciding; try again", field="status", code="invalid_transition")
        decision = ReviewDecision.objects.for_tenant(tenant_id).create(
            tenant_id=tenant_id,
            version=current,
            action=action,
            from_status=current.status,
            to_status=target,
            comment=comment,
            approved_over_newer=over_newer,
            decided_by=reviewer.user,
            decided_by_key=reviewer.api_key,
            actor_label=reviewer.label,
        )
        _audit_review_decision(decision=decision, reviewer=reviewer, origin=origin)
    version.status = target
    return decision


def version_approve(
    *,
    version: AssetVersion,
    reviewer: Reviewer,
    comment: str = "",
    approve_over_newer: bool = False,
    origin: RequestOrigin | None = None,
) -> ReviewDecision:
    return _decide(
        version=version,
        reviewer=reviewer,
        action=ReviewAction.APPROVE,
        comment=comment,
        approve_over_newer=approve_over_newer,
        origin=origin,
    )


def version_reject(
    *, version: AssetVersion, reviewer: Reviewer, comment: str, origin: RequestOrigin | None = None
) -> ReviewDecision:
    return _decide(version=version, reviewer=reviewer, action=ReviewAction.REJECT, comment=comment, origin=origin)


def version_publish(
    *, version: AssetVersion, reviewer: Reviewer, comment: str = "", origin: RequestOrigin | None = None
) -> ReviewDecision:
    return _decide(version=version, reviewer=reviewer, action=ReviewAction.PUBLISH, comment=comment, origin=origin)


def version_unpublish(
    *, version: AssetVersion, reviewer: Reviewer, comment: str = "", origin: RequestOrigin | None = None
) -> ReviewDecision:
    return _decide(version=version, reviewer=reviewer, action=ReviewAction.UNPUBLISH, comment=comment, origin=origin)


# --- bulk -------------------------------------------------------------------------------------

MAX_BULK_VERSIONS = 500


class BulkSkip(StrEnum):
    """Why a version of a bulk decision was left as it was."""

    FOUR_EYES = "four_eyes"  # the reviewer requested it: another reviewer must approve it
    WRONG_STATUS = "wrong_status"  # its status does not allow the action (already decided, or not yet approved)
    NEWER_VERSION_WAITING = "newer_version_waiting"  # a newer version of its asset waits: decide that one
    CHECKS_PENDING = "checks_pending"  # its copy is still being read back: decide it when the checks are done
    NOT_FOUND = "not_found"  # no such version in this tenant (another tenant's ids look exactly like this)
    INVALID = "invalid"  # the decision itself was refused (the reason is in the detail)


@dataclass(frozen=True)
class BulkSkipped:
    version_id: int
    reason: BulkSkip
    detail: str


@dataclass
class BulkReviewReport:
    action: str
    done: list[int] = field(default_factory=list)
    skipped: list[BulkSkipped] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {
            "action": self.action,
            "requested": len(self.done) + len(self.skipped),
            "done": self.done,
            "skipped": [
                {"version_id": s.version_id, "reason": str(s.reason), "detail": s.detail} for s in self.skipped
            ],
        }


_SINGLE = {
    ReviewAction.APPROVE: version_approve,
    ReviewAction.REJECT: version_reject,
    ReviewAction.PUBLISH: version_publish,
    ReviewAction.UNPUBLISH: version_unpublish,
}


def _skip_reason(exc: ServiceError) -> BulkSkip:
    if isinstance(exc, FourEyesViolation):
        return BulkSkip.FOUR_EYES
    if exc.code == "invalid_transition":
        return BulkSkip.WRONG_STATUS
    if exc.code == "newer_version_waiting":
        return BulkSkip.NEWER_VERSION_WAITING
    if exc.code == "checks_pending":
        return BulkSkip.CHECKS_PENDING
    return BulkSkip.INVALID


def versions_review_bulk(
    *,
    tenant: Tenant | int,
    action: str,
    version_ids: list[int],
    reviewer: Reviewer,
    comment: str = "",
    origin: RequestOrigin | None = None,
) -> BulkReviewReport:
    """One decision over many versions, each through the single-version service in its own transaction.

    One transaction per version, not one for all: a version another reviewer decided meanwhile, or one the
    reviewer requested (four-eyes), is skipped and reported while the rest are decided, and no lock is held
    across the whole selection. Each decision writes its own record, audit event and webhook, exactly as one
    made on its own; a `review.bulk` event then records the request with what was done and skipped.
    Versions are decided in id order (oldest first): of two waiting versions of one asset, approving the older
    is skipped (`newer_version_waiting`, never approved over the newer by accident), the newer is approved.
    """
    if action not in _SINGLE:
        raise ServiceError(f"action must be one of {', '.join(_SINGLE)}", field="action")
    ids = sorted(dict.fromkeys(version_ids))
    if not ids:
        raise ServiceError("name at least one version", field="version_ids")
    if len(ids) > MAX_BULK_VERSIONS:
        raise ServiceError(
            f"at most {MAX_BULK_VERSIONS} versions per call ({len(ids)} given): split the selection",
            field="version_ids",
            code="too_many",
        )
    comment = (comment or "").strip()
    # The comment is checked once for the whole selection, not reported once per version.
    if len(comment) > MAX_COMMENT_CHARS:
        raise ServiceError(f"at most {MAX_COMMENT_CHARS} characters", field="comment")
    if action == ReviewAction.REJECT and not comment:
        raise ServiceError("a rejection needs a comment saying why (one comment for all)", field="comment")
    tenant_id = getattr(tenant, "pk", tenant)
    found = AssetVersion.objects.for_tenant(tenant_id).select_related("asset").in_bulk(ids)
    report = BulkReviewReport(action=action)
    service = _SINGLE[action]
    for version_id in ids:
        version = found.get(version_id)
        if version is None:
            report.skipped.append(BulkSkipped(version_id, BulkSkip.NOT_FOUND, "no such version"))
            continue
        try:
            service(version=version, reviewer=reviewer, comment=comment, origin=origin)
        except ServiceError as exc:
            report.skipped.append(BulkSkipped(version_id, _skip_reason(exc), exc.message))
        except ValidationError as exc:
            report.skipped.append(BulkSkipped(version_id, BulkSkip.INVALID, "; ".join(exc.messages)))
        else:
            report.done.append(version_id)
    _audit_bulk(tenant_id=tenant_id, reviewer=reviewer, report=report, comment=comment, origin=origin)
    return report


def _audit_bulk(
    *, tenant_id: int, reviewer: Reviewer, report: BulkReviewReport, comment: str, origin: RequestOrigin | None
) -> None:
    """What was asked and what became of it; the skipped versions have no decision of their own to show it."""
    if reviewer.api_key is not None:
        actor = Actor.for_api_key(reviewer.api_key)
    else:
        actor = Actor.resolve(None, user=reviewer.user, fallback="review")
    with transaction.atomic():
        audit(
            tenant=tenant_id,
            actor=actor,
            action="review.bulk",
            target=("tenant", tenant_id),
            payload={**report.as_dict(), "comment": comment},
            origin=origin,
        )


# --- selectors ----------------------------------------------------------------------------------


def review_queue(*, tenant: Tenant) -> QuerySet[AssetVersion]:
    """Versions waiting for a person, oldest first."""
    return (
        AssetVersion.objects.for_tenant(tenant)
        .filter(status=VersionStatus.NEEDS_REVIEW)
        .select_related("asset", "created_by", "created_by_key", "created_by_person")
        .prefetch_related(Prefetch("renditions", queryset=Rendition.unscoped.order_by("spec")))
        .order_by("id")
    )


def version_of_asset(*, tenant: Tenant, asset_id: int, number: int) -> AssetVersion:
    """Raises AssetVersion.DoesNotExist for another tenant's asset as for a missing one."""
    return AssetVersion.objects.for_tenant(tenant).select_related("asset").get(asset_id=asset_id, number=number)


def review_decisions(*, version: AssetVersion) -> QuerySet[ReviewDecision]:
    return ReviewDecision.objects.for_tenant(version.tenant_id).filter(version=version).order_by("id")
