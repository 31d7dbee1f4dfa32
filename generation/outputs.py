"""Turning one provider response into assets, versions and placement renditions."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.db import transaction

from dam.blobs import StoredBlob, blob_put, blob_read
from dam.imaging import derive
from dam.models import Asset
from dam.services import asset_create, asset_version_create, rendition_create
from generation.foundry.results import ImageOutput
from generation.job_models import Job, JobGeneration, ProviderResponse
from generation.lifecycle import GenerationState
from generation.planning import GenerationGroup, SizePlan

MODEL_NAME = "gpt-image-2"


@dataclass(frozen=True)
class PreparedRendition:
    slug: str
    blob: StoredBlob
    width: int
    height: int
    format: str


def store_output_blobs(*, job: Job, outputs: tuple[ImageOutput, ...]) -> list[dict[str, Any]]:
    """Write the provider's images to storage first; rows will point at them afterwards."""
    refs = []
    for output in outputs:
        blob = blob_put(tenant_id=job.tenant_id, kind="originals", data=output.data, image_format=output.format)
        refs.append(
            {
                "key": blob.key,
                "sha256": blob.sha256,
                "size": blob.size,
                "width": output.width,
                "height": output.height,
                "format": output.format,
            }
        )
    return refs


def _group(job: Job, unit: JobGeneration) -> GenerationGroup:
    return SizePlan.from_dict(job.size_plan).groups[unit.group_index]


def prepare_renditions(*, job: Job, unit: JobGeneration, output_ref: dict[str, Any]) -> list[PreparedRendition]:
    """Cut every placement of the unit's aspect group from one output, exactly to size, and store it."""
    group = _group(job, unit)
    placements = {p["slug"]: p for p in job.placements}
    if not group.placements:
        return []
    source = blob_read(output_ref["key"])
    prepared = []
    for derivation in group.placements:
        placement = placements[derivation.slug]
        encoded = derive(
            source, derivation.steps(), image_format=placement["output_format"], quality=placement["compression"]
        )
        blob = blob_put(tenant_id=job.tenant_id, kind="renditions", data=encoded.data, image_format=encoded.format)
        prepared.append(PreparedRendition(derivation.slug, blob, encoded.width, encoded.height, encoded.format))
    return prepared


@transaction.atomic
def outputs_persist(
    *, job: Job, unit: JobGeneration, response: ProviderResponse, renditions: list[list[PreparedRendition]]
) -> None:
    """One transaction: every output becomes a version (and its renditions), and the unit is done.

    Safe to run twice: versions are unique per (job, provider request, output index).
    """
    locked = JobGeneration.objects.for_tenant(job.tenant_id).select_for_update().get(pk=unit.pk)
    if locked.state == GenerationState.STORED:
        return
    group = _group(job, unit)
    for index, ref in enumerate(response.outputs):
        if job.source_version_id:
            asset = Asset.objects.for_tenant(job.tenant_id).get(pk=job.source_version.asset_id)
            parent = job.source_version
        else:
            title = job.prompt[:120] + (f" [{unit.locale}]" if unit.locale else "")
            asset = asset_create(
                tenant=job.tenant,
                title=title,
                source=Asset.Source.GENERATED,
                collection=job.collection,
                tags=job.tags,
                family=f"job-{job.pk}",
                locale=unit.locale,
            )
            parent = None
        version = asset_version_create(
            asset=asset,
            blob=StoredBlob(ref["key"], ref["sha256"], ref["size"]),
            width=ref["width"],
            height=ref["height"],
            image_format=ref["format"],
            parent=parent,
            job_id=job.pk,
            provider_request_id=response.provider_request_id,
            output_index=index,
            compiled_prompt=unit.compiled_prompt,
            model=MODEL_NAME,
            deployment=response.deployment,
            size_plan=group.to_dict(),
            locale=unit.locale,
            usage=response.usage_dict(),
            created_by=job.requested_by,
        )
        for prepared in renditions[index]:
            rendition_create(
                version=version,
                spec=f"placement:{prepared.slug}",
                blob=prepared.blob,
                width=prepared.width,
                height=prepared.height,
                image_format=prepared.format,
                placement_slug=prepared.slug,
            )
    JobGeneration.objects.for_tenant(job.tenant_id).filter(pk=unit.pk).update(state=GenerationState.STORED)
