"""Which deployment a tenant's image calls go to."""

from __future__ import annotations

from typing import TYPE_CHECKING

from generation.foundry.config import DeploymentConfig, platform_deployment_config

if TYPE_CHECKING:
    from tenants.models import Tenant


def deployment_config_for(*, tenant: Tenant | int) -> DeploymentConfig:
    """The tenant's default deployment if it has one, else the platform's (from settings)."""
    from generation.models import Deployment

    row = Deployment.objects.for_tenant(tenant).filter(is_default=True).first()
    return row.to_config() if row is not None else platform_deployment_config()
