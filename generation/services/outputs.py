"""Turning one provider response into assets, versions and placement renditions.

Every output image is moderated before it becomes a version (`moderate_outputs`); the verdict decides
where the version starts (`governance.safety.moderation.safety_decision`, mapped to a status by
`dam.lifecycle.initial_status`): `blocked` (stored for audit, never served, no renditions), `needs_review`
or `approved`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from typing import Any

from django.db import transaction
from django.db.models import F, Func, JSONField, Value

from dam.blobs import StoredBlob, blob_put, blob_read
from dam.credentials.keys import KeyDecryptionError
from dam.credentials.signing import (
    SignerMaterial,
    SigningFailed,
    actions_for_steps,
    sign_derived,
    sign_original,
    signer_for,
)
from dam.formats import sniff_format
from dam.imaging import derive
from dam.lifecycle import VersionStatus, initial_status
from dam.models import Asset, AssetVersion, ChecksState
from dam.provenance import ProvenanceRecord, provenance_for_generated_output, provenance_stamp
from dam.renditions.presets import placement_quality, placement_spec_key
from dam.services.assets import asset_create, asset_version_create
from dam.services.checks import checks_wanted
from dam.services.renditions import rendition_blob_put, rendition_create
from dam.services.settings import library_settings_shared
from generation.foundry.results import ImageOutput
from generation.lifecycle import GenerationState
from generation.models import Job, JobGeneration, ProviderResponse
from generation.planning import GenerationGroup, SizePlan
from generation.services.campaign_outputs import campaign_cell_asset, campaign_cells_store
from governance.safety.backends import ModerationBackend
from governance.safety.moderation import moderate_image, safety_decision
from governance.safety.policy import SafetyPolicy
from governance.safety.verdicts import Decision, Stage
from governance.selectors.safety import safety_policy_for
from tenants.audit import Actor, audit, audit_deferred

MODEL_NAME = "gpt-image-2"


@dataclass(frozen=True)
class PreparedRendition:
    slug: str
    blob: StoredBlob
    width: int
    height: int
    format: str


def output_provenance(*, job: Job, unit: JobGeneration, deployment: str) -> ProvenanceRecord:
    """What every stored file of this output says about itself (IPTC digital source type, AI system, credit)."""
    edit_of_upload = bool(job.source_version_id and job.source_version.asset.source == Asset.Source.UPLOADED)
    return provenance_for_generated_output(
        settings=library_settings_shared(tenant_id=job.tenant_id),
        model=MODEL_NAME,
        deployment=deployment,
        prompt=unit.compiled_prompt,
        edit_of_upload=edit_of_upload,
    )


class SignerUnavailable(Exception):
    """The key that signs the job's originals cannot sign (it cannot be decrypted, or its KMS has no signer)."""


def output_signer(*, job: Job) -> SignerMaterial | None:
    """The key that will sign this job's originals, ready to sign (a local key decrypted). Resolved before the
    provider is called: a key that cannot sign must fail the job before its answer is paid for, not after."""
    try:
        return signer_for(tenant_id=job.tenant_id)
    except (KeyDecryptionError, SigningFailed) as exc:
        raise SignerUnavailable(f"the C2PA signing key cannot sign: {exc}") from exc


def store_output_blobs(
    *,
    job: Job,
    outputs: tuple[ImageOutput, ...],
    provenance: ProvenanceRecord,
    material: SignerMaterial | None = None,
) -> tuple[list[dict[str, Any]], dict[str, bytes]]:
    """Write the provider's images, stamped with their provenance, to storage first; rows point at them afterwards.

    Each original is signed with a C2PA manifest (dam.credentials.signing) over the stamped bytes: c2pa.created
    by the AI system, the provider's own manifest (if its answer carries one) kept as the parent ingredient; an edit
    opens its source version's original as the parent instead.

    `material` is the signer resolved before the call (output_signer); without it, the key is looked up here.
    Returns the output refs and the bytes written under each key (moderation scans those without reading back)."""
    refs, written = [], {}
    edit_of = blob_read(job.source_version.storage_key) if job.source_version_id else None
    for output in outputs:
        data = provenance_stamp(output.data, image_format=output.format, record=provenance)
        data = sign_original(
            data,
            image_format=output.format,
            record=provenance,
            tenant_id=job.tenant_id,
            provider_data=output.data,
            provider_format=output.format,
            edit_of=edit_of,
            edit_of_format=job.source_version.format if edit_of is not None else None,
            title=job.prompt[:200],
            material=material,
        )
        blob = blob_put(tenant_id=job.tenant_id, kind="originals", data=data, image_format=output.format)
        written[blob.key] = data
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
    return refs, written


def job_safety_policy(job: Job) -> SafetyPolicy:
    """The safety configuration version the job was submitted under (the default preset for older jobs)."""
    return safety_policy_for(tenant=job.tenant_id, config=job.safety_config, default=job.safety_config_id is None)


