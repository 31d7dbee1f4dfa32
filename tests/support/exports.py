"""Campaign-like library content for the export tests: versions per market and creative, cut for placements."""

from __future__ import annotations

from dam.lifecycle import VersionStatus
from dam.models import Asset, AssetVersion
from tenants.models import Tenant
from tenants.services import placement_create
from tests.factories import add_rendition, encode, make_version, marked_image, set_status

PLACEMENTS = {"pdp-square": (32, 32, "jpeg"), "hero-wide": (48, 24, "webp")}
CAMPAIGN_ID = 7


def campaign_assets(
    tenant: Tenant, *, markets: tuple[str, ...] = ("de-DE", "ja-JP"), creatives: tuple[str, ...] = ("sneaker", "boot")
) -> list[AssetVersion]:
    """One approved version per market x creative (so it has delivery URLs), each cut for every placement."""
    for slug, (width, height, image_format) in PLACEMENTS.items():
        placement_create(tenant=tenant, slug=slug, width=width, height=height, output_format=image_format)
    versions = []
    for index, (market, creative) in enumerate((m, c) for m in markets for c in creatives):
        data = encode(marked_image(width=320, height=180, mark=(0.1 + 0.2 * index, 0.3)))
        version = make_version(tenant, data=data, title=f"Summer / {creative} / {market}", locale=market)
        Asset.objects.for_tenant(tenant).filter(pk=version.asset_id).update(
            locale=market, creative=creative, campaign_id=CAMPAIGN_ID, placements=list(PLACEMENTS)
        )
        for slug, (width, height, image_format) in PLACEMENTS.items():
            add_rendition(version, f"placement:{slug}", width=width, height=height, image_format=image_format)
        set_status(version, VersionStatus.APPROVED)
        versions.append(version)
    return versions
