"""What a storefront may see, and the URLs it gets for it.

One rule, used by the storefront API and by the byte-serving delivery views alike: a
version is visible when its status is approved or published (`STOREFRONT_VISIBLE`) and
`now` lies inside its publish window (no window: always). An asset is visible through its
latest visible version, which is not necessarily `Asset.current_version` (that is the
newest version of any status).
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass
from typing import Any, NamedTuple
from urllib.parse import quote

from django.conf import settings
from django.db import connection
from django.db.models import BigIntegerField, Expression, F, OuterRef, Q, QuerySet, Subquery
from django.utils import timezone

from dam.delivery.cache import signing_flags
from dam.delivery.signing import signed_query
from dam.formats import FORMATS
from dam.lifecycle import STOREFRONT_VISIBLE
from dam.models import Asset, AssetVersion, PublishWindow, Rendition, TenantDelivery
from tenants.models import Tenant

ORIGINAL_SPEC = "original"


def in_publish_window(now: dt.datetime) -> Q:
    # A version without a window row has NULL on both sides of the LEFT JOIN: always available.
    return (Q(publish_window__available_from__isnull=True) | Q(publish_window__available_from__lte=now)) & (
        Q(publish_window__available_until__isnull=True) | Q(publish_window__available_until__gt=now)
    )


def storefront_visible(now: dt.datetime | None = None) -> Q:
    return Q(status__in=STOREFRONT_VISIBLE) & in_publish_window(now or timezone.now())


def publish_window_of(version: AssetVersion) -> PublishWindow | None:
    try:
        return version.publish_window
    except PublishWindow.DoesNotExist:
        return None


def storefront_versions(*, tenant: Tenant | int, now: dt.datetime | None = None) -> QuerySet[AssetVersion]:
    return AssetVersion.objects.for_tenant(tenant).filter(storefront_visible(now))


def storefront_assets(*, tenant: Tenant | int, now: dt.datetime | None = None) -> QuerySet[Asset]:
    """Assets not archived with at least one visible version, annotated with the latest one's id.

    Archived assets leave every storefront list (and the storefront's asset by id), but the byte URLs
    already handed out (`/d/...`, `storefront_current_version`) keep resolving: a published URL is a
    promise a page may still be keeping, and archiving is tidying the library, not withdrawing an image
    (a withdrawal is the version's status or its publish window)."""
    latest = storefront_versions(tenant=tenant, now=now).filter(asset=OuterRef("pk")).order_by("-number")
    return (
        Asset.objects.for_tenant(tenant)
        .filter(archived_at__isnull=True)
        .annotate(storefront_version_id=Subquery(latest.values("pk")[:1]))
        .filter(storefront_version_id__isnull=False)
        .select_related("collection")
    )


# `storefront_assets`' latest visible version, as SQL written once: the same statement the ORM compiles from
# `storefront_visible` (tests/dam/test_storefront_page.py holds them to the same answer), without building and
# compiling that subquery, twice (the annotation and its IS NOT NULL), on every storefront request. The asset it
# belongs to is a column the ORM compiles (`LatestVisibleVersion`), so it follows the query's aliases (a subquery
# or an OuterRef from one included).
_VISIBLE = tuple(sorted(str(status) for status in STOREFRONT_VISIBLE))
_LATEST_VISIBLE_SQL = (
    '(SELECT sv."id" FROM "dam_assetversion" sv LEFT OUTER JOIN "dam_publishwindow" sw ON (sv."id" = sw."version_id")'
    ' WHERE sv."tenant_id" = %s AND sv."status" IN (' + ", ".join(["%s"] * len(_VISIBLE)) + ")"
    ' AND (sw."available_from" IS NULL OR sw."available_from" <= %s)'
    ' AND (sw."available_until" IS NULL OR sw."available_until" > %s)'
    ' AND sv."asset_id" = ({asset}) ORDER BY sv."number" DESC LIMIT 1)'
)


class LatestVisibleVersion(Expression):
    """The id of the asset's latest version a storefront may see at `now` (`_LATEST_VISIBLE_SQL`), or NULL."""

    output_field = BigIntegerField()

    def __init__(self, *, tenant_id: int, now: dt.datetime, asset: Any = None) -> None:
        super().__init__()
        self.tenant_id, self.now = tenant_id, now
        self.asset = asset if asset is not None else F("id")

    def get_source_expressions(self) -> list:
        return [self.asset]

    def set_source_expressions(self, expressions: list) -> None:
        (self.asset,) = expressions

    def resolve_expression(self, query=None, allow_joins=True, reuse=None, summarize=False, for_save=False):
        resolved = self.copy()
        resolved.asset = self.asset.resolve_expression(query, allow_joins, reuse, summarize, for_save)
        return resolved

    def as_sql(self, compiler, connection) -> tuple[str, list]:
        asset_sql, asset_params = compiler.compile(self.asset)
        params = [self.tenant_id, *_VISIBLE, self.now, self.now, *asset_params]
        return _LATEST_VISIBLE_SQL.format(asset=asset_sql), params


def storefront_page_assets(*, tenant: Tenant | int, now: dt.datetime | None = None) -> QuerySet[Asset]:
    """`storefront_assets` for the storefront API's pages: the same assets, annotated with the same version id,
    by `LatestVisibleVersion` (its SQL written once); no select_related (the pages read `.values()`)."""
    tenant_id = tenant if isinstance(tenant, int) else tenant.pk
    latest = LatestVisibleVersion(tenant_id=tenant_id, now=now or timezone.now())
    return (
        Asset.objects.for_tenant(tenant)
        .filter(archived_at__isnull=True)
        .annotate(storefront_version_id=latest)
        .filter(storefront_version_id__isnull=False)
    )


VERSION_FIELDS = ("id", "number", "status", "width", "height", "format", "sha256", "locale", "alt_text")
RENDITION_FIELDS = ("version_id", "spec", "placement_slug", "width", "height", "format", "sha256")


def storefront_version_rows(*, tenant: Tenant | int, ids: list[int]) -> dict[int, dict]:
    """The versions a page shows, as plain rows with their window and renditions: two queries, no models.

    Rows instead of model instances: a page of 24 assets has ~100 renditions, and building
    model objects for them cost more than the queries themselves.
    """
    versions = (
        AssetVersion.objects.for_tenant(tenant)
        .filter(pk__in=ids)
        .values(
            *VERSION_FIELDS,
            available_from=F("publish_window__available_from"),
            available_until=F("publish_window__available_until"),
        )
    )
    rows = {row["id"]: {**row, "renditions": []} for row in versions}
    renditions = (
        Rendition.objects.for_tenant(tenant)
        .filter(version_id__in=ids)
        .order_by("width", "spec")
        .values(*RENDITION_FIELDS)
    )
    for rendition in renditions:
        rows[rendition["version_id"]]["renditions"].append(rendition)
    return rows


def storefront_current_version(*, tenant: Tenant | int, asset_id: int) -> AssetVersion | None:
    return (
        storefront_versions(tenant=tenant)
        .filter(asset_id=asset_id)
        .select_related("publish_window")
        .order_by("-number")
        .first()
    )


def signed_urls_required(tenant_id: int) -> bool:
    if settings.DELIVERY_REQUIRE_SIGNED_URLS:
        return True
    return signing_flags.get_or_load(
        tenant_id,
        lambda: TenantDelivery.objects.for_tenant(tenant_id).filter(signed_urls_required=True).exists(),
        group=str(tenant_id),
        seconds=settings.STOREFRONT_LIST_CACHE_SECONDS,
    )


# --- URLs ----------------------------------------------------------------------------------


def spec_segment(spec: str) -> str:
    """A spec as one path segment: `fill-800x600|format-webp` -> `fill-800x600%7Cformat-webp`."""
    return quote(spec, safe=":-_.,")


def version_path(*, version_id: int, spec: str, sha256: str, image_format: str) -> str:
    """The immutable, content-addressed path of one version's bytes under one spec."""
    return f"/d/{version_id}/{spec_segment(spec)}/{sha256}.{FORMATS[image_format].extension}"


def current_path(*, asset_id: int, placement_slug: str) -> str:
    return f"/d/current/{asset_id}/{placement_slug}"


@dataclass(frozen=True)
class UrlBuilder:
    """Turns delivery paths into the URLs a storefront gets: absolute, and signed when required."""

    origin: str
    sign: bool
    now: dt.datetime

    @classmethod
    def for_request(cls, request, *, tenant_id: int) -> UrlBuilder:
        origin = settings.DELIVERY_BASE_URL or request.build_absolute_uri("/").rstrip("/")
        return cls(origin=origin, sign=signed_urls_required(tenant_id), now=timezone.now())

    def url(self, path: str) -> str:
        if self.sign:
            return f"{self.origin}{path}?{signed_query(path, now=self.now)}"
        return f"{self.origin}{path}"

    def image(self, *, version_id: int, spec: str, sha256: str, image_format: str) -> str:
        return self.url(version_path(version_id=version_id, spec=spec, sha256=sha256, image_format=image_format))


# --- A page in one statement -------------------------------------------------------------

# Everything a list page (or an asset's detail) shows beyond its assets' own columns, in one statement: each shown
# version with its publish window and its renditions (as one JSON array, in `storefront_version_rows`' order), and
# the tenant's next publish window boundary (`dam.delivery.http_cache.next_window_boundary`: two index probes).
# The boundary sits in a one-row relation the versions are LEFT JOINed to, so an empty page still gets it. Raw SQL
# with a constant text: no ORM query to build and compile per request, and the statement is prepared once per
# connection. Every table is filtered by the tenant.
_PAGE_SQL = """
SELECT
    b.boundary, v.id, v.number, v.status, v.width, v.height, v.format, v.sha256, v.locale, v.alt_text,
    w.available_from, w.available_until,
    (
        SELECT json_agg(json_build_array(r.spec, r.placement_slug, r.width, r.height, r.format, r.sha256)
                        ORDER BY r.width, r.spec)::text
        FROM dam_rendition r
        WHERE r.tenant_id = %s AND r.version_id = v.id
    )
FROM (
    SELECT LEAST(
        (SELECT o.available_from FROM dam_publishwindow o
         WHERE o.tenant_id = %s AND o.available_from > %s ORDER BY o.available_from LIMIT 1),
        (SELECT c.available_until FROM dam_publishwindow c
         WHERE c.tenant_id = %s AND c.available_until > %s ORDER BY c.available_until LIMIT 1)
    ) AS boundary
) b
LEFT JOIN (dam_assetversion v LEFT JOIN dam_publishwindow w ON w.version_id = v.id AND w.tenant_id = %s)
    ON v.tenant_id = %s AND v.id = ANY(%s::bigint[])
"""


class PageVersion(NamedTuple):
    """A shown version as a page renders it; `renditions` are lists of RENDITION_COLUMNS' values."""

    id: int
    number: int
    status: str
    width: int
    height: int
    format: str
    sha256: str
    locale: str
    alt_text: dict
    available_from: dt.datetime | None
    available_until: dt.datetime | None
    renditions: list[list]


RENDITION_COLUMNS = ("spec", "placement_slug", "width", "height", "format", "sha256")


def storefront_page_versions(
    *, tenant_id: int, version_ids: list[int], now: dt.datetime
) -> tuple[dict[int, PageVersion], dt.datetime | None]:
    """The versions a page shows, by id, and the tenant's next publish window boundary after `now`: one statement.

    The same rows as `storefront_version_rows` plus `next_window_boundary`, without building an ORM query: a page
    runs this and its assets' query, nothing else."""
    with connection.cursor() as cursor:
        # In the order of the placeholders: renditions, the boundary's two probes, the window, the versions.
        t = tenant_id
        cursor.execute(_PAGE_SQL, [t, t, now, t, now, t, t, version_ids])
        rows = cursor.fetchall()
    versions = {}
    for row in rows:
        if row[1] is None:  # the boundary's row when no version matched
            continue
        alt_text = row[9]
        versions[row[1]] = PageVersion(
            *row[1:9],
            json.loads(alt_text) if isinstance(alt_text, str) else alt_text,
            row[10],
            row[11],
            json.loads(row[12]) if row[12] is not None else [],
        )
    return versions, rows[0][0]
