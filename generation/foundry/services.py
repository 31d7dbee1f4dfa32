"""Writes for tenants' Foundry deployments."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from django.core.exceptions import ValidationError
from django.db import transaction

from generation.foundry.config import Secret

if TYPE_CHECKING:
    from generation.models import Deployment
    from tenants.models import Tenant


@transaction.atomic
def deployment_save(*, deployment: Deployment, api_key: Secret | str | None = None) -> Deployment:
    """Validate and save a deployment; a given api_key replaces the stored one (None keeps it).

    Marking a deployment default unmarks the tenant's previous default in the same
    transaction, so the one-default constraint never trips on a switch.
    """
    from generation.models import Deployment

    if api_key is not None:
        deployment.set_api_key(api_key)
    if deployment.is_default:
        others = Deployment.objects.for_tenant(deployment.tenant_id).filter(is_default=True)
        if deployment.pk is not None:
            others = others.exclude(pk=deployment.pk)
        others.update(is_default=False)
    deployment.full_clean()
    try:
        # Building the config proves the row is usable (a key where the auth kind needs one).
        deployment.to_config()
    except ValueError as exc:
        raise ValidationError(str(exc)) from None
    deployment.save()
    return deployment


def deployment_create(
    *, tenant: Tenant, name: str, endpoint: str, deployment: str, api_key: Secret | str | None = None, **fields: Any
) -> Deployment:
    from generation.models import Deployment

    row = Deployment(tenant=tenant, name=name, endpoint=endpoint, deployment=deployment, **fields)
    return deployment_save(deployment=row, api_key=api_key)
