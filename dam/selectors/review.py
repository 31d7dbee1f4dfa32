"""Reads of review work: versions narrowed by campaign, market, placement, job, collection and status.

One selector (`review_versions`) serves the review board's filters, its "select all matching" and the bulk
review API's `filter`, so a row, a column or a whole campaign means the same versions everywhere.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from django.db import connection
from django.db.models import Exists, F, OuterRef, Prefetch, Q, QuerySet

from dam.lifecycle import VersionStatus
from dam.models import AssetVersion, ChecksState, Collection, Rendition
from dam.selectors.facets import asset_campaign_ids, asset_locales, version_job_ids, version_locales
from tenants.models import Placement, Tenant

# What the copy and brand checks found, as a reviewer narrows the board by it (value -> label).
CHECKS_FILTERS = {
    "copy": "Copy mismatch or near",
    "brand": "A brand check failed",
    "failed": "Checks could not run",
    "pending": "Checks still running",
}


@dataclass(frozen=True)
class ReviewFilters:
    """Which versions: every field narrows, an empty one does not. `statuses` empty means any status."""

    statuses: tuple[str, ...] = (VersionStatus.NEEDS_REVIEW,)
    campaign_id: int | None = None
    locale: str = ""
    placement: str = ""
    job_id: int | None = None
    collection: str = ""  # the collection's slug, as the asset list's filter takes it
    asset_ids: tuple[int, ...] = field(default_factory=tuple)
    checks: str = ""  # one of CHECKS_FILTERS

    def __post_init__(self) -> None:
        unknown = set(self.statuses) - set(VersionStatus.values)
        if unknown:
            raise ValueError(f"unknown statuses {sorted(unknown)}")
        if self.checks and self.checks not in CHECKS_FILTERS:
            raise ValueError(f"unknown checks filter {self.checks!r}")


def review_versions(*, tenant: Tenant | int, filters: ReviewFilters) -> QuerySet[AssetVersion]:
    """The tenant's versions matching `filters`, oldest first, with what a review card shows."""
    versions = AssetVersion.objects.for_tenant(tenant)
    if filters.statuses:
        versions = versions.filter(status__in=filters.statuses)
    if filters.campaign_id is not None:
        versions = versions.filter(campaign_id=filters.campaign_id)
    if filters.locale:
        # The market is the asset's locale; versions made before campaigns carry it on the version only.
        versions = versions.filter(Q(asset__locale__iexact=filters.locale) | Q(locale__iexact=filters.locale))
    if filters.placement:
        cut_for = Rendition.unscoped.filter(version=OuterRef("pk"), placement_slug=filters.placement)
        versions = versions.filter(Q(asset__placements__contains=[filters.placement]) | Q(Exists(cut_for)))
    if filters.job_id is not None:
        versions = versions.filter(job_id=filters.job_id)
    if filters.collection:
        versions = versions.filter(asset__collection__slug=filters.collection)
    if filters.asset_ids:
        versions = versions.filter(asset_id__in=filters.asset_ids)
    if filters.checks:
        versions = versions.filter(_checks_condition(filters.checks))
    return versions.order_by("id")


def _checks_condition(name: str) -> Q:
    """The checks filter in SQL, on the version row: its state, the brand score, the copy verdict its summary keeps."""
    if name == "copy":
        return Q(checks_state=ChecksState.DONE, checks_summary__copy__verdict__in=["near", "mismatch"])
    if name == "brand":
        return Q(checks_state=ChecksState.DONE, brand_checks_passed__lt=F("brand_checks_run"))
    if name == "failed":
        return Q(checks_state=ChecksState.FAILED)
    return Q(checks_state=ChecksState.PENDING)


def review_cards(versions: QuerySet[AssetVersion]) -> QuerySet[AssetVersion]:
    """What a review card draws, fetched with the page: the asset, the requester, the renditions."""
    return versions.select_related("asset", "created_by", "created_by_key", "created_by_person").prefetch_related(
        Prefetch("renditions", queryset=Rendition.unscoped.order_by("spec"))
    )


def campaign_label(title: str) -> str:
    """A campaign's name as its outputs' titles begin (`campaign / creative / market`)."""
    return title.split(" / ", 1)[0].strip() or title


# One output's title per campaign id: a probe of the campaign index each (`asset_campaign_cell`).
_CAMPAIGN_TITLES = """
SELECT wanted.id, (
    SELECT asset.title FROM dam_asset AS asset
    WHERE asset.tenant_id = %s AND asset.campaign_id = wanted.id LIMIT 1
)
FROM unnest(%s::bigint[]) AS wanted(id)
"""


def review_campaign_labels(*, tenant: Tenant | int, ids: list[int | None]) -> dict[int, str]:
    """campaign id -> its label, newest campaign first. The library knows campaigns only by id (generation
    sits above it), so the label is the title prefix its outputs carry: every output of a campaign carries the
    same one, so one output's title per campaign, where grouping every output of the campaigns took 160 ms at 1M
    assets (bench/data_scale.py)."""
    wanted = sorted({campaign_id for campaign_id in ids if campaign_id is not None}, reverse=True)
    if not wanted:
        return {}
    tenant_id = tenant if isinstance(tenant, int) else tenant.pk
    with connection.cursor() as cursor:
        cursor.execute(_CAMPAIGN_TITLES, [tenant_id, wanted])
        titles = dict(cursor.fetchall())
    return {campaign_id: campaign_label(titles[campaign_id]) for campaign_id in wanted if titles.get(campaign_id)}


# How many campaigns and jobs the board's filters offer, newest first (older ones are still reachable by typing
# their id in the query string).
CAMPAIGN_CHOICES = 200
JOB_CHOICES = 100


def review_filter_choices(*, tenant: Tenant | int) -> dict[str, list[tuple[str, str]]]:
    """The options of the board's filters: (value, label) pairs, from what the tenant has.

    Markets, campaigns and jobs are walked through indexes, one probe per value (`dam.selectors.facets`): the same
    cost at a million versions as at a thousand, and no value missed (a DISTINCT over every version took 1.7 s at
    1M assets, over the newest 10,000 rows ~20-30 ms each and could miss an older market)."""
    tenant_id = tenant if isinstance(tenant, int) else tenant.pk
    locales = sorted(
        set(version_locales(tenant_id=tenant_id)) | set(asset_locales(tenant_id=tenant_id)),
        key=str.lower,
    )
    jobs = version_job_ids(
        tenant_id=tenant_id, statuses=[VersionStatus.NEEDS_REVIEW, VersionStatus.APPROVED], limit=JOB_CHOICES
    )
    campaigns = asset_campaign_ids(tenant_id=tenant_id, limit=CAMPAIGN_CHOICES)
    return {
        "campaign": [(str(pk), label) for pk, label in review_campaign_labels(tenant=tenant, ids=campaigns).items()],
        "locale": [(loc, loc) for loc in dict.fromkeys(locales)],
        "placement": [
            (slug, name or slug)
            for slug, name in Placement.objects.for_tenant(tenant).order_by("slug").values_list("slug", "name")
        ],
        "job": [(str(job), f"Job #{job}") for job in jobs],
        "collection": list(Collection.objects.for_tenant(tenant).order_by("name").values_list("slug", "name")),
    }


def placement_names(*, tenant: Tenant | int) -> dict[str, str]:
    return {slug: name or slug for slug, name in Placement.objects.for_tenant(tenant).values_list("slug", "name")}
