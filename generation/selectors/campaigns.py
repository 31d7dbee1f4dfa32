"""Reads for campaigns: their versions, the cell grid with derived statuses, and spend from the ledger."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from django.db import models
from django.db.models import Prefetch, QuerySet, Sum

from dam.blobs import blob_url
from dam.lifecycle import is_servable
from dam.models import Rendition
from dam.renditions.presets import placement_spec_key
from dam.selectors.checks import checks_overview
from generation.lifecycle import JobState
from generation.models import Campaign, CampaignCell, CampaignVersion, CellStatus, Job, ProviderResponse
from generation.planning import SizePlan
from governance.models import LedgerEntry
from governance.safety.verdicts import Decision
from tenants.errors import NotFound
from tenants.models import Tenant
from tenants.selectors import placements_for_tenant

CellKey = tuple[str, str, str]  # (creative, locale, placement)
# What a run generates again: cells with nothing usable (never run, or the job failed) and rejected ones.
RERUNNABLE = frozenset({CellStatus.PLANNED, CellStatus.FAILED, CellStatus.REJECTED})
SPENDING_KINDS = (LedgerEntry.Kind.CHARGE, LedgerEntry.Kind.ADJUSTMENT)
CENT = Decimal("0.000001")


def campaigns_for_tenant(*, tenant: Tenant, archived: bool | None = None) -> QuerySet[Campaign]:
    campaigns = Campaign.objects.for_tenant(tenant).select_related("collection", "owner")
    return campaigns if archived is None else campaigns.filter(archived=archived)


def campaign_versions(*, campaign: Campaign) -> QuerySet[CampaignVersion]:
    return CampaignVersion.objects.for_tenant(campaign.tenant_id).filter(campaign=campaign).order_by("-number")


def campaign_version_current(*, campaign: Campaign) -> CampaignVersion:
    # A list of campaigns prefetches each one's current version (`current_versions`): no second read per campaign.
    prefetched = getattr(campaign, "current_versions", None)
    if prefetched is not None:
        version = next((v for v in prefetched if v.number == campaign.version), None)
    else:
        version = campaign_versions(campaign=campaign).filter(number=campaign.version).first()
    if version is None:
        raise NotFound("the campaign has no such version")
    return version


def cell_status(cell: CampaignCell | None) -> str:
    """planned (never run), generating (its last job is queued or running), failed (the last job failed and
    the cell has no version), else its current version's status."""
    if cell is None or (cell.last_job_id is None and cell.current_version_id is None):
        return CellStatus.PLANNED
    job = cell.last_job
    if job is not None and job.state in (JobState.QUEUED, JobState.RUNNING):
        return CellStatus.GENERATING
    if cell.current_version is None:
        return CellStatus.FAILED if job is not None else CellStatus.PLANNED
    return cell.current_version.status


def campaign_cells(*, campaign: Campaign, with_renditions: bool = False) -> dict[CellKey, CampaignCell]:
    """The campaign's cells by (creative, locale, placement), with what their status needs, in a fixed number of
    queries whatever the grid's size."""
    cells = (
        CampaignCell.objects.for_tenant(campaign.tenant_id)
        .filter(campaign=campaign)
        .select_related("current_version", "last_job")
        .defer("last_job__request", "last_job__size_plan", "last_job__safety_verdicts")
    )
    if with_renditions:
        cells = cells.prefetch_related(
            Prefetch(
                "current_version__renditions",
                queryset=Rendition.unscoped.filter(spec__startswith="placement:").only(
                    "id", "version_id", "spec", "storage_key", "sha256"
                ),
            )
        )
    return {(cell.creative, cell.locale, cell.placement): cell for cell in cells}


def grid_positions(version: CampaignVersion) -> list[CellKey]:
    """Every cell of a version, market by market (rows), placement by placement (columns), creative by creative."""
    return [
        (creative, locale, placement)
        for locale in version.locales
        for placement in version.placements
        for creative in version.creative_keys
    ]


