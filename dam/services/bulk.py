"""Bulk work on the library: one call over many assets, one transaction per asset.

Each asset goes through the single-item service (`asset_update`, `publish_window_set`, `asset_archive`,
`asset_unarchive`, `version_checks_rerun`), so every change
is checked, locked and audited exactly as when it is made one at a time. A refusal of one asset (gone
since it was selected, no current version, a rule of the service) skips that asset only: what was done
stays done, and the result lists each skipped asset with its reason. Assets of another tenant are
"not found", like ids that never existed.

A selection of more than `BULK_INLINE_MAX` assets is a bulk operation instead (`bulk_operation_start`): stored
with its resolved ids, run in the background by the `dam.bulk.run` task (`bulk_operation_run`) through the same
per-asset path, with its progress on the row for the API and the staff UI to poll. Each asset's transaction
also moves the operation's progress past it, so a run after a crash resumes exactly where the last committed
asset left off: no asset is changed, or audited, twice.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import InterfaceError, OperationalError, transaction
from django.db.models import F, JSONField, Value
from django.db.models.expressions import CombinedExpression
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from dam.models import Asset, BulkOperation, Collection
from dam.services.assets import _clean_tags
from dam.services.checks import version_checks_rerun
from dam.services.delivery import publish_window_set
from dam.services.metadata import asset_archive, asset_unarchive, asset_update
from dam.tasks import BULK_OPERATION_TIME_LIMIT, bulk_operation_enqueue
from tenants.audit import Actor, RequestOrigin, audit
from tenants.errors import ServiceError
from tenants.locking import lock_for_change
from tenants.models import ApiKey, Tenant

# One request's worth: a bigger selection is several calls (or a filter narrowed further).
MAX_BULK_ASSETS = 1000
ACTIONS = ("tag", "untag", "move", "publish_window", "archive", "unarchive", "recheck")


@dataclass(frozen=True)
class Skipped:
    asset_id: int
    reason: str
    title: str = ""


@dataclass
class BulkResult:
    action: str
    done: list[int] = field(default_factory=list)
    skipped: list[Skipped] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {
            "action": self.action,
            "done": self.done,
            "skipped": [{"id": s.asset_id, "title": s.title, "reason": s.reason} for s in self.skipped],
        }


class _Skip(Exception):
    """This asset is left as it is, for the reason given."""


def _reason(exc: Exception) -> str:
    if isinstance(exc, ServiceError):
        return exc.message
    if isinstance(exc, ValidationError):
        messages = exc.message_dict if hasattr(exc, "error_dict") else {"": exc.messages}
        return "; ".join(f"{name}: {' '.join(texts)}" if name else " ".join(texts) for name, texts in messages.items())
    return str(exc)


def _tag(asset: Asset, tags: list[str], **who: Any) -> None:
    # The row locked before reading its tags: a concurrent tagging of the same asset is not lost.
    with transaction.atomic():
        locked = lock_for_change(Asset.objects.for_tenant(asset.tenant_id), asset.pk, label="asset")
        missing = [t for t in tags if t not in locked.tags]
        if not missing:
            raise _Skip("already tagged " + ", ".join(tags))
        asset_update(asset=locked, tags=[*locked.tags, *missing], **who)


def _untag(asset: Asset, tags: list[str], **who: Any) -> None:
    with transaction.atomic():
        locked = lock_for_change(Asset.objects.for_tenant(asset.tenant_id), asset.pk, label="asset")
        kept = [t for t in locked.tags if t not in tags]
        if kept == list(locked.tags):
            raise _Skip("has none of the tags " + ", ".join(tags))
        asset_update(asset=locked, tags=kept, **who)


def _move(asset: Asset, collection: Collection | None, **who: Any) -> None:
    if asset.collection_id == (collection.pk if collection else None):
        raise _Skip("already in this collection" if collection else "already outside any collection")
    asset_update(asset=asset, collection=collection, **who)


def _window(asset: Asset, available_from: dt.datetime | None, available_until: dt.datetime | None, **who: Any) -> None:
    if asset.current_version_id is None:
        raise _Skip("has no version yet")
    publish_window_set(
        version=asset.current_version, available_from=available_from, available_until=available_until, **who
    )


def _archive(asset: Asset, **who: Any) -> None:
    if not asset_archive(asset=asset, **who):
        raise _Skip("already archived")


def _unarchive(asset: Asset, **who: Any) -> None:
    if not asset_unarchive(asset=asset, **who):
        raise _Skip("not archived")


def _recheck(asset: Asset, *, actor: Actor | None, origin: RequestOrigin | None) -> None:
    if asset.current_version_id is None:
        raise _Skip("has no version yet")
    version_checks_rerun(version=asset.current_version, actor=actor or Actor.system("bulk"), origin=origin)


@dataclass(frozen=True)
class BulkChange:
    """What to do to each asset: the action and its arguments."""

    action: str
    tags: Sequence[str] = ()
    collection: Collection | None = None
    available_from: dt.datetime | None = None
    available_until: dt.datetime | None = None

    def __post_init__(self) -> None:
        if self.action not in ACTIONS:
            raise ValidationError({"action": f"one of {', '.join(ACTIONS)}"})
        if self.action in ("tag", "untag"):
            cleaned = _clean_tags(self.tags)
            if not cleaned:
                raise ValidationError({"tags": "at least one tag"})
            object.__setattr__(self, "tags", tuple(cleaned))
        if self.available_from and self.available_until and self.available_from >= self.available_until:
            raise ValidationError({"available_until": "must be after available_from"})


def _checked(*, tenant: Tenant, asset_ids: Iterable[int], change: BulkChange, limit: int) -> list[int]:
    """The selection without repeats, once it and the change are known to be acceptable (in the request,
    or in the background: the same rules)."""
    ids = list(dict.fromkeys(int(i) for i in asset_ids))
    if len(ids) > limit:
        raise ValidationError({"ids": f"at most {limit} assets at once"})
    if change.collection is not None and change.collection.tenant_id != tenant.pk:
        raise ValidationError({"collection": "not found"})
    return ids


def assets_bulk_update(
    *,
    tenant: Tenant,
    asset_ids: Iterable[int],
    change: BulkChange,
    actor: Actor | None = None,
    origin: RequestOrigin | None = None,
) -> BulkResult:
    """Apply `change` to each of the tenant's `asset_ids`, each in its own transaction, audited per asset.

    Not atomic as a whole on purpose: a thousand assets in one transaction would hold a thousand row
    locks (and the audit chain head) for the whole run, and one refusal would undo every other change."""
    ids = _checked(tenant=tenant, asset_ids=asset_ids, change=change, limit=MAX_BULK_ASSETS)
    found = _assets(tenant.pk, ids)
    result = BulkResult(action=change.action)
    who = {"actor": actor, "origin": origin}
    for asset_id in ids:
        skipped = _apply(found.get(asset_id), asset_id, change, who)
        if skipped is None:
            result.done.append(asset_id)
        else:
            result.skipped.append(skipped)
    return result


def _assets(tenant_id: int, ids: Sequence[int]) -> dict[int, Asset]:
    rows = Asset.objects.for_tenant(tenant_id).select_related("current_version").filter(pk__in=ids)
    return {asset.pk: asset for asset in rows}


def _apply(asset: Asset | None, asset_id: int, change: BulkChange, who: dict[str, Any]) -> Skipped | None:
    """Change one asset through its single-item service; the reason it was left alone, or None when changed.

    In a savepoint: a refusal after a write of the service undoes that write only, not the caller's
    transaction (a bulk operation's progress is written in the same transaction)."""
    if asset is None:
        return Skipped(asset_id, "not found")
    try:
        with transaction.atomic():
            if change.action == "tag":
                _tag(asset, list(change.tags), **who)
            elif change.action == "untag":
                _untag(asset, list(change.tags), **who)
            elif change.action == "move":
                _move(asset, change.collection, **who)
            elif change.action == "archive":
                _archive(asset, **who)
            elif change.action == "unarchive":
                _unarchive(asset, **who)
            elif change.action == "recheck":
                _recheck(asset, **who)
            else:
                _window(asset, change.available_from, change.available_until, **who)
    except (_Skip, ServiceError, ValidationError) as exc:
        return Skipped(asset_id, _reason(exc), asset.title)
    return None


# --- Bulk operations: large selections in the background ---------------------------------------------

BULK_MAX_ATTEMPTS = 5
# Stop this long before the task's hard limit, so the operation is marked failed instead of left running.
DEADLINE_MARGIN_SECONDS = 30
# Assets read per query while running (their changes are still one transaction each).
READ_CHUNK = 500
# Skipped assets written to the row at least this often (see _work_through).
SKIP_FLUSH = 100


class Superseded(Exception):
    """A newer run of the same operation has started: this run stops without touching anything."""


def bulk_runs_inline(count: int) -> bool:
    """Whether a selection of `count` assets is done in the request (else: a bulk operation)."""
    return count <= min(settings.BULK_INLINE_MAX, MAX_BULK_ASSETS)


def _parameters(change: BulkChange) -> dict[str, Any]:
    if change.action in ("tag", "untag"):
        return {"tags": list(change.tags)}
    if change.action == "move":
        collection = change.collection
        return {
            "collection_id": collection.pk if collection else None,
            "collection_slug": collection.slug if collection else "",
        }
    if change.action == "publish_window":
        return {
            "available_from": change.available_from.isoformat() if change.available_from else None,
            "available_until": change.available_until.isoformat() if change.available_until else None,
        }
    return {}


def _change_of(operation: BulkOperation) -> BulkChange:
    params = operation.parameters or {}
    collection = None
    if operation.action == "move" and params.get("collection_id") is not None:
        collection = Collection.objects.for_tenant(operation.tenant_id).filter(pk=params["collection_id"]).first()
        if collection is None:
            raise ServiceError(f"the collection {params.get('collection_slug')!r} no longer exists", field="collection")
    return BulkChange(
        action=operation.action,
        tags=params.get("tags", ()),
        collection=collection,
        available_from=parse_datetime(params["available_from"]) if params.get("available_from") else None,
        available_until=parse_datetime(params["available_until"]) if params.get("available_until") else None,
    )


@transaction.atomic
def bulk_operation_start(
    *,
    tenant: Tenant,
    asset_ids: Iterable[int],
    change: BulkChange,
    requested_by: Any = None,
    requested_by_key: ApiKey | None = None,
    actor: Actor | None = None,
    origin: RequestOrigin | None = None,
) -> BulkOperation:
    """Store `change` over the tenant's `asset_ids` as a bulk operation and queue its run (after commit).

    The same rules as `assets_bulk_update`, checked now (a refusal stores nothing); up to
    BULK_OPERATION_MAX_ASSETS assets. Ids not found are reported as skipped by the run, as in the request."""
    ids = _checked(tenant=tenant, asset_ids=asset_ids, change=change, limit=settings.BULK_OPERATION_MAX_ASSETS)
    if not ids:
        raise ValidationError({"ids": "at least one asset"})
    who = Actor.resolve(actor, user=requested_by)
    operation = BulkOperation.objects.for_tenant(tenant).create(
        tenant=tenant,
        requested_by=requested_by,
        requested_by_key=requested_by_key,
        actor={"kind": who.kind, "id": who.id, "label": who.label},
        origin={"request_id": origin.request_id, "ip": origin.ip} if origin else {},
        action=change.action,
        parameters=_parameters(change),
        asset_ids=ids,
        total=len(ids),
    )
    audit(
        tenant=tenant,
        actor=who,
        action="bulk.started",
        target=("bulk_operation", operation.pk),
        payload={"action": change.action, "parameters": operation.parameters, "assets": len(ids)},
        origin=origin,
    )
    bulk_operation_enqueue(operation_id=operation.pk)
    return operation


def _claim(operation_id: int) -> tuple[BulkOperation, int] | None:
    """Start a run: the row locked, the next attempt number taken. None: nothing to do.

    Progress is kept: the run resumes after the last asset whose transaction committed."""
    with transaction.atomic():
        operation = BulkOperation.unscoped.select_for_update().filter(pk=operation_id).first()
        if operation is None or operation.terminal:
            return None
        if operation.attempts >= BULK_MAX_ATTEMPTS:
            _finish(operation, BulkOperation.State.FAILED, f"gave up after {operation.attempts} attempts")
            return None
        operation.attempts += 1
        operation.state = BulkOperation.State.RUNNING
        operation.started_at = operation.started_at or timezone.now()
        operation.error = ""
        operation.save(update_fields=["attempts", "state", "started_at", "error"])
        return operation, operation.attempts


def _finish(operation: BulkOperation, state: str, error: str = "") -> None:
    """In the caller's transaction, with the row locked."""
    operation.state = state
    operation.error = error[:2000]
    operation.finished_at = timezone.now()
    operation.save(update_fields=["state", "error", "finished_at"])
    audit(
        tenant=operation.tenant_id,
        actor=Actor.system("bulk"),
        action="bulk.finished",
        target=("bulk_operation", operation.pk),
        payload={
            "state": state,
            "action": operation.action,
            "total": operation.total,
            "processed": operation.processed,
            "done": operation.done_count,
            "skipped": len(operation.skipped),
            "attempts": operation.attempts,
            "error": operation.error,
        },
    )


def _end_attempt(operation_id: int, attempt: int, state: str, error: str = "") -> bool:
    with transaction.atomic():
        operation = BulkOperation.unscoped.select_for_update().filter(pk=operation_id, attempts=attempt).first()
        if operation is None or operation.state != BulkOperation.State.RUNNING:
            return False
        _finish(operation, state, error)
        return True


def bulk_operation_run(*, operation_id: int, time_limit_seconds: float | None = None) -> str:
    """Work through the operation's assets from where it stands (the task's work). Returns the state it ends
    in, or `superseded` / `skipped`.

    Each asset is one transaction that first locks the operation row and checks it is still this run's and
    still at this asset, then changes the asset through its service (which audits it), then moves `processed`
    past it. All or nothing: a crash before the commit leaves the asset unchanged, unaudited and uncounted,
    and the next run does it; after the commit, the next run starts after it. Two runs racing (a redelivered
    message) take the row lock in turn, and the older one finds a newer attempt and stops."""
    claimed = _claim(operation_id)
    if claimed is None:
        return "skipped"
    operation, attempt = claimed
    limit = BULK_OPERATION_TIME_LIMIT if time_limit_seconds is None else time_limit_seconds
    margin = DEADLINE_MARGIN_SECONDS if limit > DEADLINE_MARGIN_SECONDS * 2 else 0
    deadline = time.monotonic() + limit - margin
    try:
        change = _change_of(operation)
        actor = Actor(**operation.actor) if operation.actor else Actor.system("bulk")
        origin = RequestOrigin(**operation.origin) if operation.origin else None
        _work_through(operation, attempt, change, {"actor": actor, "origin": origin}, deadline)
    except Superseded:
        return "superseded"
    except (ServiceError, ValidationError) as refusal:
        _end_attempt(operation.pk, attempt, BulkOperation.State.FAILED, _reason(refusal))
        return BulkOperation.State.FAILED
    except TimeoutError as stop:
        _end_attempt(operation.pk, attempt, BulkOperation.State.FAILED, str(stop))
        return BulkOperation.State.FAILED
    except (OperationalError, InterfaceError):
        raise  # the database went away: the task retries, and the retry resumes
    except Exception as error:
        # Anything else would leave the operation `running` for good once the message is acked.
        _end_attempt(
            operation.pk, attempt, BulkOperation.State.FAILED, f"the run broke: {type(error).__name__}: {error}"
        )
        raise
    if not _end_attempt(operation.pk, attempt, BulkOperation.State.DONE):
        return "superseded"
    return BulkOperation.State.DONE


def _work_through(
    operation: BulkOperation, attempt: int, change: BulkChange, who: dict[str, Any], deadline: float
) -> None:
    ids, total = list(operation.asset_ids), operation.total
    rows = BulkOperation.unscoped.filter(pk=operation.pk)
    # Skips not yet written. A skip changed nothing and audited nothing, so it may be done again after a
    # crash: they are written with the next changed asset, or every SKIP_FLUSH (a long run of skips still
    # shows progress), instead of rewriting the growing list once per skip.
    pending: list[dict[str, Any]] = []

    def advance(index: int, *, done: bool) -> None:
        fields: dict[str, Any] = {"processed": index + 1}
        if done:
            fields["done_count"] = F("done_count") + 1
        if pending:
            fields["skipped"] = CombinedExpression(F("skipped"), "||", Value(pending, output_field=JSONField()))
        rows.update(**fields)
        pending.clear()

    def locked_at(index: int) -> None:
        # Lock order: the operation, then what the asset's service locks (the asset, the audit chain head).
        current = rows.select_for_update().filter(attempts=attempt, state=BulkOperation.State.RUNNING)
        if current.values_list("processed", flat=True).first() != index - len(pending):
            raise Superseded

    for start in range(operation.processed, total, READ_CHUNK):
        found = _assets(operation.tenant_id, ids[start : start + READ_CHUNK])
        for index in range(start, min(start + READ_CHUNK, total)):
            if time.monotonic() > deadline:
                if pending:
                    with transaction.atomic():
                        locked_at(index)
                        advance(index - 1, done=False)
                raise TimeoutError(f"stopped at the time limit after {index} of {total} assets")
            with transaction.atomic():
                locked_at(index)
                skipped = _apply(found.get(ids[index]), ids[index], change, who)
                if skipped is None:
                    advance(index, done=True)
                    continue
                pending.append({"id": skipped.asset_id, "title": skipped.title, "reason": skipped.reason})
                if len(pending) >= SKIP_FLUSH:
                    advance(index, done=False)
    if pending:
        with transaction.atomic():
            locked_at(total)
            advance(total - 1, done=False)
