"""Campaigns: create, change (a new version each time), estimate and run.

A run submits its jobs through `job_submit`, so budget holds, idempotency and moderation apply to a campaign
exactly as to any job. It generates only the cells that need it (planned, failed or rejected), one job per
creative and set of placements, and an Idempotency-Key per (campaign, version, creative, job body, state of
its cells) makes a second click replay the first click's jobs instead of paying twice.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction

from dam.models import AssetVersion, Collection
from generation.estimates.jobs import job_cost_estimate
from generation.models import Campaign, CampaignCell, CampaignVersion, Job
from generation.requests import MAX_LOCALES, PlacementSpec, build_job_spec
from generation.selectors.campaigns import (
    RERUNNABLE,
    CellKey,
    campaign_cells,
    campaign_version_current,
    cell_status,
    grid_positions,
)
from generation.services.submission import job_plan, job_submit
from tenants.audit import Actor, RequestOrigin, audit, changes
from tenants.errors import Conflict, ServiceError
from tenants.models import ApiKey, Tenant
from tenants.selectors import brand_policy_current, placements_by_slugs

VERSION_FIELDS = ("brief", "markets", "placements", "creatives", "quality", "routing", "deadline")
CAMPAIGN_FIELDS = ("name", "collection", "archived")
MAX_CREATIVES = 10
MAX_PLACEMENTS = 20
MAX_BRIEF_CHARS = 10_000
_KEY = re.compile(r"^[a-z0-9][a-z0-9-]{0,63}$")
_LOCALE = re.compile(r"^[a-z]{2,3}(-[A-Za-z0-9]{2,8})*$")
MARKET_KEYS = frozenset({"locale", "copy", "alt_text", "storefront"})
CREATIVE_KEYS = frozenset({"key", "name", "prompt", "source_version_id"})
SCOPES = ("all", "cells", "row", "column")


def _invalid(field_name: str, message: str) -> ValidationError:
    return ValidationError({field_name: ValidationError(message, code="invalid")})


def _markets(raw: Any) -> list[dict[str, str]]:
    if not isinstance(raw, list) or not raw:
        raise _invalid("markets", "a non-empty list of {locale, copy, alt_text?, storefront?}")
    if len(raw) > MAX_LOCALES:
        raise _invalid("markets", f"at most {MAX_LOCALES} markets")
    markets, seen = [], set()
    for market in raw:
        if not isinstance(market, dict) or set(market) - MARKET_KEYS:
            raise _invalid("markets", f"each market is an object with {', '.join(sorted(MARKET_KEYS))}")
        locale = market.get("locale")
        if not isinstance(locale, str) or not _LOCALE.match(locale):
            raise _invalid("markets", f"{locale!r} is not a BCP 47 language tag (e.g. ja, zh-Hant, en-GB)")
        if locale in seen:
            raise _invalid("markets", f"the market {locale!r} is listed twice")
        seen.add(locale)
        values = {"locale": locale}
        for key in ("copy", "alt_text", "storefront"):
            value = market.get(key, "")
            if not isinstance(value, str):
                raise _invalid("markets", f"the {key} of {locale!r} must be text")
            values[key] = value.strip()
        # Empty copy is allowed: that market's images carry no text (its jobs have no locales).
        markets.append(values)
    return markets


def _creatives(*, tenant: Tenant, raw: Any) -> list[dict[str, Any]]:
    if not isinstance(raw, list) or not raw:
        raise _invalid("creatives", "a non-empty list of {key, name?, prompt, source_version_id?}")
    if len(raw) > MAX_CREATIVES:
        raise _invalid("creatives", f"at most {MAX_CREATIVES} creatives")
    creatives, seen = [], set()
    for creative in raw:
        if not isinstance(creative, dict) or set(creative) - CREATIVE_KEYS:
            raise _invalid("creatives", f"each creative is an object with {', '.join(sorted(CREATIVE_KEYS))}")
        key = creative.get("key")
        if not isinstance(key, str) or not _KEY.match(key):
            raise _invalid("creatives", f"{key!r}: a key is lowercase letters, digits and hyphens, 1-64 characters")
        if key in seen:
            raise _invalid("creatives", f"the creative {key!r} is listed twice")
        seen.add(key)
        name, prompt = creative.get("name") or key, creative.get("prompt")
        if not isinstance(name, str) or len(name) > 200:
            raise _invalid("creatives", f"the name of {key!r} must be text of at most 200 characters")
        if not isinstance(prompt, str) or not prompt.strip():
            raise _invalid("creatives", f"the prompt of {key!r} must be non-empty text")
        source = creative.get("source_version_id")
        if source is not None and (
            not isinstance(source, int)
            or isinstance(source, bool)
            or not AssetVersion.objects.for_tenant(tenant).filter(pk=source).exists()
        ):
            raise _invalid("creatives", f"the source_version_id of {key!r} is no version of this tenant")
        creatives.append({"key": key, "name": name.strip(), "prompt": prompt.strip(), "source_version_id": source})
    return creatives


def _placements(*, tenant: Tenant, raw: Any) -> list[str]:
    if not isinstance(raw, list) or not raw or not all(isinstance(s, str) for s in raw):
        raise _invalid("placements", "a non-empty list of placement slugs")
    if len(raw) > MAX_PLACEMENTS:
        raise _invalid("placements", f"at most {MAX_PLACEMENTS} placements")
    return [p.slug for p in placements_by_slugs(tenant=tenant, slugs=raw)]


def _validate_version(*, tenant: Tenant, values: dict[str, Any]) -> dict[str, Any]:
    """Every version field checked; each creative's job request is then built once (sizes planned, routing and
    quality checked) so that a campaign that saves is one that can run. Errors name the campaign's field."""
    brief = values.get("brief") or ""
    if not isinstance(brief, str) or len(brief) > MAX_BRIEF_CHARS:
        raise _invalid("brief", f"text of at most {MAX_BRIEF_CHARS} characters")
    quality = values.get("quality") or ""
    routing = values.get("routing")
    deadline = values.get("deadline")
    if deadline is not None and not isinstance(deadline, datetime):
        raise _invalid("deadline", "a date and time (ISO 8601), or null")
    checked = {
        "brief": brief.strip(),
        "markets": _markets(values.get("markets")),
        "placements": _placements(tenant=tenant, raw=values.get("placements")),
        "creatives": _creatives(tenant=tenant, raw=values.get("creatives")),
        "quality": quality,
        "routing": routing,
        "deadline": deadline,
    }
    policy = brand_policy_current(tenant=tenant)
    specs = [
        PlacementSpec(p.slug, p.width, p.height, p.output_format, p.compression)
        for p in placements_by_slugs(tenant=tenant, slugs=checked["placements"])
    ]
    version = CampaignVersion(tenant=tenant, **checked)
    for creative in checked["creatives"]:
        body = _job_body(
            version=version, creative=creative, locales=_with_copy(version), placements=checked["placements"], slug=None
        )
        body.pop("source_version", None)  # checked above; its size only changes the plan of an edit
        try:
            build_job_spec(
                body=body,
                placements=specs,
                default_quality=policy.default_quality if policy else "high",
                default_output_format=policy.default_output_format if policy else "png",
            )
        except ServiceError as exc:
            where = {"prompt": "creatives", "locales": "markets", "size": "routing"}.get(exc.field, exc.field)
            raise ServiceError(exc.message, field=where, code=exc.code) from None
    return checked


