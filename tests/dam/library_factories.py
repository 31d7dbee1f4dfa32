"""Builders for library tests: images with known content, generated and uploaded versions (real services)."""

from __future__ import annotations

import io
import itertools
from typing import Any

from PIL import Image, ImageDraw

from dam.blobs import blob_put
from dam.models import Asset, AssetVersion
from dam.services import asset_create, asset_version_create
from tenants.models import Tenant

RED = (220, 30, 40)
_job_ids = itertools.count(9000)  # job ids are unique across tenants, like the real jobs table's


def marked_image(
    width: int = 960, height: int = 540, *, mark: tuple[float, float] = (0.8, 0.3), radius: int = 40, mode: str = "RGB"
) -> Image.Image:
    """A grey gradient with a red disc centred at `mark` (fractions): where a focal-point crop must look."""
    image = Image.linear_gradient("L").resize((width, height)).convert(mode)
    x, y = round(mark[0] * width), round(mark[1] * height)
    ImageDraw.Draw(image).ellipse((x - radius, y - radius, x + radius, y + radius), fill=RED)
    return image


def encode(image: Image.Image, image_format: str = "PNG", **options: Any) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format=image_format, **options)
    return buffer.getvalue()


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
