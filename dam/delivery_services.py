"""Writes for delivery: a version's publish window and a tenant's delivery policy. One transaction each."""

from __future__ import annotations

import datetime as dt

from django.db import transaction

from dam.models import AssetVersion, PublishWindow, TenantDelivery
from tenants.errors import ServiceError
from tenants.models import Tenant


@transaction.atomic
def publish_window_set(
    *, version: AssetVersion, available_from: dt.datetime | None, available_until: dt.datetime | None
) -> PublishWindow | None:
    """Set (or, with both ends None, remove) the rights window outside which the version is not served."""
    if available_from and available_until and available_from >= available_until:
        raise ServiceError("must be after available_from", field="available_until")
    windows = PublishWindow.objects.for_tenant(version.tenant_id)
    if available_from is None and available_until is None:
        windows.filter(version=version).delete()
        return None
    window, _ = windows.update_or_create(
        version=version,
        defaults={"tenant_id": version.tenant_id, "available_from": available_from, "available_until": available_until},
    )
    return window


@transaction.atomic
def tenant_delivery_set(*, tenant: Tenant, signed_urls_required: bool) -> TenantDelivery:
    delivery, _ = TenantDelivery.objects.for_tenant(tenant).update_or_create(
        tenant=tenant, defaults={"signed_urls_required": signed_urls_required}
    )
    return delivery