def _with_copy(version: CampaignVersion) -> list[str]:
    """The markets with in-image copy; the others are generated without text, each by a job of its own."""
    return [market["locale"] for market in version.markets if market["copy"]]


def _version_values(version: CampaignVersion) -> dict[str, Any]:
    return {name: getattr(version, name) for name in VERSION_FIELDS}


def _collection(*, tenant: Tenant, slug: Any) -> Collection | None:
    if slug in (None, ""):
        return None
    collection = Collection.objects.for_tenant(tenant).filter(slug=slug).first() if isinstance(slug, str) else None
    if collection is None:
        raise ServiceError(f"no collection {slug!r} in this tenant", field="collection", code="does_not_exist")
    return collection


def _audit_values(values: dict[str, Any]) -> dict[str, Any]:
    return {k: (v.isoformat() if isinstance(v, datetime) else v) for k, v in values.items()}


@transaction.atomic
def campaign_create(
    *,
    tenant: Tenant,
    name: str,
    collection: str | None = None,
    created_by: Any = None,
    created_by_key: ApiKey | None = None,
    origin: RequestOrigin | None = None,
    **values: Any,
) -> Campaign:
    """A campaign and its version 1. `values`: brief, markets, placements, creatives, quality, routing, deadline."""
    unknown = set(values) - set(VERSION_FIELDS)
    if unknown:
        raise ValidationError(dict.fromkeys(sorted(unknown), "not a campaign field"))
    if not isinstance(name, str) or not name.strip() or len(name) > 200:
        raise _invalid("name", "a name of 1-200 characters")
    checked = _validate_version(tenant=tenant, values=values)
    campaign = Campaign.objects.for_tenant(tenant).create(
        tenant=tenant,
        name=name.strip(),
        owner=created_by,
        collection=_collection(tenant=tenant, slug=collection),
        version=1,
    )
    CampaignVersion.objects.for_tenant(tenant).create(
        tenant=tenant, campaign=campaign, number=1, created_by=created_by, created_by_key=created_by_key, **checked
    )
    audit(
        tenant=tenant,
        actor=Actor.of(user=created_by, api_key=created_by_key),
        action="campaign.created",
        target=("campaign", campaign.pk),
        payload={"name": campaign.name, "version": 1, **_audit_values(checked)},
        origin=origin,
    )
    return campaign


