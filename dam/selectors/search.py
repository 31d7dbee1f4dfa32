"""Searching and filtering the asset library (Postgres full-text search).

Each asset stores one `search_vector`, rebuilt by `asset_search_refresh` whenever its title,
tags or current version (prompt, alt texts) change. It holds every word twice: stemmed with
the English dictionary (so "shoes" finds "shoe") and unstemmed with the `simple` one (so tags,
locales and words of other languages match as written). A query is parsed both ways
(websearch syntax: quotes, `or`, `-word`) and either may match.

Scripts without spaces between words (Japanese, Chinese) are tokenised by Postgres as whole
runs of text: search finds them by a whole phrase or by tag, not by a word inside a sentence.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from django.contrib.postgres.search import SearchQuery, SearchRank
from django.core.exceptions import ValidationError
from django.db import connection
from django.db.models import Exists, F, OuterRef, Q, QuerySet, Subquery
from django.db.models.functions import Lower
from django.utils import timezone

from dam.lifecycle import VersionStatus
from dam.models import Asset, AssetVersion, Collection, Rendition
from tenants.models import Tenant

MAX_QUERY_CHARS = 200
# Archived assets in a list: "false" leaves them out (what a query string without `archived` asks for),
# "true" shows only them, "all" both.
ARCHIVED_CHOICES = ("false", "true", "all")
# How a result list is ordered: the UI offers each; the API pages by id (newest first).
SORTS = {"newest": "Newest first", "oldest": "Oldest first", "relevance": "Best match", "name": "Name (A-Z)"}


def _weighted_text(asset: Asset, version: AssetVersion | None) -> dict[str, str]:
    """Text per search weight: A title, B tags and alt texts, C the prompt, D locales."""
    alt_text = (version.alt_text or {}) if version else {}
    locales = [asset.locale, version.locale if version else "", *alt_text]
    return {
        "A": asset.title,
        "B": " ".join([*asset.tags, *(str(text) for text in alt_text.values())]),
        "C": version.compiled_prompt if version else "",
        "D": " ".join(filter(None, locales)),
    }


# Every weight's text twice, stemmed (english) and as written (simple); built once, the texts are parameters.
_VECTOR_SQL = " || ".join(
    f"setweight(to_tsvector('{config}'::regconfig, %s), '{weight}')"
    for weight in "ABCD"
    for config in ("english", "simple")
)


def _vector_params(asset: Asset, version: AssetVersion | None) -> list[str]:
    return [text for text in _weighted_text(asset, version).values() for _config in range(2)]


def asset_search_refresh(*, asset_id: int, tenant_id: int) -> None:
    """Rebuild one asset's search vector from its current state (one UPDATE)."""
    asset = Asset.objects.for_tenant(tenant_id).select_related("current_version").filter(pk=asset_id).first()
    if asset is not None:
        _vector_write(asset=asset, version=asset.current_version)


def asset_current_version_set(*, asset: Asset, version: AssetVersion) -> None:
    """Make `version` the asset's current one and rebuild its search vector, in one UPDATE.

    `asset` must hold the row as it is now (its title, tags and locale feed the vector)."""
    _vector_write(asset=asset, version=version, make_current=True)
    asset.current_version = version


def _vector_write(*, asset: Asset, version: AssetVersion | None, make_current: bool = False) -> None:
    current_sql, current_params = ("current_version_id = %s, ", [version.pk]) if make_current else ("", [])
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE dam_asset SET {current_sql}search_vector = {_VECTOR_SQL} WHERE tenant_id = %s AND id = %s",
            [*current_params, *_vector_params(asset, version), asset.tenant_id, asset.pk],
        )


@dataclass(frozen=True)
class AssetFilters:
    q: str = ""
    collection: str = ""  # slug
    tag: str = ""
    locale: str = ""  # the market
    placement: str = ""  # slug: made for this placement (see `assets_filter`)
    campaign: int | None = None  # generation.Campaign id (by value: the library sits below generation)
    status: str = ""  # of the current version
    source: str = ""  # generated / uploaded
    created_after: dt.date | None = None
    created_before: dt.date | None = None  # inclusive
    # "all" here, so a filter built field by field (the browser's list filters) narrows nothing else;
    # `from_query_params` (a list's query string) defaults to "false": archived assets are out unless asked for.
    archived: str = "all"

    @classmethod
    def from_query_params(cls, params) -> AssetFilters:
        def date(name: str) -> dt.date | None:
            raw = params.get(name, "").strip()
            if not raw:
                return None
            try:
                return dt.date.fromisoformat(raw[:10])
            except ValueError:
                raise ValidationError({name: "a date as YYYY-MM-DD"}) from None

        q = params.get("q", "").strip()
        if len(q) > MAX_QUERY_CHARS:
            raise ValidationError({"q": f"at most {MAX_QUERY_CHARS} characters"})
        status = params.get("status", "").strip()
        if status and status not in VersionStatus.values:
            raise ValidationError({"status": f"one of {', '.join(VersionStatus.values)}"})
        source = params.get("source", "").strip()
        if source and source not in Asset.Source.values:
            raise ValidationError({"source": f"one of {', '.join(Asset.Source.values)}"})
        archived = str(params.get("archived", "")).strip().lower() or "false"
        if archived not in ARCHIVED_CHOICES:
            raise ValidationError({"archived": f"one of {', '.join(ARCHIVED_CHOICES)}"})
        campaign = str(params.get("campaign", "")).strip()
        if campaign and not (campaign.isascii() and campaign.isdigit() and len(campaign) <= 18):
            raise ValidationError({"campaign": "a campaign id"})
        return cls(
            q=q,
            collection=params.get("collection", "").strip(),
            tag=params.get("tag", "").strip().lower(),
            locale=params.get("locale", "").strip(),
            placement=params.get("placement", "").strip(),
            campaign=int(campaign) if campaign else None,
            status=status,
            source=source,
            created_after=date("created_after"),
            created_before=date("created_before"),
            archived=archived,
        )


