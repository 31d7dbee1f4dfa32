"""Writes for delivery: a version's publish window and a tenant's delivery policy. One transaction each."""

from __future__ import annotations

import datetime as dt

from django.db import transaction

from dam.models import Asset, AssetVersion, PublishWindow, TenantDelivery
from tenants.audit import Actor, RequestOrigin, audit, changes
from tenants.errors import ServiceError
from tenants.locking import lock_for_change
from tenants.models import Tenant


@transaction.atomic
def publish_window_set(
    *,
    version: AssetVersion,
    available_from: dt.datetime | None,
    available_until: dt.datetime | None,
    actor: Actor | None = None,
    origin: RequestOrigin | None = None,
) -> PublishWindow | None:
    """Set (or, with both ends None, remove) the rights window outside which the version is not served."""
    if available_from and available_until and available_from >= available_until:
        raise ServiceError("must be after available_from", field="available_until")
    # Lock order (tenants.locking): the asset, the version, its window, the audit chain head. Two
    # concurrent first windows of one version would otherwise both try to insert it.
    lock_for_change(Asset.objects.for_tenant(version.tenant_id), version.asset_id, label="asset")
    version = lock_for_change(AssetVersion.objects.for_tenant(version.tenant_id), version.pk, label="version")
    windows = PublishWindow.objects.for_tenant(version.tenant_id)
    previous = windows.filter(version=version).first()
    before = _window_values(previous) if previous else None
    if available_from is None and available_until is None:
        windows.filter(version=version).delete()
        window = None
    else:
        window, _ = windows.update_or_create(
            version=version,
            defaults={
                "tenant_id": version.tenant_id,
                "available_from": available_from,
                "available_until": available_until,
            },
        )
    audit(
        tenant=version.tenant_id,
        actor=actor or Actor.system("unattributed"),
        action="publish_window.set" if window else "publish_window.cleared",
        target=("asset_version", version.pk),
        payload=changes(before, _window_values(window) if window else None),
        origin=origin,
    )
    return window


def _window_values(window: PublishWindow) -> dict[str, str | None]:
    return {
        "available_from": window.available_from.isoformat() if window.available_from else None,
        "available_until": window.available_until.isoformat() if window.available_until else None,
    }


@transaction.atomic
def tenant_delivery_set(
    *, tenant: Tenant, signed_urls_required: bool, actor: Actor | None = None, origin: RequestOrigin | None = None
) -> TenantDelivery:
    previous = TenantDelivery.objects.for_tenant(tenant).filter(tenant=tenant).first()
    before = {"signed_urls_required": previous.signed_urls_required} if previous else None
    delivery, _ = TenantDelivery.objects.for_tenant(tenant).update_or_create(
        tenant=tenant, defaults={"signed_urls_required": signed_urls_required}
    )
    audit(
        tenant=tenant,
        actor=actor or Actor.system("unattributed"),
        action="delivery_settings.updated",
        target=("tenant", tenant.pk),
        payload=changes(before, {"signed_urls_required": signed_urls_required}),
        origin=origin,
    )
    return delivery
