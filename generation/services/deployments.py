"""Writes for tenants' Foundry deployments."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from django.core.exceptions import ValidationError
from django.db import transaction

from generation.foundry.config import DEPLOYMENT_SETTINGS, Secret
from tenants.audit import Actor, RequestOrigin, audit, changes

if TYPE_CHECKING:
    from generation.models import Deployment
    from tenants.models import Tenant


# What a deployment's audit events record; the key itself never (only whether one is stored).
_AUDITED_FIELDS = (*DEPLOYMENT_SETTINGS, "is_default")


def _deployment_values(deployment: Deployment) -> dict[str, Any]:
    return {**{name: getattr(deployment, name) for name in _AUDITED_FIELDS}, "has_api_key": deployment.has_api_key}


@transaction.atomic
def deployment_save(
    *,
    deployment: Deployment,
    api_key: Secret | str | None = None,
    clear_api_key: bool = False,
    actor: Actor | None = None,
    origin: RequestOrigin | None = None,
) -> Deployment:
    """Validate and save a deployment; a given api_key replaces the stored one (None keeps it).

    Marking a deployment default unmarks the tenant's previous default in the same
    transaction, so the one-default constraint never trips on a switch. The change is audited
    (`deployment.created` / `deployment.updated`) in the same transaction.
    """
    from generation.models import Deployment

    stored = None
    if deployment.pk is not None:
        stored = Deployment.objects.for_tenant(deployment.tenant_id).filter(pk=deployment.pk).first()
    before = _deployment_values(stored) if stored is not None else None
    if clear_api_key:
        deployment.set_api_key(None)
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
    after = _deployment_values(deployment)
    payload = after if before is None else changes(before, after)
    if api_key is not None and before is not None:
        payload["api_key"] = "replaced"
    audit(
        tenant=deployment.tenant_id,
        actor=Actor.resolve(actor),
        action="deployment.created" if before is None else "deployment.updated",
        target=("deployment", deployment.pk),
        payload=payload,
        origin=origin,
    )
    return deployment


@transaction.atomic
def deployment_delete(
    *, deployment: Deployment, actor: Actor | None = None, origin: RequestOrigin | None = None
) -> None:
    deployment_id, values = deployment.pk, _deployment_values(deployment)
    deployment.delete()
    audit(
        tenant=deployment.tenant_id,
        actor=Actor.resolve(actor),
        action="deployment.deleted",
        target=("deployment", deployment_id),
        payload=values,
        origin=origin,
    )


def deployment_create(
    *, tenant: Tenant, name: str, endpoint: str, deployment: str, api_key: Secret | str | None = None, **fields: Any
) -> Deployment:
    from generation.models import Deployment

    row = Deployment(tenant=tenant, name=name, endpoint=endpoint, deployment=deployment, **fields)
    return deployment_save(deployment=row, api_key=api_key)
