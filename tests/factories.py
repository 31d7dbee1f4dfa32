"""Small builders over the real services, so test data goes through the same code paths."""

from __future__ import annotations

import itertools

from django.contrib.auth import get_user_model

from tenants.models import Role, Scope, Tenant
from tenants.services import IssuedApiKey, api_key_create, membership_set, tenant_create

_seq = itertools.count(1)


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


def png_bytes(width: int = 64, height: int = 48, colour: tuple[int, int, int] = (200, 80, 20)) -> bytes:
    import io

    from PIL import Image

    buffer = io.BytesIO()
    Image.new("RGB", (width, height), colour).save(buffer, format="PNG")
    return buffer.getvalue()


def make_asset(tenant: Tenant, *, title: str = "asset", colour: tuple[int, int, int] = (200, 80, 20)):
    """An uploaded-style asset with one stored version (through the library services)."""
    from dam.blobs import blob_put
    from dam.services import asset_create, asset_version_create

    data = png_bytes(colour=colour)
    blob = blob_put(tenant_id=tenant.pk, kind="originals", data=data, image_format="png")
    asset = asset_create(tenant=tenant, title=title, source="uploaded")
    asset_version_create(asset=asset, blob=blob, width=64, height=48, image_format="png")
    return asset
