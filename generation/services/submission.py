"""Submitting and cancelling jobs: everything that happens before a worker picks a job up.

Nothing is spent on a request that moderation blocks: the compiled prompt and every locale copy are
checked (tenant blocklists, the classifier backend, the prompt shield) before a job row exists, and
a block is a 422 naming the rule, never the blocked term.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone

from dam.blobs import blob_put
from dam.models import AssetVersion, Collection
from generation.lifecycle import JobState, allowed_sources
from generation.models import Campaign, Job, JobGeneration
from generation.prompting import BrandPolicySnapshot, compile_prompt, find_banned_terms
from generation.requests import (
    JobSpec,
    PlacementSpec,
    build_job_spec,
    placement_snapshot,
    refuse_unknown_fields,
    request_fingerprint,
)
from generation.selectors.deployments import deployment_config_for
from generation.services.completion import job_finished
from generation.sizing import MAX_EDIT_INPUT_IMAGE_TOKENS, Size
from generation.tasks import job_run_enqueue
from governance.models import SafetyConfig
from governance.prices import job_cost_ceiling
from governance.safety.backends import ModerationError, moderation_backend
from governance.safety.moderation import ModerationFailed, first_block_reason, moderate_prompt
from governance.safety.verdicts import Verdict
from governance.selectors.safety import safety_config_current, safety_policy_for
from governance.services.budgets import BudgetExceeded, budget_hold, budget_refusal_record
from governance.services.safety import safety_config_ensure
from tenants.audit import Actor, RequestOrigin, audit
from tenants.errors import Conflict, ServiceError, Unprocessable
from tenants.models import ApiKey, BrandPolicy, Tenant
from tenants.selectors import brand_policy_current, placements_by_slugs


@dataclass(frozen=True)
class CampaignLink:
    campaign: Campaign
    version: int | None
    creative: str
    market: str = ""  # a job without locales for one market without in-image copy: its units carry the market


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
    safety_config: SafetyConfig | None = None  # None: the default preset (the tenant has no configuration yet)
    safety_verdicts: tuple[Verdict, ...] = ()


def _audit_safety_block(
    *, tenant: Tenant, verdict: Verdict, reason: str, actor: Actor | None, origin: RequestOrigin | None
) -> None:
    """A request blocked by moderation before any spend. Its own transaction: the event survives the 422."""
    with transaction.atomic():
        audit(
            tenant=tenant,
            actor=actor or Actor.system("unattributed"),
            action="job.safety_blocked",
            target=("tenant", tenant.pk),
            payload={"verdict": verdict.to_dict(), "reason": reason},
            origin=origin,
        )


def _moderate_request(
    *, tenant: Tenant, spec: JobSpec, policy: BrandPolicy | None, actor: Actor | None, origin: RequestOrigin | None
) -> tuple[SafetyConfig | None, tuple[Verdict, ...]]:
    config = safety_config_current(tenant=tenant)
    safety = safety_policy_for(tenant=tenant, config=config, default=config is None)
    compiled = compile_prompt(policy=_policy_snapshot(policy), request=spec.prompt)
    texts = {"prompt": compiled.text, **{f"locales.{code}": copy for code, copy in spec.locales.items()}}
    try:
        with moderation_backend() as backend:
            verdicts = moderate_prompt(
                policy=safety,
                texts=texts,
                user_prompt=spec.prompt,
                documents={f"locales.{code}": copy for code, copy in spec.locales.items()},
                backend=backend,
            )
    except ModerationError as exc:
        raise ModerationFailed.from_error(exc) from exc
    blocked = first_block_reason(verdicts)
    if blocked is not None:
        verdict, reason = blocked
        _audit_safety_block(tenant=tenant, verdict=verdict, reason=reason, actor=actor, origin=origin)
        raise Unprocessable(
            f"blocked by the safety configuration (v{safety.version}, preset {safety.preset}) in {verdict.target}: "
            f"{reason}",
            field=verdict.target.split(".")[0],
            code="safety_blocked",
        )
    return config, tuple(verdicts)


def _collection(*, tenant: Tenant, slug: str) -> Collection:
    """The tenant's collection `slug`; an unknown one is a 400, like any reference (collections are
    created explicitly, through the collections API and its scope, never as a side effect of a job)."""
    collection = Collection.objects.for_tenant(tenant).filter(slug=slug).first()
    if collection is None:
        raise ServiceError(
            f"no collection {slug!r} in this tenant (create it first: POST /api/v1/collections)",
            field="collection",
            code="does_not_exist",
        )
    return collection


def job_plan(
    *, tenant: Tenant, body: dict[str, Any], actor: Actor | None = None, origin: RequestOrigin | None = None
) -> ResolvedRequest:
    """Validate, moderate and plan a request without storing or spending anything (also the API's dry run).

    Moderation calls the configured backend (possibly over the network): never call this inside a
    transaction.
    """
    refuse_unknown_fields(body)
    policy = brand_policy_current(tenant=tenant)
    source = _source_version(tenant=tenant, ref=body.get("source_version"))
    slugs = body.get("placements") or []
    if not isinstance(slugs, list) or not all(isinstance(s, str) for s in slugs):
        raise ServiceError("must be a list of placement slugs", field="placements")
    placements = [
        PlacementSpec(p.slug, p.width, p.height, p.output_format, p.compression)
        for p in placements_by_slugs(tenant=tenant, slugs=slugs)
    ]
    spec = build_job_spec(
        body=body,
        placements=placements,
        default_quality=policy.default_quality if policy else "high",
        default_output_format=policy.default_output_format if policy else "png",
        edit_size=Size(source.width, source.height) if source else None,
    )
    if spec.collection:
        # Checked before moderation: an unknown reference costs the caller nothing and creates nothing.
        _collection(tenant=tenant, slug=spec.collection)
    texts = {"prompt": spec.prompt, **{f"locales.{code}": copy for code, copy in spec.locales.items()}}
    banned = find_banned_terms(banned_terms=policy.banned_terms if policy else [], texts=texts)
    if banned:
        first = banned[0]
        raise Unprocessable(
            f"the brand policy bans the term {first.term!r}", field=first.field.split(".")[0], code="banned_term"
        )
    safety_config, verdicts = _moderate_request(tenant=tenant, spec=spec, policy=policy, actor=actor, origin=origin)
    return ResolvedRequest(
        spec=spec, policy=policy, source=source, safety_config=safety_config, safety_verdicts=verdicts
    )


def job_submit(
    *,
    tenant: Tenant,
    body: dict[str, Any],
    requested_by: Any = None,
    requested_by_key: ApiKey | None = None,
    idempotency_key: str | None = None,
    mask: bytes | None = None,
    origin: RequestOrigin | None = None,
    campaign: Campaign | None = None,
    campaign_version: int | None = None,
    campaign_creative: str = "",
    campaign_market: str = "",
    default_priority: str = "bulk",
) -> Submission:
    """Validate, moderate, plan, hold its budget, and store a job with its provider calls; enqueue it after commit.

    Moderation runs before the transaction opens: no row lock or connection is held across a call to
    the moderation service, and a blocked request leaves nothing behind. `campaign*`: the campaign version
    and creative whose cells the job generates (generation.services.campaigns.campaign_run); `campaign_market`: the
    market of a job without locales (a market whose copy is empty: no in-image text), whose units are filed under it.
    `default_priority`: the scheduler's lane when the request does not name one (the web UI's single job is
    interactive; the API's and campaigns' jobs are bulk unless a request says `priority: interactive`).
    """
    mask_sha = hashlib.sha256(mask).hexdigest() if mask else ""
    fingerprint = request_fingerprint(body, mask_sha256=mask_sha)
    if idempotency_key is not None:
        if not 1 <= len(idempotency_key) <= 200:
            raise ServiceError("must be 1-200 characters", field="Idempotency-Key")
        existing = Job.objects.for_tenant(tenant).filter(idempotency_key=idempotency_key).first()
        if existing is not None:
            return _replay(existing, fingerprint)

    actor = Actor.of(user=requested_by, api_key=requested_by_key)
    resolved = job_plan(tenant=tenant, body=body, actor=actor, origin=origin)
    if mask is not None and resolved.source is None:
        raise ServiceError("a mask needs a source_version to edit", field="mask")
    try:
        with transaction.atomic():
            return _store_job(
                tenant=tenant,
                body=body,
                resolved=resolved,
                fingerprint=fingerprint,
                requested_by=requested_by,
                requested_by_key=requested_by_key,
                idempotency_key=idempotency_key,
                mask=mask,
                actor=actor,
                origin=origin,
                campaign=(
                    CampaignLink(campaign, campaign_version, campaign_creative, campaign_market) if campaign else None
                ),
                priority=resolved.spec.priority or default_priority,
            )
    except BudgetExceeded as refusal:
        # The refused transaction left nothing behind; the refusal itself is on the record.
        budget_refusal_record(tenant=tenant, actor=actor, refusal=refusal, job_request=body, origin=origin)
        raise


def _cost_ceiling(*, spec: JobSpec, units: list[JobGeneration], edit: bool) -> Decimal:
    """The most this job can cost: its planned output tokens, every prompt byte as a text token
    (a token is never shorter than a byte), and for edits the largest input-image accounting."""
    return job_cost_ceiling(
        output_tokens=spec.estimated_output_tokens,
        text_input_tokens=sum(len(unit.compiled_prompt.encode()) for unit in units),
        image_input_tokens=len(units) * MAX_EDIT_INPUT_IMAGE_TOKENS if edit else 0,
    )


def _store_job(
    *,
    tenant: Tenant,
    body: dict[str, Any],
    resolved: ResolvedRequest,
    fingerprint: str,
    requested_by: Any,
    requested_by_key: ApiKey | None,
    idempotency_key: str | None,
    mask: bytes | None,
    actor: Actor,
    origin: RequestOrigin | None,
    campaign: CampaignLink | None = None,
    priority: str = "bulk",
) -> Submission:
    spec, policy, source = resolved.spec, resolved.policy, resolved.source
    safety_config = resolved.safety_config
    if safety_config is None:
        # The check ran under the default preset; record it as the tenant's first version. A version
        # saved meanwhile with other rules means the check does not hold for it.
        safety_config, _ = safety_config_ensure(tenant=tenant)
        if not safety_config.as_policy().same_rules_as(safety_policy_for(tenant=tenant, config=None, default=True)):
            raise Conflict(
                "the safety configuration changed while the request was checked; submit again",
                field="safety_config",
                code="safety_config_changed",
            )
    collection = _collection(tenant=tenant, slug=spec.collection) if spec.collection else None
    mask_key = blob_put(tenant_id=tenant.pk, kind="masks", data=mask, image_format="png").key if mask else ""
    snapshot = _policy_snapshot(policy)
    try:
        with transaction.atomic():
            job = Job.objects.for_tenant(tenant).create(
                tenant=tenant,
                kind=Job.Kind.EDIT if source else Job.Kind.GENERATE,
                priority=priority,
                request=body,  # the column keeps its name: the job request as submitted
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
                safety_config=safety_config,
                safety_verdicts=[verdict.to_dict() for verdict in resolved.safety_verdicts],
                source_version=source,
                mask_key=mask_key,
                collection=collection,
                tags=list(spec.tags),
                campaign=campaign.campaign if campaign else None,
                campaign_version=campaign.version if campaign else None,
                campaign_creative=campaign.creative if campaign else "",
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
    # Without locales, one unit per aspect group: no in-image text. A campaign's market without copy labels
    # those units with its locale (not in the prompt) so that its outputs are filed under that market's cells.
    no_text_market = campaign.market if campaign and not spec.locales else ""
    for locale, copy in (spec.locales or {no_text_market: ""}).items():
        compiled = compile_prompt(
            policy=snapshot, request=spec.prompt, locale=(locale or None) if copy else None, copy=copy or None
        )
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
    # Budget before audit: the hold's counter row is always locked first (no lock-order deadlock).
    ceiling = _cost_ceiling(spec=spec, units=units, edit=source is not None)
    budget_hold(
        tenant=tenant, job_id=job.pk, amount=ceiling, api_key_id=requested_by_key.pk if requested_by_key else None
    )
    audit(
        tenant=tenant,
        actor=actor,
        action="job.submitted",
        target=("job", job.pk),
        payload={
            "kind": job.kind,
            "prompt": spec.prompt[:500],
            "provider_calls": len(units),
            "estimated_output_tokens": spec.estimated_output_tokens,
            "cost_ceiling_usd": str(ceiling),
            "brand_policy_version": policy.version if policy else None,
            "safety_config_version": safety_config.version,
        },
        origin=origin,
    )
    job_run_enqueue(job_id=job.pk, interactive=job.priority == Job.Priority.INTERACTIVE)
    return Submission(job=job, created=True)


def _replay(existing: Job, fingerprint: str) -> Submission:
    if existing.request_fingerprint != fingerprint:
        raise Conflict(
            "this Idempotency-Key was used with a different request body", field="Idempotency-Key", code="idempotency"
        )
    return Submission(job=existing, created=False)


@transaction.atomic
def job_cancel(*, job: Job, actor: Actor | None = None, origin: RequestOrigin | None = None) -> Job:
    """Cancel a queued job at once; a running job stops at its next step boundary."""
    jobs = Job.objects.for_tenant(job.tenant_id).filter(pk=job.pk)
    requested = jobs.filter(state__in=allowed_sources(JobState.CANCELLED), cancel_requested=False).update(
        cancel_requested=True
    )
    cancelled = jobs.filter(state=JobState.QUEUED).update(state=JobState.CANCELLED, finished_at=timezone.now())
    job.refresh_from_db()
    if requested and not cancelled:
        audit(
            tenant=job.tenant_id,
            actor=actor or Actor.system("unattributed"),
            action="job.cancel_requested",
            target=("job", job.pk),
            payload={"state": job.state},
            origin=origin,
        )
    if cancelled:
        job_finished(job=job, actor=actor, origin=origin)
    if job.state not in (JobState.CANCELLED, JobState.RUNNING):
        raise Conflict(f"a {job.state} job cannot be cancelled", field="state", code="not_cancellable")
    return job
