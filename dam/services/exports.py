"""Hand-off exports: a selection of versions as one zip laid out by market and placement, with a manifest.

`export_create` resolves the selection to version ids once (a re-run packs the same versions), stores the
export and queues its build. `export_build` (the `dam.exports.build` task) writes
`<market>/<placement>/<name>.<ext>` for each placement rendition of each version and
`<market>/original/<name>.<ext>` for its original, then `manifest.csv` and `manifest.json`.

Streamed end to end: each blob is read from storage in chunks and each chunk is hashed (the bytes must
match the sha256 the row recorded) and written into a zip in a temporary file, which storage then takes
in chunks; neither the zip nor any whole file is held in memory. Images are stored, not deflated (they are
compressed already). Crash-safe: each run takes the next attempt number and writes its own zip; a run
that finds a newer attempt has started gives up without touching the row, and a redelivered message
after a crash starts over cleanly.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import io
import json
import tempfile
import time
import zipfile
from typing import Any

from django.conf import settings
from django.core.files import File
from django.core.files.storage import default_storage
from django.db import InterfaceError, OperationalError, transaction
from django.db.models import QuerySet
from django.utils import timezone

from dam.lifecycle import NEVER_SERVED, VersionStatus
from dam.models import Asset, AssetVersion, Collection, Export
from dam.selectors.exports import PlannedFile, export_files, export_placement_renditions, manifest_csv, manifest_row
from dam.selectors.search import AssetFilters, assets_filter
from dam.selectors.storefront import UrlBuilder, signed_urls_required, storefront_visible
from dam.tasks import EXPORT_TIME_LIMIT, export_build_enqueue
from tenants.audit import Actor, RequestOrigin, audit
from tenants.errors import Conflict, ServiceError
from tenants.models import ApiKey, Placement, Tenant

EXPORT_MAX_VERSIONS = 500
# Ids are bigints: a larger number is a 400 naming its field, not a database error.
MAX_ID = 2**63 - 1
EXPORT_MAX_ATTEMPTS = 3
# Read size from storage and write size into the zip: what one export holds in memory per file.
CHUNK_BYTES = 1024 * 1024
# Stop this long before the task's hard limit, so the export is marked failed instead of left running.
DEADLINE_MARGIN_SECONDS = 30
FILTER_KEYS = ("asset_ids", "collection", "locale", "placement", "campaign_id", "status")
SELECTION_KEYS = ("version_ids", *FILTER_KEYS, "include_originals")


class ExportFailed(Exception):
    """The export cannot be built (a blob missing or not matching its sha256, the time limit): it fails."""


class Superseded(Exception):
    """A newer run of the same export has started: this run stops without touching the row."""


# --- Creating ---------------------------------------------------------------------------------------


def _ids(value: Any, field: str) -> list[int]:
    if not isinstance(value, list) or not value:
        raise ServiceError("a non-empty list of ids", field=field)
    if not all(isinstance(item, int) and not isinstance(item, bool) and 0 < item <= MAX_ID for item in value):
        raise ServiceError("ids are positive integers", field=field)
    if len(value) > EXPORT_MAX_VERSIONS:
        raise ServiceError(f"at most {EXPORT_MAX_VERSIONS} ids", field=field)
    return list(dict.fromkeys(value))


def _text(selection: dict[str, Any], field: str) -> str:
    value = selection.get(field, "")
    if not isinstance(value, str) or "\x00" in value:
        raise ServiceError("a string (without NUL characters)", field=field)
    return value.strip()


def _clean_selection(*, tenant: Tenant, selection: Any) -> dict[str, Any]:
    if not isinstance(selection, dict):
        raise ServiceError("an object with version_ids, or filters", field="selection")
    unknown = sorted(set(selection) - set(SELECTION_KEYS))
    if unknown:
        raise ServiceError(f"unknown selection field; known: {', '.join(SELECTION_KEYS)}", field=unknown[0])
    cleaned: dict[str, Any] = {}
    given_filters = [key for key in FILTER_KEYS if selection.get(key) not in (None, "", [])]
    if selection.get("version_ids") not in (None, []):
        if given_filters:
            raise ServiceError(f"either version ids or filters, not both ({given_filters[0]})", field="version_ids")
        cleaned["version_ids"] = _ids(selection["version_ids"], "version_ids")
    elif not given_filters:
        raise ServiceError("choose versions (version_ids) or a filter: " + ", ".join(FILTER_KEYS), field="selection")
    if selection.get("asset_ids") not in (None, []):
        cleaned["asset_ids"] = _ids(selection["asset_ids"], "asset_ids")
    if collection := _text(selection, "collection"):
        if not Collection.objects.for_tenant(tenant).filter(slug=collection).exists():
            raise ServiceError(f"no collection {collection!r}", field="collection")
        cleaned["collection"] = collection
    if locale := _text(selection, "locale"):
        cleaned["locale"] = locale[:16]
    if placement := _text(selection, "placement"):
        if not Placement.objects.for_tenant(tenant).filter(slug=placement).exists():
            raise ServiceError(f"no placement {placement!r}", field="placement")
        cleaned["placement"] = placement
    if (campaign_id := selection.get("campaign_id")) is not None:
        if not isinstance(campaign_id, int) or isinstance(campaign_id, bool) or not 0 < campaign_id <= MAX_ID:
            raise ServiceError("a campaign id (a positive integer)", field="campaign_id")
        cleaned["campaign_id"] = campaign_id
    if status := _text(selection, "status"):
        if status not in VersionStatus.values:
            raise ServiceError(f"one of {', '.join(VersionStatus.values)}", field="status")
        cleaned["status"] = status
    include_originals = selection.get("include_originals", True)
    if not isinstance(include_originals, bool):
        raise ServiceError("true or false", field="include_originals")
    cleaned["include_originals"] = include_originals
    return cleaned


def _selected_versions(*, tenant: Tenant, selection: dict[str, Any], visible_only: bool) -> QuerySet[AssetVersion]:
    versions = AssetVersion.objects.for_tenant(tenant)
    if visible_only:
        # A storefront key sees approved and published versions only; others do not exist for it.
        versions = versions.filter(storefront_visible())
    if "version_ids" in selection:
        wanted = selection["version_ids"]
        found = set(versions.filter(pk__in=wanted).values_list("pk", flat=True))
        if missing := [pk for pk in wanted if pk not in found]:
            raise ServiceError(f"no version {', '.join(map(str, missing[:10]))}", field="version_ids")
        return versions.filter(pk__in=wanted)
    assets = Asset.objects.for_tenant(tenant).filter(current_version__isnull=False)
    if "asset_ids" in selection:
        wanted = selection["asset_ids"]
        found = set(Asset.objects.for_tenant(tenant).filter(pk__in=wanted).values_list("pk", flat=True))
        if missing := [pk for pk in wanted if pk not in found]:
            raise ServiceError(f"no asset {', '.join(map(str, missing[:10]))}", field="asset_ids")
        assets = assets.filter(pk__in=wanted)
    if "campaign_id" in selection:
        assets = assets.filter(campaign_id=selection["campaign_id"])
    # The library's own filters (the asset browser and the API list use the same selector).
    assets = assets_filter(
        assets,
        AssetFilters(
            collection=selection.get("collection", ""),
            locale=selection.get("locale", ""),
            placement=selection.get("placement", ""),
            status=selection.get("status", ""),
            # Archived assets are out of a selection by filter, as out of the lists it mirrors; assets named by id
            # are exported whatever their state.
            archived="all" if "asset_ids" in selection else "false",
        ),
    )
    return versions.filter(pk__in=assets.values("current_version_id"))


@transaction.atomic
def export_create(
    *,
    tenant: Tenant,
    selection: dict[str, Any],
    requested_by: Any = None,
    requested_by_key: ApiKey | None = None,
    visible_only: bool = False,
    delivery_origin: str = "",
    actor: Actor | None = None,
    origin: RequestOrigin | None = None,
) -> Export:
    """Store an export of `selection` and queue its build. `visible_only`: a storefront caller's export,
    which may name approved and published versions only. Blocked versions are never exported (skipped)."""
    cleaned = _clean_selection(tenant=tenant, selection=selection)
    versions = list(
        _selected_versions(tenant=tenant, selection=cleaned, visible_only=visible_only)
        .order_by("id")
        .values("id", "status")[: EXPORT_MAX_VERSIONS + 1]
    )
    if len(versions) > EXPORT_MAX_VERSIONS:
        raise ServiceError(f"the selection has more than {EXPORT_MAX_VERSIONS} versions: narrow it", field="selection")
    skipped = [
        {"version": row["id"], "reason": "blocked by moderation: never handed out"}
        for row in versions
        if row["status"] in NEVER_SERVED
    ]
    version_ids = [row["id"] for row in versions if row["status"] not in NEVER_SERVED]
    if not version_ids:
        raise ServiceError("the selection matches no exportable version", field="selection")
    export = Export.objects.for_tenant(tenant).create(
        tenant=tenant,
        requested_by=requested_by,
        requested_by_key=requested_by_key,
        selection=cleaned,
        version_ids=version_ids,
        skipped=skipped,
        delivery_origin=(settings.DELIVERY_BASE_URL or delivery_origin).rstrip("/")[:300],
        files_total=_file_count(tenant_id=tenant.pk, version_ids=version_ids, selection=cleaned),
    )
    audit(
        tenant=tenant,
        actor=Actor.resolve(actor, user=requested_by),
        action="export.created",
        target=("export", export.pk),
        payload={"selection": cleaned, "versions": len(version_ids), "skipped": skipped, "files": export.files_total},
        origin=origin,
    )
    export_build_enqueue(export_id=export.pk)
    return export


def _file_count(*, tenant_id: int, version_ids: list[int], selection: dict[str, Any]) -> int:
    originals = len(version_ids) if selection.get("include_originals", True) else 0
    return (
        originals
        + export_placement_renditions(tenant_id=tenant_id, version_ids=version_ids, selection=selection).count()
    )


# --- Building ---------------------------------------------------------------------------------------


def _zip_time(moment: dt.datetime) -> tuple[int, int, int, int, int, int]:
    moment = moment.astimezone(dt.UTC)
    return (max(moment.year, 1980), moment.month, moment.day, moment.hour, moment.minute, moment.second)


def _copy_into_zip(archive: zipfile.ZipFile, file: PlannedFile) -> int:
    """Stream one stored blob into the zip, checking its bytes against the sha256 its row recorded."""
    info = zipfile.ZipInfo(file.path, date_time=_zip_time(file.version.created_at))
    info.compress_type = zipfile.ZIP_STORED
    digest, size = hashlib.sha256(), 0
    try:
        handle = default_storage.open(file.storage_key, "rb")
    except FileNotFoundError:
        raise ExportFailed(f"{file.path}: the stored file is missing") from None
    with archive.open(info, "w", force_zip64=True) as entry:
        try:
            with handle:
                while chunk := handle.read(CHUNK_BYTES):
                    digest.update(chunk)
                    size += len(chunk)
                    entry.write(chunk)
        except OSError as error:
            raise ExportFailed(f"{file.path}: the stored file could not be read ({error})") from error
        except Exception as error:
            # Each backend says "missing" or "unreachable" its own way (Azure reads lazily: a missing
            # blob surfaces at the first read as azure.core's ResourceNotFoundError).
            raise ExportFailed(f"{file.path}: the stored file could not be read ({type(error).__name__})") from error
    if digest.hexdigest() != file.sha256 or size != file.size:
        raise ExportFailed(f"{file.path}: the stored bytes do not match the recorded sha256 {file.sha256}")
    return size


def _claim(export_id: int) -> tuple[Export, int] | None:
    """Start a run: the export row locked, the next attempt number taken. None: nothing to do."""
    with transaction.atomic():
        export = Export.unscoped.select_for_update().filter(pk=export_id).first()
        if export is None or export.terminal:
            return None
        if export.attempts >= EXPORT_MAX_ATTEMPTS:
            _fail(export, f"gave up after {export.attempts} attempts")
            return None
        export.attempts += 1
        export.state = Export.State.RUNNING
        export.started_at = timezone.now()
        export.files_done = export.bytes_done = 0
        export.error = ""
        export.save(update_fields=["attempts", "state", "started_at", "files_done", "bytes_done", "error"])
        return export, export.attempts


def _progress(export: Export, attempt: int, **fields: Any) -> None:
    if not Export.unscoped.filter(pk=export.pk, attempts=attempt, state=Export.State.RUNNING).update(**fields):
        raise Superseded


def _finished_audit(export: Export) -> None:
    audit(
        tenant=export.tenant_id,
        actor=Actor.system("exports"),
        action="export.finished",
        target=("export", export.pk),
        payload={
            "state": export.state,
            "files": export.files_done,
            "bytes": export.file_size,
            "manifest_sha256": export.manifest_sha256,
            "error": export.error,
            "attempts": export.attempts,
        },
    )


def _fail(export: Export, error: str) -> None:
    """In the caller's transaction, with the row locked."""
    export.state = Export.State.FAILED
    export.error = error[:2000]
    export.finished_at = timezone.now()
    export.save(update_fields=["state", "error", "finished_at"])
    _finished_audit(export)