@transaction.atomic
def campaign_update(
    *,
    campaign: Campaign,
    created_by: Any = None,
    created_by_key: ApiKey | None = None,
    origin: RequestOrigin | None = None,
    **updates: Any,
) -> Campaign:
    """Change a campaign: its name, collection or archived flag in place; any version field makes the next
    version from the current one plus `updates` (jobs already submitted keep the version they started from)."""
    unknown = set(updates) - set(VERSION_FIELDS) - set(CAMPAIGN_FIELDS)
    if unknown:
        raise ValidationError(dict.fromkeys(sorted(unknown), "not a campaign field"))
    tenant = campaign.tenant
    # The campaign row lock: concurrent editors get consecutive versions, never a duplicate.
    locked = Campaign.objects.for_tenant(tenant).select_for_update(no_key=True).get(pk=campaign.pk)
    current = campaign_version_current(campaign=locked)
    before_campaign = {"name": locked.name, "collection": locked.collection_id, "archived": locked.archived}
    if "name" in updates:
        name = updates["name"]
        if not isinstance(name, str) or not name.strip() or len(name) > 200:
            raise _invalid("name", "a name of 1-200 characters")
        locked.name = name.strip()
    if "collection" in updates:
        locked.collection = _collection(tenant=tenant, slug=updates["collection"])
    if "archived" in updates:
        if not isinstance(updates["archived"], bool):
            raise _invalid("archived", "true or false")
        locked.archived = updates["archived"]
    before = _version_values(current)
    version_updates = {k: v for k, v in updates.items() if k in VERSION_FIELDS}
    after = _validate_version(tenant=tenant, values={**before, **version_updates}) if version_updates else before
    payload: dict[str, Any] = {}
    if after != before:
        locked.version = current.number + 1
        CampaignVersion.objects.for_tenant(tenant).create(
            tenant=tenant,
            campaign=locked,
            number=locked.version,
            created_by=created_by,
            created_by_key=created_by_key,
            **after,
        )
        payload = changes(_audit_values(before), _audit_values(after))
    after_campaign = {"name": locked.name, "collection": locked.collection_id, "archived": locked.archived}
    locked.save(update_fields=["name", "collection", "archived", "version", "updated_at"])
    audit(
        tenant=tenant,
        actor=Actor.of(user=created_by, api_key=created_by_key),
        action="campaign.updated",
        target=("campaign", locked.pk),
        payload={
            "version": locked.version,
            "campaign": changes(before_campaign, after_campaign),
            "version_changes": payload,
        },
        origin=origin,
    )
    return locked


