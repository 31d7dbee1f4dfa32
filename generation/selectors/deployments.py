"""Which deployment a tenant's image calls go to."""

from __future__ import annotations

from typing import TYPE_CHECKING

from generation.foundry.config import DeploymentConfig, platform_deployment_config
from tenants.change_feed import JOBS_CHANNEL
from tenants.feed_cache import FeedCache

if TYPE_CHECKING:
    from tenants.models import Tenant


# Every job reads its tenant's deployment before its call; a committed change to the tenant's deployments
# drops the entry (generation 0004). The expiry only bounds how long a quiet tenant's entry stays.
_configs = FeedCache(JOBS_CHANNEL, max_entries=10_000)
_CACHE_SECONDS = 600


def deployment_config_for(*, tenant: Tenant | int) -> DeploymentConfig:
    """The tenant's default deployment if it has one, else the platform's (from settings)."""
    from generation.models import Deployment

    tenant_id = tenant if isinstance(tenant, int) else tenant.pk

    def load() -> DeploymentConfig:
        row = Deployment.objects.for_tenant(tenant_id).filter(is_default=True).first()
        return row.to_config() if row is not None else platform_deployment_config()

    return _configs.get_or_load(("deployment", tenant_id), load, group=str(tenant_id), seconds=_CACHE_SECONDS)