def _fail_attempt(export_id: int, attempt: int, error: str) -> None:
    with transaction.atomic():
        export = Export.unscoped.select_for_update().filter(pk=export_id, attempts=attempt).first()
        if export is not None and export.state == Export.State.RUNNING:
            _fail(export, error)


def export_key(export: Export, attempt: int) -> str:
    return f"tenants/{export.tenant_id}/exports/{export.pk}/attempt-{attempt}.zip"


def export_build(*, export_id: int, time_limit_seconds: float | None = None) -> str:
    """Build the export's zip (the task's work). Returns the state it ends in (or `superseded`/`skipped`)."""
    claimed = _claim(export_id)
    if claimed is None:
        return "skipped"
    export, attempt = claimed
    limit = EXPORT_TIME_LIMIT if time_limit_seconds is None else time_limit_seconds
    # Short limits (tests, a benchmark) have no margin to spare.
    margin = DEADLINE_MARGIN_SECONDS if limit > DEADLINE_MARGIN_SECONDS * 2 else 0
    deadline = time.monotonic() + limit - margin
    key = export_key(export, attempt)
    try:
        with tempfile.TemporaryFile(prefix=f"export-{export.pk}-", suffix=".zip") as spool:
            manifest_sha256, files_done = _write_zip(export, attempt, spool, deadline)
            spool.seek(0, io.SEEK_END)
            size = spool.tell()
            spool.seek(0)
            if default_storage.exists(key):
                default_storage.delete(key)
            saved = default_storage.save(key, File(spool, name=export.filename))
    except Superseded:
        return "superseded"
    except ExportFailed as failure:
        _fail_attempt(export.pk, attempt, str(failure))
        return Export.State.FAILED
    except (OperationalError, InterfaceError):
        raise  # the database went away: the task retries, and the retry starts this export over
    except Exception as error:
        # Anything else would leave the export `running` for good once the message is acked: it fails, said so.
        _fail_attempt(export.pk, attempt, f"the build broke: {type(error).__name__}: {error}")
        raise
    with transaction.atomic():
        row = Export.unscoped.select_for_update().filter(pk=export.pk).first()
        if row is None or row.attempts != attempt or row.state != Export.State.RUNNING:
            default_storage.delete(saved)
            return "superseded"
        row.state = Export.State.DONE
        row.storage_key = saved
        row.file_size = size
        row.manifest_sha256 = manifest_sha256
        row.files_done = files_done
        row.finished_at = timezone.now()
        row.save(update_fields=["state", "storage_key", "file_size", "manifest_sha256", "files_done", "finished_at"])
        _finished_audit(row)
    for earlier in range(1, attempt):
        # A run that crashed after storing its zip but before recording it left that file behind.
        if default_storage.exists(stale := export_key(export, earlier)):
            default_storage.delete(stale)
    return Export.State.DONE


