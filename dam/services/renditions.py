"""Creating renditions: exactly once per (version, spec), up front or on demand.

Concurrency: the first request for a missing rendition takes a transaction-scoped Postgres
advisory lock on (version, spec), renders, stores the content-addressed blob and inserts the
row; every concurrent request for the same pair waits on that lock and then finds the row.
The unique constraint on (version, spec) stays the last word if two locks ever collide.

A rendition is cut with the focal point the version has when the row is written: the
focal point is re-read under a share lock at insert time and a render made with an older
one is redone (`dam.services.metadata.version_metadata_update` deletes the crops a focal
change makes stale under the matching exclusive lock).
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass, replace

from django.db import connection, transaction

from dam.blobs import StoredBlob, blob_put, blob_read
from dam.credentials.signing import sign_derived
from dam.imaging import EncodedImage
from dam.lifecycle import VersionStatus
from dam.models import AssetVersion, Rendition
from dam.provenance import provenance_for_version, xmp_packet
from dam.renditions.pipeline import DecodedSource, Renderer
from dam.renditions.presets import PLACEMENT_PREFIX, PRESET_SPECS, placement_filter, placement_spec_key
from dam.renditions.spec import FilterSpec, SpecError, parse_spec
from dam.services.settings import library_settings_for
from tenants.errors import ServiceError
from tenants.selectors import placements_for_tenant

logger = logging.getLogger(__name__)
MAX_FOCAL_RETRIES = 3


class InvalidSpec(ServiceError):
    status_code = 400
    code = "invalid_spec"


class SpecNotAllowed(ServiceError):
    status_code = 403
    code = "spec_not_allowed"


class FocalPointMoving(RuntimeError):
    """The focal point changed under every attempt; the task retries later."""


@dataclass(frozen=True)
class ResolvedSpec:
    key: str  # Rendition.spec: 'placement:<slug>' or a canonical filter spec
    filter: FilterSpec
    placement_slug: str = ""


def spec_resolve(*, tenant_id: int, spec: str) -> ResolvedSpec:
    if spec.startswith(PLACEMENT_PREFIX):
        slug = spec.removeprefix(PLACEMENT_PREFIX)
        placement = placements_for_tenant(tenant=tenant_id).filter(slug=slug).first()
        if placement is None:
            raise InvalidSpec(f"no active placement {slug!r}", field="spec")
        try:
            spec_filter = placement_filter(
                width=placement.width,
                height=placement.height,
                output_format=placement.output_format,
                compression=placement.compression,
            )
        except SpecError as error:
            raise InvalidSpec(f"placement {slug!r}: {error}", field="spec") from None
        return ResolvedSpec(placement_spec_key(slug), spec_filter, slug)
    try:
        spec_filter = parse_spec(spec)
    except SpecError as error:
        raise InvalidSpec(str(error), field="spec") from None
    return ResolvedSpec(spec_filter.canonical, spec_filter)


def specs_allowed_on_demand(*, tenant_id: int) -> set[str]:
    """Canonical filter specs a client may request: presets, the allow-list and the placements' own specs."""
    allowed = set(PRESET_SPECS) | set(library_settings_for(tenant=tenant_id).rendition_allow_list)
    for placement in placements_for_tenant(tenant=tenant_id):
        try:
            allowed.add(
                placement_filter(
                    width=placement.width,
                    height=placement.height,
                    output_format=placement.output_format,
                    compression=placement.compression,
                ).canonical
            )
        except SpecError:
            continue
    return allowed


def spec_allowed(*, tenant_id: int, resolved: ResolvedSpec) -> bool:
    return bool(resolved.placement_slug) or resolved.key in specs_allowed_on_demand(tenant_id=tenant_id)


def rendition_blob_put(*, tenant_id: int, image: EncodedImage) -> StoredBlob:
    """Store a rendition's bytes, before its row (dam.blobs): content-addressed, so a retry is harmless."""
    return blob_put(tenant_id=tenant_id, kind="renditions", data=image.data, image_format=image.format)


