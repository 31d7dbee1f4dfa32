"""Writes for the asset library. One transaction each."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Max

from dam.blobs import StoredBlob
from dam.lifecycle import VersionStatus
from dam.models import Asset, AssetVersion, ChecksState, Collection
from dam.selectors.search import asset_current_version_set
from dam.services.renditions import rendition_create  # noqa: F401  (its home is the renditions' services)
from dam.services.webhooks import webhook_emit
from dam.tasks import renditions_up_front_enqueue, version_checks_enqueue
from tenants.audit import Actor, RequestOrigin, audit
from tenants.models import Tenant

MAX_TAGS = 50


def _clean_tags(tags: Iterable[str]) -> list[str]:
    cleaned = list(dict.fromkeys(t.strip().lower() for t in tags if t and t.strip()))
    if len(cleaned) > MAX_TAGS:
        raise ValidationError({"tags": f"at most {MAX_TAGS} tags"})
    if any(len(t) > 64 for t in cleaned):
        raise ValidationError({"tags": "each tag at most 64 characters"})
    return cleaned


@transaction.atomic
def collection_get_or_create(*, tenant: Tenant, slug: str, name: str = "") -> Collection:
    collection, _ = Collection.objects.for_tenant(tenant).get_or_create(
        tenant=tenant, slug=slug, defaults={"name": name or slug}
    )
    return collection


# No savepoint when nested: a failure here fails the caller's transaction anyway, and a job's
# output transaction saves two statements per version (asset_version_create keeps the one it needs).
@transaction.atomic(savepoint=False)
def asset_create(
    *,
    tenant: Tenant,
    title: str,
    source: str,
    collection: Collection | None = None,
    tags: Iterable[str] = (),
    family: str = "",
    locale: str = "",
    campaign_id: int | None = None,
    creative: str = "",
    placements: Iterable[str] = (),
) -> Asset:
    """`campaign_id`, `creative` and `placements`: where a campaign's output sits in its grid, and the
    placement slugs any generated asset is cut for (filterable fields of the library)."""
    if collection is not None and collection.tenant_id != tenant.pk:
        raise ValidationError({"collection": "not found"})
    return Asset.objects.for_tenant(tenant).create(
        tenant=tenant,
        title=title[:300],
        source=source,
        collection=collection,
        tags=_clean_tags(tags),
        family=family,
        locale=locale,
        campaign_id=campaign_id,
        creative=creative,
        placements=list(dict.fromkeys(placements)),
    )


@transaction.atomic(savepoint=False)
def asset_version_create(
    *,
    asset: Asset,
    blob: StoredBlob,
    width: int,
    height: int,
    image_format: str,
    parent: AssetVersion | None = None,
    actor: Actor | None = None,
    origin: RequestOrigin | None = None,
    new_asset: bool = False,
    **provenance: Any,
) -> AssetVersion:
    """Append version n+1 to the asset and make it current; audited, and announced to webhooks.

    Idempotent for generated outputs: the same (job, provider request, output index) returns
    the version already written instead of adding another. `new_asset`: the caller created
    `asset` in this transaction, so this is version 1 and nothing can race for it.
    """
    if parent is not None and parent.asset_id != asset.pk:
        raise ValidationError({"parent": "must be a version of the same asset"})
    if "created_by_person" not in provenance and "created_by_person_id" not in provenance:
        # The person behind the request: the user, else the key's person (a key minted with a key carries
        # the person at the root of its chain). Ids only: the generation path counts its statements.
        user, key = provenance.get("created_by"), provenance.get("created_by_key")
        provenance["created_by_person_id"] = user.pk if user is not None else getattr(key, "created_by_id", None)
    fields = {
        "tenant_id": asset.tenant_id,
        "parent": parent,
        # The asset's campaign, which never changes: the review board sorts its backlog by it on an index.
        "campaign_id": asset.campaign_id,
        **blob.row_fields(),
        "width": width,
        "height": height,
        "format": image_format,
        **provenance,
    }
    if new_asset:
        # Made in the caller's transaction: nobody else can see it, so no lock, no lookup, no race.
        version = AssetVersion.objects.for_tenant(asset.tenant_id).create(asset=asset, number=1, **fields)
        locked = asset
    else:
        job_id = provenance.get("job_id")
        same_output = {
            "job_id": job_id,
            "provider_request_id": provenance.get("provider_request_id", ""),
            "output_index": provenance.get("output_index", 0),
        }
        if job_id is not None and (
            found := AssetVersion.objects.for_tenant(asset.tenant_id).filter(**same_output).first()
        ):
            return found
        # Lock the asset row: concurrent edits of one asset get consecutive numbers.
        locked = Asset.objects.for_tenant(asset.tenant_id).select_for_update(no_key=True).get(pk=asset.pk)
        fields["campaign_id"] = locked.campaign_id  # the row's, whatever the caller's copy says
        number = (locked.versions.aggregate(n=Max("number"))["n"] or 0) + 1
        try:
            with transaction.atomic():
                version = AssetVersion.objects.for_tenant(asset.tenant_id).create(asset=locked, number=number, **fields)
        except IntegrityError:
            if job_id is None:
                raise
            # Lost a race with another run of the same job output: return the winner's row.
            return AssetVersion.objects.for_tenant(asset.tenant_id).get(**same_output)
    # The library's follow-ups of a new version: current and searchable now, renditions once committed.
    asset_current_version_set(asset=locked, version=version)
    asset.current_version = version
    renditions_up_front_enqueue(version_id=version.pk)
    if version.checks_state == ChecksState.PENDING:
        version_checks_enqueue(version_id=version.pk)
    facts = {
        "asset_id": asset.pk,
        "version": version.number,
        "parent": parent.number if parent else None,
        "status": version.status,
        "job_id": version.job_id,
        "sha256": version.sha256,
        "width": width,
        "height": height,
        "format": image_format,
        "locale": version.locale,
    }
    audit(
        tenant=asset.tenant_id,
        actor=Actor.resolve(actor, user=provenance.get("created_by"), fallback="worker"),
        action="asset.version_created",
        target=("asset_version", version.pk),
        payload={**facts, "requester": version.requester},  # not in the webhook: ids of people
        origin=origin,
    )
    if version.status != VersionStatus.BLOCKED:  # a quarantined output is never announced
        webhook_emit(tenant=asset.tenant_id, event="asset.version_created", payload=facts)
    return version