def _write_zip(export: Export, attempt: int, spool: Any, deadline: float) -> tuple[str, int]:
    planned = export_files(export)
    _progress(export, attempt, files_total=len(planned))
    urls = None
    if export.delivery_origin:
        urls = UrlBuilder(
            origin=export.delivery_origin, sign=signed_urls_required(export.tenant_id), now=timezone.now()
        )
    rows: list[dict[str, Any]] = []
    written = 0
    with zipfile.ZipFile(spool, "w", allowZip64=True) as archive:
        for done, file in enumerate(planned, start=1):
            if time.monotonic() > deadline:
                raise ExportFailed(f"stopped at the time limit after {done - 1} of {len(planned)} files")
            written += _copy_into_zip(archive, file)
            rows.append(manifest_row(file, urls))
            _progress(export, attempt, files_done=done, bytes_done=written)
        manifest_json = json.dumps(
            {
                "export": export.pk,
                "created_at": export.created_at.isoformat(),
                "selection": export.selection,
                "skipped": export.skipped,
                "files": rows,
            },
            ensure_ascii=False,
            indent=2,
        ).encode("utf-8")
        archive.writestr("manifest.json", manifest_json, compress_type=zipfile.ZIP_DEFLATED)
        archive.writestr("manifest.csv", manifest_csv(rows), compress_type=zipfile.ZIP_DEFLATED)
    return hashlib.sha256(manifest_json).hexdigest(), len(planned)


# --- Reading ----------------------------------------------------------------------------------------


def export_open(export: Export) -> File:
    """The finished zip, opened for streaming."""
    if export.state != Export.State.DONE:
        raise Conflict(f"the export is {export.state}; download it when it is done", field="state")
    return default_storage.open(export.storage_key, "rb")
