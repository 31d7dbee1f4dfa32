"""A pool member's circuit breaker changed state: on the record of every tenant it serves, and to their webhooks.

The dispatcher (generation.dispatch) decides transitions inside Redis, each exactly once; the call that observed
one reports it here. A platform pool's breaker is recorded for each tenant assigned to it (it is their capacity
that shrank); the implicit platform deployment of tenants without a pool is only logged (no pool to name).
"""

from __future__ import annotations

import logging

from django.db import transaction

from dam.services.webhooks import webhook_emit
from generation.dispatch import BreakerChange
from generation.selectors.pools import Route
from generation.services.capacity import pool_tenants
from tenants.audit import Actor, audit

logger = logging.getLogger(__name__)


def _tenants_of(route: Route) -> list[int]:
    from generation.models import DeploymentPool

    if not route.pool_key.startswith("pool-"):
        name = route.pool_key
        # A tenant's own default deployment: "tenant-<id>/<name>".
        return [int(name.split("/")[0].removeprefix("tenant-"))] if name.startswith("tenant-") else []
    pool = DeploymentPool.objects.filter(pk=int(route.pool_key.removeprefix("pool-"))).first()
    return pool_tenants(pool) if pool is not None else []


def breaker_changed(*, route: Route, change: BreakerChange) -> None:
    config = route.configs.get(change.member)
    payload = {
        "pool": route.pool_key,
        "deployment": config.name if config else change.member,
        "region": route.regions.get(change.member, ""),
        "from": change.old,
        "to": change.new,
        "reason": change.reason,
    }
    logger.warning("breaker of %s: %s -> %s (%s)", payload["deployment"], change.old, change.new, change.reason)
    for tenant_id in _tenants_of(route):
        with transaction.atomic():
            audit(
                tenant=tenant_id,
                actor=Actor.system("dispatcher"),
                action="deployment.breaker_changed",
                target=("deployment", payload["deployment"]),
                payload=payload,
            )
            webhook_emit(tenant=tenant_id, event="deployment.breaker_changed", payload=payload)
