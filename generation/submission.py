"""Submitting and cancelling jobs: everything that happens before a worker picks a job up."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone

from dam.blobs import blob_put
from dam.models import AssetVersion, Collection
from dam.services import collection_get_or_create
from generation.foundry.selectors import deployment_config_for
from generation.job_models import Job, JobGeneration
from generation.lifecycle import JobState, allowed_sources
from generation.prompting import BrandPolicySnapshot, compile_prompt, find_banned_terms
from generation.requests import JobSpec, PlacementSpec, build_job_spec, placement_snapshot, request_fingerprint
from generation.sizing import Size
from tenants.errors import Conflict, ServiceError, Unprocessable
from tenants.models import ApiKey, BrandPolicy, Tenant
from tenants.selectors import brand_policy_current, placements_by_slugs


@dataclass(frozen=True)
class Submission:
    job: Job
    created: bool  # False when an Idempotency-Key replay returned the existing job


def _policy_snapshot(policy: BrandPolicy | None) -> BrandPolicySnapshot:
    if policy is None:
        return BrandPolicySnapshot(version=0, style_guide="", palette=(), banned_terms=())
    return BrandPolicySnapshot(
        version=policy.version,
        style_guide=policy.style_guide,
        palette=tuple(policy.palette),
        banned_terms=tuple(policy.banned_terms),
    )


def _source_version(*, tenant: Tenant, ref: Any) -> AssetVersion | None:
    if ref is None:
        return None
    if not isinstance(ref, dict) or not isinstance(ref.get("asset"), int):
        raise ServiceError('must be {"asset": <id>, "version": <number, default current>}', field="source_version")
    versions = AssetVersion.objects.for_tenant(tenant).filter(asset_id=ref["asset"])
    number = ref.get("version")
    version = versions.filter(number=number).first() if number else versions.order_by("-number").first()
    if version is None:
        raise ServiceError("no such asset version in this tenant", field="source_version")
    return version


@dataclass(frozen=True)
class ResolvedRequest:
    spec: JobSpec
    policy: BrandPolicy | None
    source: AssetVersion | None


def job_plan(*, tenant: Tenant, request: dict[str, Any]) -> ResolvedRequest:
    """Validate and plan a request without storing or spending anything (also the API's dry run)."""
    policy = brand_policy_current(tenant=tenant)
    source = _source_version(tenant=tenant, ref=request.get("source_version"))
    slugs = request.get("placements") or []
    if not isinstance(slugs, list) or not all(isinstance(s, str) for s in slugs):
        raise ServiceError("must be a list of placement slugs", field="placements")
    placements = [
        PlacementSpec(p.slug, p.width, p.height, p.output_format, p.compression)
        for p in placements_by_slugs(tenant=tenant, slugs=slugs)
    ]
    spec = build_job_spec(
        request=request,
        placements=placements,
        default_quality=policy.default_quality if policy else "high",
        default_output_format=policy.default_output_format if policy else "png",
        edit_size=Size(source.width, source.height) if source else None,
    )
    texts = {"prompt": spec.prompt, **{f"locales.{code}": copy for code, copy in spec.locales.items()}}
    banned = find_banned_terms(banned_terms=policy.banned_terms if policy else [], texts=texts)
    if banned:
        first = banned[0]
        raise Unprocessable(
            f"the brand policy bans the term {first.term!r}", field=first.field.split(".")[0], code="banned_term"
        )
    return ResolvedRequest(spec=spec, policy=policy, source=source)


@transaction.atomic
def job_submit(
    *,
    tenant: Tenant,
    request: dict[str, Any],
    requested_by: Any = None,
    requested_by_key: ApiKey | None = None,
    idempotency_key: str | None = None,
    mask: bytes | None = None,
) -> Submission:
    """Validate, plan and store a job with its provider calls; enqueue it after commit."""
    mask_sha = hashlib.sha256(mask).hexdigest() if mask else ""
    fingerprint = request_fingerprint(request, mask_sha256=mask_sha)
    if idempotency_key is not None:
        if not 1 <= len(idempotency_key) <= 200:
            raise ServiceError("must be 1-200 characters", field="Idempotency-Key")
        existing = Job.objects.for_tenant(tenant).filter(idempotency_key=idempotency_key).first()
        if existing is not None:
            return _replay(existing, fingerprint)

    resolved = job_plan(tenant=tenant, request=request)
    spec, policy, source = resolved.spec, resolved.policy, resolved.source
    if mask is not None and source is None:
        raise ServiceError("a mask needs a source_version to edit", field="mask")
    collection: Collection | None = (
        collection_get_or_create(tenant=tenant, slug=spec.collection) if spec.collection else None
    )
    mask_key = blob_put(tenant_id=tenant.pk, kind="masks", data=mask, image_format="png").key if mask else ""
    snapshot = _policy_snapshot(policy)
    try:
        with transaction.atomic():
            job = Job.objects.for_tenant(tenant).create(
                tenant=tenant,
                kind=Job.Kind.EDIT if source else Job.Kind.GENERATE,
                request=request,
                request_fingerprint=fingerprint,
                idempotency_key=idempotency_key,
                prompt=spec.prompt,
                quality=spec.quality,
                n=spec.n,
                output_format=spec.output_format,
                output_compression=spec.output_compression,
                background=spec.background,
                size_plan=spec.plan.to_dict(),
                placements=placement_snapshot(spec),
                locales=spec.locales,
                brand_policy=policy,
                source_version=source,
                mask_key=mask_key,
                collection=collection,
                tags=list(spec.tags),
                requested_by=requested_by,
                requested_by_key=requested_by_key,
                deployment=deployment_config_for(tenant=tenant).name,
                estimated_output_tokens=spec.estimated_output_tokens,
            )
    except IntegrityError:
        # A concurrent request with the same Idempotency-Key won the insert.
        existing = Job.objects.for_tenant(tenant).get(idempotency_key=idempotency_key)
        return _replay(existing, fingerprint)
    units = []
    for locale, copy in (spec.locales or {"": ""}).items():
        compiled = compile_prompt(policy=snapshot, request=spec.prompt, locale=locale or None, copy=copy or None)
        for index, group in enumerate(spec.plan.groups):
            units.append(
                JobGeneration(
                    tenant=tenant,
                    job=job,
                    locale=locale,
                    locale_copy=copy,
                    group_index=index,
                    width=group.size.width,
                    height=group.size.height,
                    compiled_prompt=compiled.text,
                    brand_prefix_sha256=compiled.prefix_sha256,
                )
            )
    JobGeneration.objects.for_tenant(tenant).bulk_create(units)
    from generation.tasks import run_job  # tasks import services; the reverse only at call time

    transaction.on_commit(lambda: run_job.delay(job.pk))
    return Submission(job=job, created=True)


def _replay(existing: Job, fingerprint: str) -> Submission:
    if existing.request_fingerprint != fingerprint:
        raise Conflict(
            "this Idempotency-Key was used with a different request body", field="Idempotency-Key", code="idempotency"
        )
    return Submission(job=existing, created=False)


@transaction.atomic
def job_cancel(*, job: Job) -> Job:
    """Cancel a queued job at once; a running job stops at its next step boundary."""
    jobs = Job.objects.for_tenant(job.tenant_id).filter(pk=job.pk)
    jobs.filter(state__in=allowed_sources(JobState.CANCELLED)).update(cancel_requested=True)
    jobs.filter(state=JobState.QUEUED).update(state=JobState.CANCELLED, finished_at=timezone.now())
    job.refresh_from_db()
    if job.state not in (JobState.CANCELLED, JobState.RUNNING):
        raise Conflict(f"a {job.state} job cannot be cancelled", field="state", code="not_cancellable")
    return job