@dataclass
class Spend:
    total_usd: Decimal = Decimal(0)
    by_market: dict[str, Decimal] = field(default_factory=lambda: defaultdict(Decimal))
    by_creative: dict[str, Decimal] = field(default_factory=lambda: defaultdict(Decimal))
    by_cell: dict[CellKey, Decimal] = field(default_factory=lambda: defaultdict(Decimal))
    jobs: int = 0


def campaign_spend(*, campaign: Campaign) -> Spend:
    """What the campaign's jobs cost (charges and adjustments in the ledger), per market, creative and cell.

    A provider response makes one market's aspect group: its charge is that market's, and it is split evenly
    over the group's placements for the cells (the rounding remainder goes to the first)."""
    tenant_id = campaign.tenant_id
    jobs = {
        pk: (creative, plan)
        for pk, creative, plan in Job.objects.for_tenant(tenant_id)
        .filter(campaign=campaign)
        .values_list("pk", "campaign_creative", "size_plan")
    }
    spend = Spend(jobs=len(jobs))
    if not jobs:
        return spend
    entries = list(
        LedgerEntry.objects.for_tenant(tenant_id)
        .filter(job_id__in=list(jobs), kind__in=SPENDING_KINDS)
        .values_list("job_id", "provider_request_id", "amount_usd")
    )
    units = {
        request_id: (locale, group)
        for request_id, locale, group in ProviderResponse.objects.for_tenant(tenant_id)
        .filter(provider_request_id__in=[request_id for _, request_id, _ in entries if request_id])
        .values_list("provider_request_id", "generation__locale", "generation__group_index")
    }
    for job_id, request_id, amount in entries:
        creative, plan = jobs[job_id]
        spend.total_usd += amount
        spend.by_creative[creative] += amount
        if request_id not in units:
            continue  # an adjustment of the whole job: the campaign's and the creative's, no market's
        locale, group_index = units[request_id]
        spend.by_market[locale] += amount
        slugs = [d.slug for d in SizePlan.from_dict(plan).groups[group_index].placements]
        if slugs:
            share = (amount / len(slugs)).quantize(CENT)
            for index, slug in enumerate(slugs):
                spend.by_cell[(creative, locale, slug)] += share + (amount - share * len(slugs) if index == 0 else 0)
    return spend


def campaign_grid(*, campaign: Campaign, storefront: bool = False) -> dict[str, Any]:
    """The grid as the API and the web UI show it: the current version's markets (rows) x placements (columns)
    x creatives, each cell with its status, version, URLs and cost. Queries are constant in the number of cells."""
    version = campaign_version_current(campaign=campaign)
    cells = campaign_cells(campaign=campaign, with_renditions=True)
    spend = campaign_spend(campaign=campaign)
    placements = {
        p.slug: p
        for p in placements_for_tenant(tenant=campaign.tenant_id, include_archived=True).filter(
            slug__in=version.placements
        )
    }
    rows, counts = [], defaultdict(int)
    for market in version.markets:
        row = []
        for slug in version.placements:
            for creative in version.creative_keys:
                key = (creative, market["locale"], slug)
                cell = cells.get(key)
                status = cell_status(cell)
                counts[status] += 1
                row.append(_cell_data(key, cell, status, spend.by_cell.get(key), storefront=storefront))
        rows.append({"locale": market["locale"], "cells": row})
    return {
        "campaign": campaign.pk,
        "version": version.number,
        "markets": version.markets,
        "placements": [
            {
                "slug": slug,
                "name": placements[slug].name if slug in placements else slug,
                "width": placements[slug].width if slug in placements else None,
                "height": placements[slug].height if slug in placements else None,
            }
            for slug in version.placements
        ],
        "creatives": [{"key": c["key"], "name": c.get("name") or c["key"]} for c in version.creatives],
        "rows": rows,
        "counts": dict(counts),
        "spend_usd": spend.total_usd,
    }