# --- Running ---------------------------------------------------------------------------------------------


def _job_body(
    *,
    version: CampaignVersion,
    creative: dict[str, Any],
    locales: list[str],
    placements: list[str],
    slug: str | None,
) -> dict[str, Any]:
    """The job request of one creative over some markets and placements, as POST /api/v1/jobs takes it."""
    copy = {m["locale"]: m["copy"] for m in version.markets}
    body: dict[str, Any] = {
        "prompt": creative["prompt"],
        "locales": {locale: copy[locale] for locale in locales},
        "placements": placements,
    }
    if version.quality:
        body["quality"] = version.quality
    if version.routing is not None:
        body["routing"] = version.routing
    if slug:
        body["collection"] = slug
    if creative.get("source_version_id"):
        source = AssetVersion.objects.for_tenant(version.tenant_id).filter(pk=creative["source_version_id"]).first()
        if source is None:
            raise ServiceError(
                f"the source version of {creative['key']!r} no longer exists", field="creatives", code="does_not_exist"
            )
        body["source_version"] = {"asset": source.asset_id, "version": source.number}
    return body


# A job request's field -> the campaign field it comes from, for errors the job service raises on a run.
JOB_TO_CAMPAIGN_FIELD = {"prompt": "creatives", "locales": "markets", "size": "routing", "source_version": "creatives"}


def _as_campaign_error(error: ServiceError, *, creative: str) -> ServiceError:
    """The job service's refusal, naming the campaign's field and the creative (same class: same status code)."""
    if error.field in JOB_TO_CAMPAIGN_FIELD:
        error.field = JOB_TO_CAMPAIGN_FIELD[error.field]
        error.message = f"creative {creative!r}: {error.message}"
    return error


@dataclass(frozen=True)
class PlannedJob:
    creative: str
    locales: tuple[str, ...]
    placements: tuple[str, ...]
    body: dict[str, Any]
    idempotency_key: str
    # A market without copy: the job has no locales (no in-image text) and its outputs are filed under this market.
    no_text_market: str = ""

    @property
    def cells(self) -> list[CellKey]:
        return [(self.creative, locale, slug) for locale in self.locales for slug in self.placements]


@dataclass
class RunPlan:
    campaign: Campaign
    version: CampaignVersion
    jobs: list[PlannedJob]
    skipped: list[dict[str, str]]  # cells in scope that need nothing, with their status


def _scope_positions(
    *, version: CampaignVersion, scope: str, cells: Any, locale: str | None, placement: str | None
) -> list[CellKey]:
    positions = grid_positions(version)
    if scope == "all":
        return positions
    if scope == "row":
        if locale not in version.locales:
            raise ServiceError(f"not a market of this campaign; markets: {', '.join(version.locales)}", field="locale")
        return [p for p in positions if p[1] == locale]
    if scope == "column":
        if placement not in version.placements:
            raise ServiceError(
                f"not a placement of this campaign; placements: {', '.join(version.placements)}", field="placement"
            )
        return [p for p in positions if p[2] == placement]
    if scope == "cells":
        if not isinstance(cells, list) or not cells:
            raise ServiceError("a non-empty list of {creative, locale, placement}", field="cells")
        known, chosen = set(positions), []
        for cell in cells:
            key = (cell.get("creative"), cell.get("locale"), cell.get("placement")) if isinstance(cell, dict) else None
            if key not in known:
                raise ServiceError(f"{cell!r} is not a cell of this campaign's current version", field="cells")
            chosen.append(key)
        return [p for p in positions if p in set(chosen)]
    raise ServiceError(f"must be one of {', '.join(SCOPES)}", field="scope")


