"""Builders for test data, over the real services so test data goes through the same code paths.

Tenants, people and keys; images with known content; uploaded and generated versions; versions
under review, approved or windowed with their placement renditions; webhook deliveries.
"""

from __future__ import annotations

import datetime as dt
import io
import itertools
from typing import Any
from urllib.parse import urlsplit

from django.contrib.auth import get_user_model
from PIL import Image, ImageDraw

from dam import imaging
from dam.blobs import blob_put
from dam.lifecycle import VersionStatus, version_sources
from dam.models import Asset, AssetVersion, PublishWindow, Rendition, WebhookDelivery
from dam.services.assets import asset_create, asset_version_create, rendition_create
from dam.services.webhooks import webhook_emit, webhook_endpoint_create
from tenants.models import Role, Scope, Tenant
from tenants.services import IssuedApiKey, api_key_create, membership_set, tenant_create

RED = (220, 30, 40)
_seq = itertools.count(1)
_job_ids = itertools.count(9000)  # job ids are unique across tenants, like the real jobs table's


# Tenants, people, keys


def make_tenant(slug: str | None = None, **kwargs) -> Tenant:
    slug = slug or f"tenant-{next(_seq)}"
    return tenant_create(slug=slug, name=kwargs.pop("name", slug.title()), **kwargs)


def make_user(username: str, *, tenant: Tenant | None = None, role: str = Role.VIEWER, **extra):
    user = get_user_model().objects.create_user(username=username, password="pw-" + username, is_staff=True, **extra)
    if tenant is not None:
        membership_set(tenant=tenant, user=user, role=role)
    return user


def make_api_key(tenant: Tenant, *scopes: str, name: str = "key", **kwargs) -> IssuedApiKey:
    return api_key_create(tenant=tenant, name=name, scopes=scopes or [Scope.ASSETS_READ], **kwargs)


# Images


def blob_address(url: str | None) -> str | None:
    """Where a blob URL points, without its query: a signed URL (Azure's SAS) carries its expiry to the second, so
    two URLs of one blob made a second apart differ only there."""
    if url is None:
        return None
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}{parts.path}" if parts.netloc else parts.path


def png_bytes(width: int = 64, height: int = 48, colour: tuple[int, int, int] = (200, 80, 20)) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (width, height), colour).save(buffer, format="PNG")
    return buffer.getvalue()


def marked_image(
    width: int = 960, height: int = 540, *, mark: tuple[float, float] = (0.8, 0.3), radius: int = 40, mode: str = "RGB"
) -> Image.Image:
    """A grey gradient with a red disc centred at `mark` (fractions): where a focal-point crop must look."""
    image = Image.linear_gradient("L").resize((width, height)).convert(mode)
    x, y = round(mark[0] * width), round(mark[1] * height)
    ImageDraw.Draw(image).ellipse((x - radius, y - radius, x + radius, y + radius), fill=RED)
    return image


def encode(image: Image.Image, image_format: str = "PNG", **options: Any) -> bytes:
    """Pillow's own encoding of `image` (the platform's is `dam.imaging.encode`)."""
    buffer = io.BytesIO()
    image.save(buffer, format=image_format, **options)
    return buffer.getvalue()


# Assets and versions


def make_asset(tenant: Tenant, *, title: str = "asset", colour: tuple[int, int, int] = (200, 80, 20)) -> Asset:
    """An uploaded-style asset with one stored version (through the library services)."""
    data = png_bytes(colour=colour)
    blob = blob_put(tenant_id=tenant.pk, kind="originals", data=data, image_format="png")
    asset = asset_create(tenant=tenant, title=title, source="uploaded")
    asset_version_create(asset=asset, blob=blob, width=64, height=48, image_format="png")
    return asset


def make_version(
    tenant: Tenant,
    *,
    data: bytes | None = None,
    image_format: str = "png",
    title: str = "hero",
    generated: bool = True,
    asset: Asset | None = None,
    **fields: Any,
) -> AssetVersion:
    """A version through the real services: generated (job provenance) unless `generated=False`."""
    data = data or encode(marked_image())
    with Image.open(io.BytesIO(data)) as image:
        width, height = image.size
    blob = blob_put(tenant_id=tenant.pk, kind="originals", data=data, image_format=image_format)
    if asset is None:
        asset = asset_create(tenant=tenant, title=title, source="generated" if generated else "uploaded")
    if generated:
        fields = {
            "job_id": next(_job_ids),
            "provider_request_id": "req-1",
            "model": "gpt-image-2",
            "deployment": "gpt-image-2-eu",
            "compiled_prompt": "A red ball on a grey studio floor",
            **fields,
        }
    return asset_version_create(asset=asset, blob=blob, width=width, height=height, image_format=image_format, **fields)


# Statuses, renditions and windows for storefront, delivery and webhook tests


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
    image = imaging.open_image(png_bytes(width=version.width, height=version.height)).resize(
        (width, height), Image.LANCZOS
    )
    encoded = imaging.encode(image, image_format=image_format)
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