@dataclass
class CampaignSummary:
    """One line of the campaign list: the grid's shape, its cells by status and the spend."""

    markets: int
    placements: int
    creatives: int
    counts: dict[str, int]
    spend_usd: Decimal


def campaign_summaries(*, tenant: Tenant | int, campaigns: list[Campaign]) -> dict[int, CampaignSummary]:
    """The list page's figures for a page of campaigns in four queries, however many campaigns and cells:
    current versions, cells (with what their status needs), jobs, and the ledger summed per job."""
    ids = [campaign.pk for campaign in campaigns]
    versions = {
        version.campaign_id: version
        for version in CampaignVersion.objects.for_tenant(tenant)
        .filter(campaign_id__in=ids)
        .filter(number=models.F("campaign__version"))
        .only("campaign_id", "number", "markets", "placements", "creatives")
    }
    cells: dict[int, dict[CellKey, CampaignCell]] = defaultdict(dict)
    for cell in (
        CampaignCell.objects.for_tenant(tenant)
        .filter(campaign_id__in=ids)
        .select_related("current_version", "last_job")
        .only(
            "campaign_id",
            "creative",
            "locale",
            "placement",
            "last_job_id",
            "current_version_id",
            "current_version__status",
            "last_job__state",
        )
    ):
        cells[cell.campaign_id][(cell.creative, cell.locale, cell.placement)] = cell
    campaign_of_job = dict(Job.objects.for_tenant(tenant).filter(campaign_id__in=ids).values_list("pk", "campaign_id"))
    spend: dict[int, Decimal] = defaultdict(Decimal)
    for job_id, amount in (
        LedgerEntry.objects.for_tenant(tenant)
        .filter(job_id__in=list(campaign_of_job), kind__in=SPENDING_KINDS)
        .values("job_id")
        .annotate(amount=Sum("amount_usd"))
        .values_list("job_id", "amount")
    ):
        spend[campaign_of_job[job_id]] += amount
    summaries = {}
    for campaign_id, version in versions.items():
        counts: dict[str, int] = defaultdict(int)
        for key in grid_positions(version):
            counts[cell_status(cells[campaign_id].get(key))] += 1
        summaries[campaign_id] = CampaignSummary(
            markets=len(version.locales),
            placements=len(version.placements),
            creatives=len(version.creative_keys),
            counts=dict(counts),
            spend_usd=spend[campaign_id],
        )
    return summaries


def _cell_data(
    key: CellKey, cell: CampaignCell | None, status: str, cost: Decimal | None, *, storefront: bool
) -> dict[str, Any]:
    creative, locale, placement = key
    version = cell.current_version if cell else None
    servable = version is not None and is_servable(version.status, storefront=storefront)
    rendition = None
    if servable:
        spec = placement_spec_key(placement)
        rendition = next((r for r in version.renditions.all() if r.spec == spec), None)
    return {
        "creative": creative,
        "locale": locale,
        "placement": placement,
        "status": status,
        "asset": cell.asset_id if cell else None,
        "version": version.pk if version else None,
        "version_number": version.number if version else None,
        "job": cell.last_job_id if cell else None,
        "url": blob_url(version.storage_key) if servable else None,
        "placement_url": blob_url(rendition.storage_key) if rendition else None,
        # The placement's own crop, for previews that must not go through a public URL (the staff grid).
        "rendition": rendition.pk if rendition else None,
        "moderation": _worst_decision(version.safety_verdicts) if version else None,
        # From the version row already read (no query); a storefront never sees the checks.
        "checks": checks_overview(version) if version and not storefront else None,
        "cost_usd": cost or Decimal(0),
    }


def _worst_decision(verdicts: list[dict[str, Any]]) -> str:
    """The badge of a version's moderation: block over flag over pass (the verdicts' terms are not shown)."""
    decisions = {verdict.get("decision") for verdict in verdicts}
    return next((d for d in (Decision.BLOCK, Decision.FLAG) if d in decisions), Decision.PASS).value
