"""Bulk work on the library: one call over many assets, one transaction per asset.

Each asset goes through the single-item service (`asset_update`, `publish_window_set`, `asset_archive`,
`asset_unarchive`), so every change
is checked, locked and audited exactly as when it is made one at a time. A refusal of one asset (gone
since it was selected, no current version, a rule of the service) skips that asset only: what was done
stays done, and the result lists each skipped asset with its reason. Assets of another tenant are
"not found", like ids that never existed.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction

from dam.models import Asset, Collection
from dam.services.assets import _clean_tags
from dam.services.delivery import publish_window_set
from dam.services.metadata import asset_archive, asset_unarchive, asset_update
from tenants.audit import Actor, RequestOrigin
from tenants.errors import ServiceError
from tenants.locking import lock_for_change
from tenants.models import Tenant

# One request's worth: a bigger selection is several calls (or a filter narrowed further).
MAX_BULK_ASSETS = 1000
ACTIONS = ("tag", "untag", "move", "publish_window", "archive", "unarchive")


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
    ids = list(dict.fromkeys(int(i) for i in asset_ids))
    if len(ids) > MAX_BULK_ASSETS:
        raise ValidationError({"ids": f"at most {MAX_BULK_ASSETS} assets at once"})
    if change.collection is not None and change.collection.tenant_id != tenant.pk:
        raise ValidationError({"collection": "not found"})
    found = {a.pk: a for a in Asset.objects.for_tenant(tenant).select_related("current_version").filter(pk__in=ids)}
    result = BulkResult(action=change.action)
    who = {"actor": actor, "origin": origin}
    for asset_id in ids:
        asset = found.get(asset_id)
        if asset is None:
            result.skipped.append(Skipped(asset_id, "not found"))
            continue
        try:
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
            else:
                _window(asset, change.available_from, change.available_until, **who)
        except (_Skip, ServiceError, ValidationError) as exc:
            result.skipped.append(Skipped(asset_id, _reason(exc), asset.title))
        else:
            result.done.append(asset_id)
    return result