@transaction.atomic
def rendition_create(
    *,
    version: AssetVersion,
    spec: str,
    blob: StoredBlob,
    width: int,
    height: int,
    image_format: str,
    placement_slug: str = "",
) -> Rendition:
    """The row of a stored rendition, once per (version, spec); a second writer gets the first one's row.

    Both ways a rendition is made end here: rendered from the original (`rendition_get_or_create`, up front
    or on demand) and cut from a generated output beside its version (`generation.services.outputs`, which stores
    the bytes with `rendition_blob_put` before its transaction).
    """
    rendition, _ = Rendition.objects.for_tenant(version.tenant_id).get_or_create(
        version=version,
        spec=spec,
        defaults={
            "tenant_id": version.tenant_id,
            "placement_slug": placement_slug,
            **blob.row_fields(),
            "width": width,
            "height": height,
            "format": image_format,
        },
    )
    return rendition


def rendition_replace(
    *,
    version: AssetVersion,
    spec: str,
    blob: StoredBlob,
    width: int,
    height: int,
    image_format: str,
    placement_slug: str = "",
) -> bool:
    """Store `blob` as the version's rendition for `spec`, replacing the row's file or making the row; True when a
    row was replaced. Under the render lock of (version, spec): a render of the same spec in flight (up front after
    a focal change) either finishes first and is replaced, or finds this row and leaves it."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_xact_lock(%s)", [_lock_key(version.pk, spec)])
    replaced = (
        Rendition.objects.for_tenant(version.tenant_id)
        .filter(version=version, spec=spec)
        .update(**blob.row_fields(), width=width, height=height, format=image_format)
    )
    if not replaced:
        rendition_create(
            version=version,
            spec=spec,
            blob=blob,
            width=width,
            height=height,
            image_format=image_format,
            placement_slug=placement_slug,
        )
    return bool(replaced)


def _lock_key(version_id: int, key: str) -> int:
    digest = hashlib.sha256(f"rendition:{version_id}:{key}".encode()).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


def _current_focal(version_id: int) -> tuple[float, float] | None:
    # FOR SHARE: waits for a focal-point change in flight and holds it off until our insert commits.
    with connection.cursor() as cursor:
        cursor.execute("SELECT focal_x, focal_y FROM dam_assetversion WHERE id = %s FOR SHARE", [version_id])
        focal_x, focal_y = cursor.fetchone()
    return None if focal_x is None else (focal_x, focal_y)


def _existing(version: AssetVersion, key: str) -> Rendition | None:
    return Rendition.objects.for_tenant(version.tenant_id).filter(version_id=version.pk, spec=key).first()


def rendition_get_or_create(
    *,
    version: AssetVersion,
    spec: str,
    on_demand: bool = True,
    renderer: Renderer | None = None,
    source: DecodedSource | None = None,
    original: bytes | None = None,
) -> Rendition:
    """The rendition of `version` for `spec`, rendering and storing it the first time.

    `source`/`original`: the version's original already decoded / read (several renditions in a row read it once;
    the bytes are the parent ingredient of the rendition's C2PA manifest).

    On demand (a client's request), only allowed specs are rendered: presets, placements and
    the tenant's allow-list; anything else is `SpecNotAllowed`. Raises `InvalidSpec` for a spec
    that does not parse.
    """
    resolved = spec_resolve(tenant_id=version.tenant_id, spec=spec)
    if found := _existing(version, resolved.key):
        return found
    if on_demand and not spec_allowed(tenant_id=version.tenant_id, resolved=resolved):
        raise SpecNotAllowed(
            f"{resolved.key!r} is not in this tenant's rendition allow-list (library settings)", field="spec"
        )
    return _render_once(version=version, resolved=resolved, renderer=renderer, source=source, original=original)


@transaction.atomic
def _render_once(
    *,
    version: AssetVersion,
    resolved: ResolvedSpec,
    renderer: Renderer | None,
    source: DecodedSource | None,
    original: bytes | None = None,
) -> Rendition:
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_xact_lock(%s)", [_lock_key(version.pk, resolved.key)])
    if found := _existing(version, resolved.key):
        return found  # made by whoever held the lock before us
    renderer = renderer or Renderer()
    if original is None:
        original = blob_read(version.storage_key)  # the parent ingredient of the rendition's manifest
    if source is None:
        source = renderer.decode(original)
    record = provenance_for_version(version, library_settings_for(tenant=version.tenant_id))
    xmp = xmp_packet(record)
    fx, fy = AssetVersion.objects.for_tenant(version.tenant_id).values_list("focal_x", "focal_y").get(pk=version.pk)
    focal = None if fx is None else (fx, fy)
    for _ in range(MAX_FOCAL_RETRIES):
        encoded = renderer.render(source, resolved.filter, focal=focal, xmp=xmp)
        if not resolved.filter.uses_focal_point:
            break
        current = _current_focal(version.pk)
        if current == focal:
            break
        focal = current
    else:
        raise FocalPointMoving(f"version {version.pk}: the focal point changed during {MAX_FOCAL_RETRIES} renders")
    # Signed over the stamped bytes: c2pa.opened of the original (parentOf), then what the spec did to it.
    signed = sign_derived(
        encoded.data,
        image_format=encoded.format,
        parent=original,
        parent_format=source.format,
        actions=_spec_actions(resolved.filter, source, encoded),
        record=record,
        tenant_id=version.tenant_id,
        title=f"{resolved.key} rendition",
    )
    blob = rendition_blob_put(tenant_id=version.tenant_id, image=replace(encoded, data=signed))
    rendition = rendition_create(
        version=version,
        spec=resolved.key,
        blob=blob,
        width=encoded.width,
        height=encoded.height,
        image_format=encoded.format,
        placement_slug=resolved.placement_slug,
    )
    logger.info(
        "rendition rendered",
        extra={"version_id": version.pk, "spec": resolved.key, "bytes": blob.size, "tenant_id": version.tenant_id},
    )
    return rendition


def _spec_actions(spec: FilterSpec, source: DecodedSource, encoded: EncodedImage) -> list[str]:
    """C2PA actions of a rendition: a fill to another aspect crops; any size change resizes; always re-encoded."""
    actions = []
    if spec.operation == "fill" and encoded.width * source.height != encoded.height * source.width:
        actions.append("c2pa.cropped")
    if (encoded.width, encoded.height) != (source.width, source.height):
        actions.append("c2pa.resized")
    if encoded.format != source.format or not actions:
        actions.append("c2pa.transcoded")
    return actions


def up_front_specs(*, tenant_id: int, version: AssetVersion | None = None) -> list[str]:
    """What a new version gets without anyone asking: the active placements, then the presets.

    A generated version is one aspect group of a size plan: it carries only the placements its
    group was planned for (the other placements come from their own, aspect-matched generation;
    cutting them from this one would crop away most of the picture).
    """
    slugs = [p.slug for p in placements_for_tenant(tenant=tenant_id)]
    planned = (version.size_plan or {}).get("placements") if version is not None and version.job_id else None
    if planned is not None:
        own = {p["slug"] for p in planned}
        slugs = [slug for slug in slugs if slug in own]
    return [*(placement_spec_key(slug) for slug in slugs), *PRESET_SPECS]


def renditions_generate_up_front(*, version_id: int) -> list[str]:
    """Render the missing up-front renditions of a version (decoding its original once); returns their specs."""
    # A task names its version by id only; the row names its tenant.
    version = AssetVersion.unscoped.select_related("asset").filter(pk=version_id).first()
    if version is None or version.status == VersionStatus.BLOCKED:
        return []  # deleted, or quarantined by moderation: nothing of it is ever served
    existing = set(version.renditions.values_list("spec", flat=True))
    missing = [key for key in up_front_specs(tenant_id=version.tenant_id, version=version) if key not in existing]
    if not missing:
        return []
    renderer = Renderer()
    original = blob_read(version.storage_key)
    source = renderer.decode(original)
    made = []
    for key in missing:
        try:
            rendition_get_or_create(
                version=version, spec=key, on_demand=False, renderer=renderer, source=source, original=original
            )
        except InvalidSpec as error:
            # A placement too large to cut (over the output-pixel bound) must not stop the others.
            logger.warning("up-front rendition skipped", extra={"version_id": version_id, "reason": error.message})
            continue
        made.append(key)
    return made