def campaign_run_plan(
    *,
    campaign: Campaign,
    scope: str = "all",
    cells: Any = None,
    locale: str | None = None,
    placement: str | None = None,
) -> RunPlan:
    """Which jobs a run would submit: the cells in scope that are planned, failed or rejected, grouped into one job
    per creative and set of placements (markets needing the same placements share a job). Reads only."""
    version = campaign_version_current(campaign=campaign)
    positions = _scope_positions(version=version, scope=scope, cells=cells, locale=locale, placement=placement)
    existing = campaign_cells(campaign=campaign)
    needed: dict[str, dict[str, list[str]]] = defaultdict(lambda: defaultdict(list))
    skipped = []
    for key in positions:
        status = cell_status(existing.get(key))
        if status in RERUNNABLE:
            creative, market, slug = key
            needed[creative][market].append(slug)
        else:
            skipped.append({"creative": key[0], "locale": key[1], "placement": key[2], "status": status})
    creatives = {c["key"]: c for c in version.creatives}
    slug = campaign.collection.slug if campaign.collection_id else None
    with_copy = set(_with_copy(version))
    jobs = []
    for creative in version.creative_keys:  # the version's order: a fixed plan for a fixed grid
        by_placements: dict[tuple[str, ...], list[str]] = defaultdict(list)
        for market, slugs in needed.get(creative, {}).items():
            by_placements[tuple(s for s in version.placements if s in slugs)].append(market)
        for placements, unordered in by_placements.items():
            markets = [m for m in version.locales if m in unordered]
            # Markets with copy share a job (one unit per locale); a market without copy is a job without
            # locales, since a job's units without copy carry no locale to file their outputs under.
            groups = [[m for m in markets if m in with_copy]] + [[m] for m in markets if m not in with_copy]
            for group in filter(None, groups):
                jobs.append(
                    _planned_job(
                        campaign=campaign,
                        version=version,
                        creative=creatives[creative],
                        markets=group,
                        placements=placements,
                        slug=slug,
                        existing=existing,
                        no_text=group[0] not in with_copy,
                    )
                )
    return RunPlan(campaign=campaign, version=version, jobs=jobs, skipped=skipped)


def _planned_job(
    *,
    campaign: Campaign,
    version: CampaignVersion,
    creative: dict[str, Any],
    markets: list[str],
    placements: tuple[str, ...],
    slug: str | None,
    existing: dict[CellKey, CampaignCell],
    no_text: bool,
) -> PlannedJob:
    body = _job_body(
        version=version,
        creative=creative,
        locales=[] if no_text else markets,
        placements=list(placements),
        slug=slug,
    )
    key = creative["key"]
    # The state of the cells is in the key: a second click while nothing changed replays the first
    # click's job, while a re-run after a rejection or a failure is a new job. The cells name their markets,
    # so two markets without copy (the same job body) get keys of their own.
    state = [
        (cell, existing[cell].current_version_id, existing[cell].last_job_id) if cell in existing else (cell,)
        for cell in ((key, m, s) for m in markets for s in placements)
    ]
    digest = hashlib.sha256(json.dumps([body, state], sort_keys=True, default=str).encode()).hexdigest()[:32]
    return PlannedJob(
        creative=key,
        locales=tuple(markets),
        placements=placements,
        body=body,
        idempotency_key=f"campaign-{campaign.pk}-v{version.number}-{key}-{digest}",
        no_text_market=markets[0] if no_text else "",
    )


@dataclass
class JobEstimateRow:
    job: PlannedJob
    provider_calls: int
    images: int
    estimated_output_tokens: int
    estimated_usd: Decimal | None


@dataclass
class CampaignEstimate:
    plan: RunPlan
    jobs: list[JobEstimateRow]

    @property
    def total_usd(self) -> Decimal | None:
        amounts = [row.estimated_usd for row in self.jobs]
        return None if any(a is None for a in amounts) else sum(amounts, Decimal(0))