def assets_filter(assets: QuerySet[Asset], filters: AssetFilters, *, tenant_id: int | None = None) -> QuerySet[Asset]:
    """Narrow an already tenant-scoped asset queryset; the ordering (and so the paging) is untouched.

    `tenant_id` (the queryset's tenant): a collection is then matched by its id, looked up once in the same
    statement, and the newest page walks `(tenant, collection, id)` in order; joined by slug, every asset of the
    collection was read and sorted (139 ms at 19,500 of them, bench/data_scale.py)."""
    if filters.q:
        query = _search_query(filters.q)
        # A job family ("job-7", the id every output of one request shares) is matched as written.
        assets = assets.filter(Q(search_vector=query) | Q(family=filters.q))
    if filters.collection and tenant_id is not None:
        collection = Collection.objects.for_tenant(tenant_id).filter(slug=filters.collection).values("id")[:1]
        assets = assets.filter(collection_id=Subquery(collection))
    elif filters.collection:
        assets = assets.filter(collection__slug=filters.collection)
    if filters.tag:
        assets = assets.filter(tags__contains=[filters.tag])
    if filters.locale:
        assets = assets.filter(
            Q(locale__iexact=filters.locale)
            | Q(current_version__locale__iexact=filters.locale)
            | Q(current_version__alt_text__has_key=filters.locale)
        )
    if filters.placement:
        assets = assets.filter(_made_for(filters.placement))
    if filters.campaign is not None:
        assets = assets.filter(campaign_id=filters.campaign)
    if filters.status:
        assets = assets.filter(current_version__status=filters.status)
    if filters.source:
        assets = assets.filter(source=filters.source)
    # Days as ranges of instants (midnight to midnight in the current time zone, as `__date` judged them): a range
    # walks an index on the time; `created_at::date` could not (176 ms through 498,296 newer assets at 1M).
    if filters.created_after:
        start = _midnight(filters.created_after)
        assets = assets.filter(created_at__gte=start)
        if tenant_id is not None:
            assets = _id_bounded(assets, _id_bound(tenant_id, start - ID_TIME_SKEW, first=True), lookup="id__gte")
    if filters.created_before:
        end = _midnight(filters.created_before + dt.timedelta(days=1))
        assets = assets.filter(created_at__lt=end)
        if tenant_id is not None:
            assets = _id_bounded(assets, _id_bound(tenant_id, end + ID_TIME_SKEW, first=False), lookup="id__lte")
    if filters.archived == "false":
        assets = assets.filter(archived_at__isnull=True)
    elif filters.archived == "true":
        assets = assets.filter(archived_at__isnull=False)
    return assets


# Ids and creation times of assets agree up to concurrent inserts (an id is drawn, then the row commits): never
# by more than this. The id bounds below are widened by it; the time conditions keep the answer exact.
ID_TIME_SKEW = dt.timedelta(minutes=5)


def _id_bound(tenant_id: int, moment: dt.datetime, *, first: bool) -> int | None:
    """The id of the tenant's first asset created at or after `moment` (`first`), or of its last one created
    before it: one probe of (tenant, created_at), run now. As a literal, the planner sees how many ids the range
    spans and walks the id index newest first between the bounds, stopping at a page; as a subquery it could not
    know, read every asset in the range and sorted them (138 ms for a month at 1M assets, bench/data_scale.py)."""
    assets = Asset.objects.for_tenant(tenant_id)
    if first:
        assets = assets.filter(created_at__gte=moment).order_by("created_at")
    else:
        assets = assets.filter(created_at__lt=moment).order_by("-created_at")
    return assets.values_list("id", flat=True).first()


def _id_bounded(assets: QuerySet[Asset], bound: int | None, *, lookup: str) -> QuerySet[Asset]:
    # No asset on that side of the moment: none can be in the range.
    return assets.none() if bound is None else assets.filter(**{lookup: bound})