def refs_moderated(
    *,
    refs: list[dict[str, Any]],
    provider_request_id: str,
    policy: SafetyPolicy,
    backend: ModerationBackend,
    written: Mapping[str, bytes] | None = None,
) -> list[dict[str, Any]]:
    """The refs with a verdict for every output that has none (`written`: bytes already in hand, by key)."""
    refs = [dict(ref) for ref in refs]
    for index, ref in enumerate(refs):
        if "safety" in ref:
            continue
        data = (written or {}).get(ref["key"])
        verdict = moderate_image(
            policy=policy,
            data=data if data is not None else blob_read(ref["key"]),
            target=f"output {provider_request_id}/{index}",
            backend=backend,
        )
        ref["safety"] = verdict.to_dict()
    return refs


def moderate_outputs(
    *, job: Job, response: ProviderResponse, policy: SafetyPolicy, backend: ModerationBackend
) -> list[dict[str, Any]]:
    """Give every stored output of `response` its verdict (kept in the output refs, so a re-run of the job
    reuses it instead of scanning again)."""
    if all("safety" in ref for ref in response.outputs):
        return response.outputs
    refs = refs_moderated(
        refs=response.outputs, provider_request_id=response.provider_request_id, policy=policy, backend=backend
    )
    ProviderResponse.objects.for_tenant(job.tenant_id).filter(pk=response.pk).update(outputs=refs)
    response.outputs = refs
    return refs


def output_blocked(ref: dict[str, Any]) -> bool:
    return ref.get("safety", {}).get("decision") == Decision.BLOCK


class _JsonbAppend(Func):
    """`column || value` on jsonb arrays: appends in the UPDATE itself, no read-modify-write."""

    template = "%(expressions)s"
    arg_joiner = " || "
    output_field = JSONField()


def _prompt_verdicts(job: Job, unit: JobGeneration) -> list[dict[str, Any]]:
    """The submission-time verdicts that concern this unit: the prompt's and its locale copy's."""
    targets = {"prompt", f"locales.{unit.locale}"} if unit.locale else {"prompt"}
    return [v for v in job.safety_verdicts if v.get("stage") == Stage.PROMPT and v.get("target") in targets]


def _audit_output_blocked(*, job: Job, version: AssetVersion) -> None:
    """An output quarantined by moderation (created `blocked`), inside the outputs_persist transaction."""
    audit(
        tenant=job.tenant_id,
        actor=Actor.system("moderation"),
        action="version.blocked",
        target=("asset_version", version.pk),
        payload={"job": job.pk, "verdicts": version.safety_verdicts},
    )


def _checks_fields(*, job: Job, unit: JobGeneration, status: str) -> dict[str, Any]:
    """The version's expected copy and checks state (dam.services.checks), and its starting status: a version
    whose copy is read back cannot start approved, it waits in review until the checks approve it."""
    fields: dict[str, Any] = {"status": status, "expected_copy": unit.locale_copy or ""}
    if status == VersionStatus.BLOCKED:
        return fields  # quarantined: never checked, never served
    wanted, copy = checks_wanted(
        expected_copy=unit.locale_copy or "", locale=unit.locale or "", brand_policy=job.brand_policy
    )
    if wanted:
        fields["checks_state"] = ChecksState.PENDING
    if copy and status == VersionStatus.APPROVED:
        fields.update(status=VersionStatus.NEEDS_REVIEW, approve_when_checked=True)
    return fields


def _group(job: Job, unit: JobGeneration) -> GenerationGroup:
    return SizePlan.from_dict(job.size_plan).groups[unit.group_index]


def prepare_renditions(
    *, job: Job, unit: JobGeneration, output_ref: dict[str, Any], provenance: ProvenanceRecord
) -> list[PreparedRendition]:
    """Cut every placement of the unit's aspect group from one output, exactly to size, and store it, signed as
    derived from the output (c2pa.opened of the original, then c2pa.cropped/resized/transcoded)."""
    group = _group(job, unit)
    placements = {p["slug"]: p for p in job.placements}
    if not group.placements:
        return []
    source = blob_read(output_ref["key"])
    source_format = sniff_format(source) or output_ref.get("format") or ""
    prepared = []
    for derivation in group.placements:
        placement = placements[derivation.slug]
        image_format = placement["output_format"]
        quality = placement_quality(output_format=image_format, compression=placement["compression"])
        encoded = derive(source, derivation.steps(), image_format=image_format, quality=quality)
        data = provenance_stamp(encoded.data, image_format=encoded.format, record=provenance)
        data = sign_derived(
            data,
            image_format=encoded.format,
            parent=source,
            parent_format=source_format,
            actions=actions_for_steps(derivation.steps(), source_format=source_format, image_format=encoded.format),
            record=provenance,
            tenant_id=job.tenant_id,
            title=f"{derivation.slug} placement cut",
        )
        stamped = replace(encoded, data=data)
        blob = rendition_blob_put(tenant_id=job.tenant_id, image=stamped)
        prepared.append(PreparedRendition(derivation.slug, blob, encoded.width, encoded.height, encoded.format))
    return prepared