def campaign_estimate(
    *,
    campaign: Campaign,
    scope: str = "all",
    cells: Any = None,
    locale: str | None = None,
    placement: str | None = None,
    actor: Actor | None = None,
    origin: RequestOrigin | None = None,
) -> CampaignEstimate:
    """The plan of a run and the job planner's figures for each of its jobs, summed; nothing is stored or held.

    Each job is planned as `job_plan` plans it (moderation included): a request it would refuse is refused here.
    Moderation may call out over the network: never call this inside a transaction.
    """
    plan = campaign_run_plan(campaign=campaign, scope=scope, cells=cells, locale=locale, placement=placement)
    rows = []
    for job in plan.jobs:
        try:
            resolved = job_plan(tenant=campaign.tenant, body=job.body, actor=actor, origin=origin)
        except ServiceError as error:
            raise _as_campaign_error(error, creative=job.creative) from None
        estimate = job_cost_estimate(tenant=campaign.tenant, spec=resolved.spec, is_edit=resolved.source is not None)
        rows.append(
            JobEstimateRow(
                job=job,
                provider_calls=resolved.spec.units,
                images=resolved.spec.units * resolved.spec.n,
                estimated_output_tokens=resolved.spec.estimated_output_tokens,
                estimated_usd=estimate.total_usd if estimate else None,
            )
        )
    return CampaignEstimate(plan=plan, jobs=rows)


@dataclass
class RunResult:
    plan: RunPlan
    submitted: list[tuple[PlannedJob, Job, bool]] = field(default_factory=list)  # (planned, job, created)
    refused: list[tuple[PlannedJob, ServiceError]] = field(default_factory=list)


def campaign_run(
    *,
    campaign: Campaign,
    scope: str = "all",
    cells: Any = None,
    locale: str | None = None,
    placement: str | None = None,
    requested_by: Any = None,
    requested_by_key: ApiKey | None = None,
    origin: RequestOrigin | None = None,
) -> RunResult:
    """Submit the jobs of a run (see `campaign_run_plan`) and mark their cells as generated by them.

    Each job is its own `job_submit` (moderation runs outside any transaction). A job refused (moderation, budget,
    a source version gone) before any was submitted fails the run; after one was, it is reported as refused and
    the run goes on.
    """
    if campaign.archived:
        raise Conflict("an archived campaign does not run; unarchive it first", field="archived", code="archived")
    plan = campaign_run_plan(campaign=campaign, scope=scope, cells=cells, locale=locale, placement=placement)
    result = RunResult(plan=plan)
    for planned in plan.jobs:
        try:
            submission = job_submit(
                tenant=campaign.tenant,
                body=planned.body,
                requested_by=requested_by,
                requested_by_key=requested_by_key,
                idempotency_key=planned.idempotency_key,
                origin=origin,
                campaign=campaign,
                campaign_version=plan.version.number,
                campaign_creative=planned.creative,
                campaign_market=planned.no_text_market,
            )
        except ServiceError as refusal:
            refusal = _as_campaign_error(refusal, creative=planned.creative)
            if not result.submitted:
                raise refusal from None
            result.refused.append((planned, refusal))
            continue
        result.submitted.append((planned, submission.job, submission.created))
    _cells_record(result=result, requested_by=requested_by, requested_by_key=requested_by_key, origin=origin)
    return result


@transaction.atomic
def _cells_record(
    *, result: RunResult, requested_by: Any, requested_by_key: ApiKey | None, origin: RequestOrigin | None
) -> None:
    campaign, version = result.plan.campaign, result.plan.version
    rows = [
        CampaignCell(
            tenant_id=campaign.tenant_id,
            campaign=campaign,
            creative=creative,
            locale=market,
            placement=slug,
            last_job=job,
            campaign_version=version.number,
        )
        for planned, job, _ in result.submitted
        for creative, market, slug in planned.cells
    ]
    # Outputs may already have landed (a fast worker): they own asset and current_version, the run last_job.
    CampaignCell.objects.for_tenant(campaign.tenant_id).bulk_create(
        rows,
        update_conflicts=True,
        unique_fields=["campaign", "creative", "locale", "placement"],
        update_fields=["last_job", "campaign_version", "updated_at"],
    )
    audit(
        tenant=campaign.tenant_id,
        actor=Actor.of(user=requested_by, api_key=requested_by_key),
        action="campaign.run",
        target=("campaign", campaign.pk),
        payload={
            "version": version.number,
            "jobs": [
                {"job": job.pk, "creative": p.creative, "cells": len(p.cells), "replayed": not created}
                for p, job, created in result.submitted
            ],
            "refused": [{"creative": p.creative, "reason": e.message} for p, e in result.refused],
            "skipped": len(result.plan.skipped),
        },
        origin=origin,
    )
