"""Writes of the library's metadata: collections, asset facts, and a version's focal point and alt texts.

One transaction each. A version's pixels never change; its focal point and alt texts may.
Moving the focal point deletes the renditions cut around the old one (fills and placements)
and queues them again, so a crop never disagrees with the version's focal point for longer
than a render.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone

from dam.models import Asset, AssetVersion, ChecksState, Collection
from dam.renditions.presets import PLACEMENT_PREFIX
from dam.selectors.search import asset_search_refresh
from dam.services.assets import _clean_tags
from dam.tasks import crops_recheck_enqueue, renditions_up_front_enqueue
from tenants.audit import Actor, RequestOrigin, audit, changes
from tenants.locking import lock_for_change, lock_key_share
from tenants.models import Tenant

SLUG = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$")
# BCP 47 in practice: a language, then script/region/variant subtags ("en", "pt-BR", "zh-Hant-TW").
LOCALE = re.compile(r"^[A-Za-z]{2,3}(?:-[A-Za-z0-9]{2,8}){0,3}$")
MAX_ALT_TEXT_CHARS = 1000
MAX_ALT_TEXT_LOCALES = 50
UNSET: Any = object()


def _clean_slug(slug: Any) -> str:
    if not isinstance(slug, str) or not SLUG.match(slug):
        raise ValidationError({"slug": "lowercase letters, digits and hyphens, 1-63 characters"})
    return slug


@transaction.atomic
def collection_create(
    *, tenant: Tenant, slug: str, name: str = "", actor: Actor | None = None, origin: RequestOrigin | None = None
) -> Collection:
    slug = _clean_slug(slug)
    try:
        with transaction.atomic():
            collection = Collection.objects.for_tenant(tenant).create(
                tenant=tenant, slug=slug, name=(name or slug)[:200]
            )
    except IntegrityError:
        raise ValidationError({"slug": f"a collection {slug!r} already exists"}) from None
    audit(
        tenant=tenant,
        actor=Actor.resolve(actor),
        action="collection.created",
        target=("collection", collection.pk),
        payload={"slug": collection.slug, "name": collection.name},
        origin=origin,
    )
    return collection


def _collection_values(collection: Collection) -> dict[str, str]:
    return {"slug": collection.slug, "name": collection.name}


@transaction.atomic
def collection_update(
    *, collection: Collection, actor: Actor | None = None, origin: RequestOrigin | None = None, **updates: Any
) -> Collection:
    unknown = set(updates) - {"slug", "name"}
    if unknown:
        raise ValidationError(dict.fromkeys(sorted(unknown), "cannot be changed"))
    # The row as it is now, locked before the audit chain head; gone since the caller read it: 404.
    collection = lock_for_change(Collection.objects.for_tenant(collection.tenant_id), collection.pk, label="collection")
    before = _collection_values(collection)
    if "slug" in updates:
        collection.slug = _clean_slug(updates["slug"])
    if "name" in updates:
        if not isinstance(updates["name"], str) or not updates["name"].strip():
            raise ValidationError({"name": "a non-empty name of at most 200 characters"})
        collection.name = updates["name"].strip()[:200]
    try:
        with transaction.atomic():
            collection.save(update_fields=[*updates])
    except IntegrityError:
        raise ValidationError({"slug": f"a collection {collection.slug!r} already exists"}) from None
    audit(
        tenant=collection.tenant_id,
        actor=Actor.resolve(actor),
        action="collection.updated",
        target=("collection", collection.pk),
        payload=changes(before, _collection_values(collection)),
        origin=origin,
    )
    return collection


@transaction.atomic
def collection_delete(
    *, collection: Collection, actor: Actor | None = None, origin: RequestOrigin | None = None
) -> None:
    """The collection goes; its assets stay, outside any collection."""
    # Its row first (FOR UPDATE: an asset moving in holds it FOR KEY SHARE and is waited for), then
    # its assets (the delete sets their collection to NULL), then the audit chain head: auditing
    # first took the head before the rows, the reverse of every update of them (a deadlock).
    collection = lock_for_change(
        Collection.objects.for_tenant(collection.tenant_id), collection.pk, label="collection", delete=True
    )
    collection_id, payload = collection.pk, {**_collection_values(collection), "assets": collection.assets.count()}
    collection.delete()
    audit(
        tenant=collection.tenant_id,
        actor=Actor.resolve(actor),
        action="collection.deleted",
        target=("collection", collection_id),
        payload=payload,
        origin=origin,
    )


def _asset_values(asset: Asset) -> dict[str, Any]:
    return {"title": asset.title, "tags": list(asset.tags), "collection": asset.collection_id, "locale": asset.locale}


@transaction.atomic
def asset_update(
    *,
    asset: Asset,
    title: str = UNSET,
    tags: Iterable[str] = UNSET,
    collection: Collection | None = UNSET,
    locale: str = UNSET,
    actor: Actor | None = None,
    origin: RequestOrigin | None = None,
) -> Asset:
    # Lock order (tenants.locking): the collection it moves into, the asset, the audit chain head.
    if collection is not UNSET and collection is not None:
        if collection.tenant_id != asset.tenant_id:
            raise ValidationError({"collection": "not found"})
        if not lock_key_share(Collection.objects.for_tenant(asset.tenant_id), collection.pk):
            raise ValidationError({"collection": "not found"})  # deleted since the caller looked it up
    asset = lock_for_change(Asset.objects.for_tenant(asset.tenant_id), asset.pk, label="asset")
    before = _asset_values(asset)
    fields = []
    if title is not UNSET:
        if not isinstance(title, str) or not title.strip():
            raise ValidationError({"title": "a non-empty title"})
        asset.title, fields = title.strip()[:300], [*fields, "title"]
    if tags is not UNSET:
        asset.tags, fields = _clean_tags(tags), [*fields, "tags"]
    if collection is not UNSET:
        asset.collection, fields = collection, [*fields, "collection"]
    if locale is not UNSET:
        if locale and not LOCALE.match(locale):
            raise ValidationError({"locale": "a locale such as en, en-US or ja-JP"})
        asset.locale, fields = locale, [*fields, "locale"]
    if fields:
        asset.save(update_fields=[*fields, "updated_at"])
        asset_search_refresh(asset_id=asset.pk, tenant_id=asset.tenant_id)
        audit(
            tenant=asset.tenant_id,
            actor=Actor.resolve(actor),
            action="asset.updated",
            target=("asset", asset.pk),
            payload=changes(before, _asset_values(asset)),
            origin=origin,
        )
    return asset


def _archive_set(*, asset: Asset, archived: bool, actor: Actor | None, origin: RequestOrigin | None) -> bool:
    # Decided on the locked row, so two archivings at once write (and audit) one change, not two.
    asset = lock_for_change(Asset.objects.for_tenant(asset.tenant_id), asset.pk, label="asset")
    if (asset.archived_at is not None) == archived:
        return False
    asset.archived_at = timezone.now() if archived else None
    asset.save(update_fields=["archived_at", "updated_at"])
    audit(
        tenant=asset.tenant_id,
        actor=Actor.resolve(actor),
        action="asset.archived" if archived else "asset.unarchived",
        target=("asset", asset.pk),
        payload={"title": asset.title},
        origin=origin,
    )
    return True


@transaction.atomic
def asset_archive(*, asset: Asset, actor: Actor | None = None, origin: RequestOrigin | None = None) -> bool:
    """Archive an asset: out of the lists (the browser's and the API's by default, every storefront's), still
    reachable by id; its versions, renditions and published byte URLs are untouched. True when it changed;
    False (nothing written) when it was already archived."""
    return _archive_set(asset=asset, archived=True, actor=actor, origin=origin)


@transaction.atomic
def asset_unarchive(*, asset: Asset, actor: Actor | None = None, origin: RequestOrigin | None = None) -> bool:
    """Bring an archived asset back into the lists. True when it changed; False when it was not archived."""
    return _archive_set(asset=asset, archived=False, actor=actor, origin=origin)


def _clean_focal_point(value: Any) -> tuple[float, float] | None:
    if value is None:
        return None
    if not isinstance(value, dict) or set(value) != {"x", "y"}:
        raise ValidationError({"focal_point": 'null, or {"x": 0..1, "y": 0..1} as fractions of width and height'})
    point = []
    for axis in ("x", "y"):
        number = value[axis]
        if isinstance(number, bool) or not isinstance(number, int | float) or not 0 <= number <= 1:
            raise ValidationError({"focal_point": f"{axis} must be a number from 0 to 1"})
        point.append(round(float(number), 4))
    return point[0], point[1]


def alt_text_merged(current: dict[str, str], changes: Any) -> dict[str, str]:
    if not isinstance(changes, dict):
        raise ValidationError({"alt_text": '{"<locale>": "text"}; an empty text or null removes a locale'})
    merged = dict(current)
    for locale, text in changes.items():
        if not isinstance(locale, str) or not LOCALE.match(locale):
            raise ValidationError({"alt_text": f"{locale!r} is not a locale such as en, en-US or ja-JP"})
        if text is None or (isinstance(text, str) and not text.strip()):
            merged.pop(locale, None)
            continue
        if not isinstance(text, str) or len(text) > MAX_ALT_TEXT_CHARS:
            raise ValidationError({"alt_text": f"{locale}: text of at most {MAX_ALT_TEXT_CHARS} characters"})
        merged[locale] = text.strip()
    if len(merged) > MAX_ALT_TEXT_LOCALES:
        raise ValidationError({"alt_text": f"at most {MAX_ALT_TEXT_LOCALES} locales"})
    return merged


def _metadata_values(version: AssetVersion) -> dict[str, Any]:
    focal = None if version.focal_x is None else {"x": version.focal_x, "y": version.focal_y}
    return {"focal_point": focal, "alt_text": dict(version.alt_text or {})}


@transaction.atomic
def version_metadata_update(
    *,
    version: AssetVersion,
    focal_point: Any = UNSET,
    alt_text: Any = UNSET,
    actor: Actor | None = None,
    origin: RequestOrigin | None = None,
) -> AssetVersion:
    """Set the focal point (`{"x", "y"}` fractions, or None for the centre) and/or merge alt texts per locale."""
    # The asset row first, as version creation and review take it: its search vector is rewritten below,
    # and taking the version first would be the reverse of a review's order (a deadlock).
    lock_for_change(Asset.objects.for_tenant(version.tenant_id), version.asset_id, label="asset")
    # FOR UPDATE: waits for renders holding the focal point (FOR SHARE) and keeps new ones waiting.
    locked = AssetVersion.objects.for_tenant(version.tenant_id).select_for_update(no_key=True).get(pk=version.pk)
    before = _metadata_values(locked)
    fields = []
    if focal_point is not UNSET:
        point = _clean_focal_point(focal_point)
        new = (None, None) if point is None else point
        if (locked.focal_x, locked.focal_y) != new:
            locked.focal_x, locked.focal_y = new
            fields += ["focal_x", "focal_y"]
            # Crops around the old point are stale; keep the row count honest and cut them again.
            locked.renditions.filter(Q(spec__startswith=PLACEMENT_PREFIX) | Q(spec__startswith="fill-")).delete()
            renditions_up_front_enqueue(version_id=locked.pk)
            if locked.checks_state == ChecksState.DONE:
                # Cut around the new point, a placement may lose the copy its checks kept whole.
                crops_recheck_enqueue(version_id=locked.pk)
    if alt_text is not UNSET:
        merged = alt_text_merged(locked.alt_text or {}, alt_text)
        if merged != locked.alt_text:
            locked.alt_text = merged
            fields.append("alt_text")
    if fields:
        locked.save(update_fields=fields)
        if "alt_text" in fields:
            asset_search_refresh(asset_id=locked.asset_id, tenant_id=locked.tenant_id)
        audit(
            tenant=locked.tenant_id,
            actor=Actor.resolve(actor),
            action="version.metadata_updated",
            target=("asset_version", locked.pk),
            payload={"asset": locked.asset_id, "number": locked.number, **changes(before, _metadata_values(locked))},
            origin=origin,
        )
    return locked
