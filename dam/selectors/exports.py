"""What a hand-off export holds: its files in a stable order with the paths they get in the zip
(`<market>/<placement>/<name>.<ext>`, `<market>/original/<name>.<ext>`), and each file's manifest row.

Reads only; `dam.services.exports` writes the zip.
"""

from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass
from typing import Any

from django.db.models import QuerySet
from django.utils.text import slugify

from dam.formats import FORMATS
from dam.lifecycle import STOREFRONT_VISIBLE
from dam.models import Asset, AssetVersion, Export, Rendition
from dam.provenance import source_type_for
from dam.selectors.storefront import ORIGINAL_SPEC, UrlBuilder, version_path

MARKET_DEFAULT = "default"
ORIGINAL_FOLDER = "original"
MANIFEST_COLUMNS = (
    "path",
    "asset_id",
    "asset_title",
    "version_id",
    "version",
    "status",
    "market",
    "placement",
    "creative",
    "width",
    "height",
    "size",
    "format",
    "sha256",
    "alt_text",
    "delivery_url",
    "provenance",
)
MARKET_SEGMENT = re.compile(r"[^A-Za-z0-9_-]+")


def export_placement_renditions(
    *, tenant_id: int, version_ids: list[int], selection: dict[str, Any]
) -> QuerySet[Rendition]:
    """One file per placement: its cut in the placement's own format (`placement:<slug>`), not the negotiated
    AVIF/WebP variants (`placement:<slug>|format-...`); only `selection["placement"]`'s when it names one."""
    renditions = (
        Rendition.objects.for_tenant(tenant_id)
        .filter(version_id__in=version_ids, spec__startswith="placement:")
        .exclude(placement_slug="")
        .exclude(spec__contains="|")
    )
    if placement := selection.get("placement"):
        renditions = renditions.filter(placement_slug=placement)
    return renditions


@dataclass(frozen=True)
class PlannedFile:
    path: str
    storage_key: str
    sha256: str
    size: int
    image_format: str
    width: int
    height: int
    spec: str
    placement: str
    version: AssetVersion
    market: str
    name: str


def _market_of(asset: Asset, version: AssetVersion) -> str:
    market = asset.locale or version.locale
    return MARKET_SEGMENT.sub("-", market).strip("-") or MARKET_DEFAULT


def _name_of(asset: Asset) -> str:
    return slugify(asset.creative) or slugify(asset.title)[:80].strip("-") or f"asset-{asset.pk}"


def export_files(export: Export) -> list[PlannedFile]:
    """Every file of the zip, in a stable order, with a path no other file has."""
    versions = list(
        AssetVersion.objects.for_tenant(export.tenant_id)
        .filter(pk__in=export.version_ids)
        .select_related("asset", "publish_window")
    )
    versions.sort(key=lambda v: (_market_of(v.asset, v), _name_of(v.asset), v.asset_id, v.number))
    renditions: dict[int, list[Rendition]] = {}
    placements = export_placement_renditions(
        tenant_id=export.tenant_id, version_ids=export.version_ids, selection=export.selection
    )
    for rendition in placements.order_by("placement_slug"):
        renditions.setdefault(rendition.version_id, []).append(rendition)
    taken: set[str] = set()
    planned = []
    for version in versions:
        asset, market = version.asset, _market_of(version.asset, version)
        base = _name_of(asset)
        # Two assets of one market with the same creative in one folder (their originals, say: a campaign makes
        # one asset per aspect group), or two versions of one asset: the later ones carry the asset id, then the
        # version number, so no file overwrites another. Decided per folder, so a placement's folder keeps the
        # plain <creative> name when only one asset of the market fills it.
        candidates = [base, f"{base}-{asset.pk}", f"{base}-{asset.pk}-v{version.number}"]
        files = [(ORIGINAL_FOLDER, ORIGINAL_SPEC, version)] if export.selection.get("include_originals", True) else []
        files += [(r.placement_slug, r.spec, r) for r in renditions.get(version.pk, [])]
        for folder, spec, row in files:
            name = next((c for c in candidates if f"{market}/{folder}/{c}" not in taken), candidates[-1])
            taken.add(f"{market}/{folder}/{name}")
            extension = FORMATS[row.format].extension
            planned.append(
                PlannedFile(
                    path=f"{market}/{folder}/{name}.{extension}",
                    storage_key=row.storage_key,
                    sha256=row.sha256,
                    size=row.file_size,
                    image_format=row.format,
                    width=row.width,
                    height=row.height,
                    spec=spec,
                    placement="" if spec == ORIGINAL_SPEC else folder,
                    version=version,
                    market=market,
                    name=name,
                )
            )
    return planned


def alt_text_for(version: AssetVersion, market: str) -> str:
    alt_text = version.alt_text or {}
    if market in alt_text:
        return str(alt_text[market])
    folded = {str(key).lower(): value for key, value in alt_text.items()}
    language = market.split("-", maxsplit=1)[0].lower()
    return str(folded.get(market.lower()) or folded.get(language) or "")


def _provenance(version: AssetVersion) -> dict[str, Any]:
    generated = version.job_id is not None
    return {
        "source": version.asset.source,
        "digital_source_type": source_type_for(version),
        "ai_system": version.model if generated else "",
        "deployment": version.deployment if generated else "",
        "job_id": version.job_id,
        "parent_version_id": version.parent_id,
        "created_at": version.created_at.isoformat(),
    }


def _provenance_summary(provenance: dict[str, Any]) -> str:
    parts = [provenance["source"], provenance["digital_source_type"], provenance["ai_system"]]
    if provenance["job_id"]:
        parts.append(f"job {provenance['job_id']}")
    if provenance["parent_version_id"]:
        parts.append(f"edit of version {provenance['parent_version_id']}")
    return "; ".join(part for part in parts if part)


def manifest_row(file: PlannedFile, urls: UrlBuilder | None) -> dict[str, Any]:
    version, asset = file.version, file.version.asset
    url = ""
    if urls is not None and version.status in STOREFRONT_VISIBLE:
        # Only approved and published versions are delivered; anything else would be a 404 there.
        url = urls.url(
            version_path(version_id=version.pk, spec=file.spec, sha256=file.sha256, image_format=file.image_format)
        )
    provenance = _provenance(version)
    return {
        "path": file.path,
        "asset_id": asset.pk,
        "asset_title": asset.title,
        "version_id": version.pk,
        "version": version.number,
        "status": version.status,
        "market": file.market,
        "placement": file.placement or ORIGINAL_FOLDER,
        "creative": asset.creative,
        "width": file.width,
        "height": file.height,
        "size": file.size,
        "format": file.image_format,
        "sha256": file.sha256,
        "alt_text": alt_text_for(version, file.market),
        "delivery_url": url,
        "provenance": provenance,
    }


def manifest_csv(rows: list[dict[str, Any]]) -> bytes:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=MANIFEST_COLUMNS, lineterminator="\r\n")
    writer.writeheader()
    for row in rows:
        writer.writerow({**row, "provenance": _provenance_summary(row["provenance"])})
    return buffer.getvalue().encode("utf-8")
