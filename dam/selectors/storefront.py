"""What a storefront may see, and the URLs it gets for it.

One rule, used by the storefront API and by the byte-serving delivery views alike: a
version is visible when its status is approved or published (`STOREFRONT_VISIBLE`) and
`now` lies inside its publish window (no window: always). An asset is visible through its
latest visible version, which is not necessarily `Asset.current_version` (that is the
newest version of any status).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from urllib.parse import quote

from django.conf import settings
from django.db.models import F, OuterRef, Q, QuerySet, Subquery
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
