"""Where a campaign job's outputs land: the cell's asset (one per creative x market x aspect group), and the cells.

Called inside `generation.services.outputs.outputs_persist`'s transaction, after the unit's row lock.
"""

from __future__ import annotations

from dataclasses import dataclass

from dam.models import Asset, AssetVersion
from dam.services.assets import asset_create
from generation.models import Campaign, CampaignCell, CampaignVersion, Job, JobGeneration


def _campaign_version(job: Job) -> CampaignVersion | None:
    return (
        CampaignVersion.objects.for_tenant(job.tenant_id)
        .filter(campaign_id=job.campaign_id, number=job.campaign_version)
        .only("creatives", "markets")
        .first()
    )


def _creative_name(job: Job, version: CampaignVersion | None) -> str:
    for creative in version.creatives if version else []:
        if creative.get("key") == job.campaign_creative:
            return creative.get("name") or job.campaign_creative
    return job.campaign_creative


@dataclass(frozen=True)
class CellTarget:
    asset: Asset
    parent: AssetVersion | None
    new_asset: bool
    alt_text: dict[str, str]  # the market's alt text from the campaign version, for the new versions


def campaign_cell_asset(*, job: Job, unit: JobGeneration, placements: list[str]) -> CellTarget:
    """The asset this output appends to, its parent version, and the market's alt text.

    The same creative, market and aspect group (an asset cut for any of these placements) always reaches
    the same asset, so a re-run extends the cell's lineage instead of starting a new asset. The campaign
    row is locked first: two units of one campaign finishing together cannot both create the asset.
    """
    campaign = Campaign.objects.for_tenant(job.tenant_id).select_for_update(no_key=True).get(pk=job.campaign_id)
    version = _campaign_version(job)
    markets = {market["locale"]: market for market in version.markets} if version else {}
    alt = markets.get(unit.locale, {}).get("alt_text") or ""
    alt_text = {unit.locale: alt} if alt and unit.locale else {}
    asset = (
        Asset.objects.for_tenant(job.tenant_id)
        .filter(
            campaign_id=campaign.pk,
            creative=job.campaign_creative,
            locale=unit.locale,
            placements__overlap=placements,
        )
        .select_related("current_version")
        .order_by("id")
        .first()
    )
    if asset is None:
        asset = asset_create(
            tenant=job.tenant,
            title=f"{campaign.name} / {_creative_name(job, version)} / {unit.locale or '-'}",
            source=Asset.Source.GENERATED,
            collection=job.collection,
            tags=job.tags,
            family=f"campaign-{campaign.pk}",
            locale=unit.locale,
            campaign_id=campaign.pk,
            creative=job.campaign_creative,
            placements=placements,
        )
        return CellTarget(asset, None, True, alt_text)
    missing = [slug for slug in placements if slug not in asset.placements]
    if missing:
        # A placement added to the campaign later joins the asset of its aspect group.
        asset.placements = [*asset.placements, *missing]
        Asset.objects.for_tenant(job.tenant_id).filter(pk=asset.pk).update(placements=asset.placements)
    return CellTarget(asset, asset.current_version, False, alt_text)


def campaign_cells_store(*, job: Job, locale: str, placements: list[str], version: AssetVersion) -> None:
    """Point the unit's cells (one per placement of its aspect group) at the version just stored."""
    cells = [
        CampaignCell(
            tenant_id=job.tenant_id,
            campaign_id=job.campaign_id,
            creative=job.campaign_creative,
            locale=locale,
            placement=slug,
            asset_id=version.asset_id,
            current_version=version,
            last_job=job,
            campaign_version=job.campaign_version or 1,
        )
        for slug in placements
    ]
    # The run wrote last_job when it submitted; an output never moves it back to an older job.
    CampaignCell.objects.for_tenant(job.tenant_id).bulk_create(
        cells,
        update_conflicts=True,
        unique_fields=["campaign", "creative", "locale", "placement"],
        update_fields=["asset", "current_version", "updated_at"],
    )