def _midnight(day: dt.date) -> dt.datetime:
    return timezone.make_aware(dt.datetime.combine(day, dt.time.min), timezone.get_current_timezone())


def _made_for(slug: str) -> Q:
    """Assets made for a placement: carrying it (campaign outputs), else generated with it in the size plan,
    else (uploads, which have no plan) having its rendition. Every version gets every placement's rendition
    up front, so the renditions alone would not tell a banner from a story."""
    planned = Q(current_version__size_plan__contains={"placements": [{"slug": slug}]})
    renditions = Rendition.unscoped.filter(version=OuterRef("current_version"), placement_slug=slug)
    unplanned = Q(current_version__size_plan={}) & Exists(renditions)
    return Q(placements__contains=[slug]) | (Q(placements=[]) & (planned | unplanned))


# "Best match" ranks this many matches, the newest (about four pages of the grid): ranking every match read and
# ranked each one (247,000 for "summer sneaker" at a million assets: 0.7-1.3 s). The matches past them follow,
# newest first. A search's matches are counted up to SEARCH_COUNT_CAP ("5,000+ match"): each match counted is a
# table row read (the full-text index cannot say which tenant's or whether archived).
RANK_CANDIDATES = 200
SEARCH_COUNT_CAP = 5_000


def assets_sorted(assets: QuerySet[Asset], *, sort: str, q: str = "") -> QuerySet[Asset]:
    """Order a result list: newest (the default), oldest, relevance (`assets_ranked`: the best of the newest
    RANK_CANDIDATES matches of `q`; newest without a `q`), name."""
    if sort == "oldest":
        return assets.order_by("id")
    if sort == "name":
        return assets.order_by(Lower("title"), "id")
    if sort == "relevance" and q:
        return assets_ranked(assets, q=q)
    return assets.order_by("-id")


@dataclass(frozen=True)
class CountedMatches:
    count: int  # up to `cap` + 1: more than `cap` means "more than `cap`"
    newest: list[int] | None  # the newest RANK_CANDIDATES ids, newest first, when every match was counted


def assets_matches_counted(matches: QuerySet[Asset], *, cap: int | None = None) -> CountedMatches:
    """How many `matches` (a search's, unordered) there are, up to `cap` (SEARCH_COUNT_CAP), and, when that was all
    of them, which are the newest RANK_CANDIDATES: one statement, one pass over the matches in whatever order is
    cheapest (the full-text index's bitmap for rarer terms, the table in order for common ones, stopping at the
    cap), so the ranking reads nothing again. Over the cap the candidates are found by `assets_ranked` walking the
    newest assets: common terms, so a short walk."""
    cap = cap or SEARCH_COUNT_CAP
    sql, params = matches.order_by().values_list("id", flat=True)[: cap + 1].query.sql_with_params()
    with connection.cursor() as cursor:
        cursor.execute(
            f"WITH found(id) AS MATERIALIZED ({sql}) "
            "SELECT count(*), (array_agg(id ORDER BY id DESC))[1:%s] FROM found",
            [*params, RANK_CANDIDATES],
        )
        count, newest = cursor.fetchone()
    return CountedMatches(count=count, newest=(newest or []) if count <= cap else None)


def assets_ranked(assets: QuerySet[Asset], *, q: str, newest: list[int] | None = None) -> QuerySet[Asset]:
    """The newest RANK_CANDIDATES of `assets` (already narrowed to the matches of `q`; `newest`: their ids, when
    known), best match first: PostgreSQL's ts_rank of `q` (title over tags and alt texts over the prompt over
    markets, as the vector weighs them), equal ranks newest first.

    The rule, as the grid states it: a best-match list ranks the newest RANK_CANDIDATES matches and shows the
    older ones after them, newest first (`dam.admin.paging.RankedPaginator`); its count is every match's up to
    SEARCH_COUNT_CAP, never ranked. Ranking every match costs as many table reads and ts_rank calls as there are
    matches; a RUM index, which keeps positions in the index, would rank them all in the index."""
    candidates = newest if newest is not None else assets.order_by("-id").values("pk")[:RANK_CANDIDATES]
    return (
        assets.filter(pk__in=candidates)
        .annotate(rank=SearchRank(F("search_vector"), _search_query(q)))
        .order_by("-rank", "-id")
    )


def _search_query(q: str) -> SearchQuery:
    return SearchQuery(q, config="english", search_type="websearch") | SearchQuery(
        q, config="simple", search_type="websearch"
    )


def assets_search(*, tenant: Tenant, filters: AssetFilters, sort: str = "newest") -> QuerySet[Asset]:
    assets = assets_filter(Asset.objects.for_tenant(tenant), filters, tenant_id=tenant.pk)
    return assets_sorted(assets, sort=sort, q=filters.q)
