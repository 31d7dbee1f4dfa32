"""Builders for storefront, delivery and webhook tests, over the real services."""

from __future__ import annotations

import datetime as dt

from dam.blobs import blob_put
from dam.imaging import encode, open_image
from dam.lifecycle import VersionStatus, version_sources
from dam.models import Asset, AssetVersion, PublishWindow, Rendition, WebhookDelivery
from dam.services import rendition_create
from dam.webhooks.services import webhook_emit, webhook_endpoint_create
from tenants.models import Tenant
from tests.factories import make_asset, png_bytes


def set_status(version: AssetVersion, status: str) -> AssetVersion:
    """A review decision as a conditional UPDATE (the review service lands with the review issue)."""
    updated = (
        AssetVersion.objects.for_tenant(version.tenant_id)
        .filter(pk=version.pk, status__in=version_sources(status))
        .update(status=status)
    )
    assert updated == 1, f"{version.status} -> {status} is not an allowed transition"
    version.status = status
    return version


def add_rendition(version: AssetVersion, spec: str, *, width: int, height: int, image_format: str) -> Rendition:
    from PIL import Image

    image = open_image(png_bytes(width=version.width, height=version.height)).resize((width, height), Image.LANCZOS)
    encoded = encode(image, image_format=image_format)
    blob = blob_put(tenant_id=version.tenant_id, kind="renditions", data=encoded.data, image_format=image_format)
    placement = spec.removeprefix("placement:").split("|")[0] if spec.startswith("placement:") else ""
    return rendition_create(
        version=version,
        spec=spec,
        blob=blob,
        width=width,
        height=height,
        image_format=image_format,
        placement_slug=placement,
    )


def storefront_asset(
    tenant: Tenant, *, title: str = "hero", status: str = VersionStatus.APPROVED, colour=(10, 120, 200)
) -> Asset:
    """An asset whose current version has the given status and a square placement rendition."""
    asset = make_asset(tenant, title=title, colour=colour)
    version = asset.current_version
    add_rendition(version, "placement:pdp-square", width=32, height=32, image_format="jpeg")
    if status != VersionStatus.NEEDS_REVIEW:
        if status == VersionStatus.PUBLISHED:
            set_status(version, VersionStatus.APPROVED)
        set_status(version, status)
    return asset


def approve_current(asset: Asset) -> AssetVersion:
    version = AssetVersion.objects.for_tenant(asset.tenant_id).get(pk=asset.current_version_id)
    if not version.renditions.filter(spec="placement:pdp-square").exists():
        add_rendition(version, "placement:pdp-square", width=32, height=32, image_format="jpeg")
    if version.status != VersionStatus.APPROVED:
        set_status(version, VersionStatus.APPROVED)
    return version


def set_window(version: AssetVersion, *, start: dt.datetime | None, end: dt.datetime | None) -> PublishWindow:
    window, _ = PublishWindow.objects.for_tenant(version.tenant_id).update_or_create(
        version=version, defaults={"tenant_id": version.tenant_id, "available_from": start, "available_until": end}
    )
    return window


def make_webhook_delivery(tenant: Tenant, *, url: str = "http://127.0.0.1:9/hook") -> WebhookDelivery:
    registered = webhook_endpoint_create(tenant=tenant, url=url, events=["asset.approved"])
    (delivery,) = webhook_emit(tenant=tenant, event="asset.approved", payload={"asset": 1})
    assert delivery.endpoint_id == registered.endpoint.pk
    return delivery