@transaction.atomic
@audit_deferred()  # the tenant's audit chain is locked last, for the fewest statements before the commit
def outputs_persist(
    *,
    job: Job,
    unit: JobGeneration,
    response: ProviderResponse,
    renditions: list[list[PreparedRendition]],
    then: Callable[[], object] | None = None,
) -> None:
    """One transaction: every output becomes a version (and its renditions), and the unit is done;
    `then` runs last in it (the job's terminal transition, after its last unit).

    Safe to run twice: versions are unique per (job, provider request, output index).
    """
    # Marking the unit stored first takes its row lock: a concurrent run of the same unit waits here,
    # then finds it stored and creates nothing (a failure below rolls the mark back with the rest).
    claimed = (
        JobGeneration.objects.for_tenant(job.tenant_id)
        .filter(pk=unit.pk)
        .exclude(state=GenerationState.STORED)
        .update(state=GenerationState.STORED)
    )
    if claimed:
        _versions_create(job=job, unit=unit, response=response, renditions=renditions)
    if then is not None:
        then()


def _versions_create(
    *, job: Job, unit: JobGeneration, response: ProviderResponse, renditions: list[list[PreparedRendition]]
) -> None:
    group = _group(job, unit)
    prompt_verdicts = _prompt_verdicts(job, unit)
    prompt_flagged = any(v.get("decision") == Decision.FLAG for v in prompt_verdicts)
    review_rule = job_safety_policy(job).review_rule
    brand_review_required = bool(job.brand_policy_id and job.brand_policy.review_required)
    output_verdicts = []
    slugs = [derivation.slug for derivation in group.placements]
    cell_version = None
    for index, ref in enumerate(response.outputs):
        # An output that was never scanned (moderation switched off by a bug, an old response) is not
        # approved unseen: it counts as not analysed.
        output_verdict = ref.get("safety") or {"stage": Stage.OUTPUT, "decision": Decision.FLAG, "analysed": False}
        status = initial_status(
            safety_decision(
                output_decision=output_verdict["decision"],
                prompt_flagged=prompt_flagged,
                review_rule=review_rule,
                brand_review_required=brand_review_required,
            )
        )
        output_verdicts.append(output_verdict)
        checks = _checks_fields(job=job, unit=unit, status=status)
        status = checks.pop("status")
        campaign_fields: dict[str, Any] = {}
        if job.campaign_id:
            target = campaign_cell_asset(job=job, unit=unit, placements=slugs)
            asset, parent, new_asset = target.asset, target.parent, target.new_asset
            if target.alt_text:
                campaign_fields["alt_text"] = target.alt_text  # the market's, from the campaign version
        elif job.source_version_id:
            asset = Asset.objects.for_tenant(job.tenant_id).get(pk=job.source_version.asset_id)
            parent, new_asset = job.source_version, False
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
                placements=slugs,
            )
            parent, new_asset = None, True
        version = asset_version_create(
            asset=asset,
            blob=StoredBlob(ref["key"], ref["sha256"], ref["size"]),
            width=ref["width"],
            height=ref["height"],
            image_format=ref["format"],
            parent=parent,
            new_asset=new_asset,
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
            created_by_key=job.requested_by_key,
            status=status,
            safety_verdicts=[*prompt_verdicts, output_verdict],
            safety_config_version=job.safety_config.version if job.safety_config_id else None,
            brand_policy_version=job.brand_policy.version if job.brand_policy_id else None,
            actor=Actor.system("worker"),
            **checks,
            **campaign_fields,
        )
        cell_version = version
        if status == VersionStatus.BLOCKED:
            _audit_output_blocked(job=job, version=version)
            continue  # quarantined: no renditions are derived from it
        for prepared in renditions[index]:
            rendition_create(
                version=version,
                spec=placement_spec_key(prepared.slug),
                blob=prepared.blob,
                width=prepared.width,
                height=prepared.height,
                image_format=prepared.format,
                placement_slug=prepared.slug,
            )
    if job.campaign_id and cell_version is not None:
        campaign_cells_store(job=job, locale=unit.locale, placements=slugs, version=cell_version)
    if output_verdicts:
        # Once per unit (it was marked stored above, under its row lock).
        Job.objects.for_tenant(job.tenant_id).filter(pk=job.pk).update(
            safety_verdicts=_JsonbAppend(F("safety_verdicts"), Value(output_verdicts, output_field=JSONField()))
        )
