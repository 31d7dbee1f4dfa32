"""The demo tenant that the run command seeds, so a new user has something to look at."""

from __future__ import annotations

import secrets
from dataclasses import dataclass

from django.db import transaction

from tenants.models import ApiKey, Role, Scope, Tenant
from tenants.services import api_key_create, api_key_revoke, membership_set, tenant_create, user_get_or_create

DEMO_TENANT_SLUG = "acme"
DEMO_ADMIN_USERNAME = "demo-admin"
DEMO_REVIEWER_USERNAME = "demo-reviewer"
DEMO_KEYS = {
    "demo-integration": [Scope.JOBS_READ, Scope.JOBS_WRITE, Scope.ASSETS_READ, Scope.ASSETS_WRITE, Scope.COSTS_READ],
    "demo-storefront": [Scope.ASSETS_READ],
}


@dataclass(frozen=True)
class DemoCredentials:
    tenant: Tenant
    admin_username: str
    reviewer_username: str
    password: str
    api_keys: dict[str, str]


@transaction.atomic
def demo_seed(*, password: str | None = None) -> DemoCredentials:
    """Idempotent: re-running resets the demo passwords and rotates the demo API keys."""
    password = password or secrets.token_urlsafe(12)
    tenant = Tenant.objects.filter(slug=DEMO_TENANT_SLUG).first() or tenant_create(
        slug=DEMO_TENANT_SLUG, name="Acme Outdoor", time_zone="Europe/Berlin"
    )
    admin, _ = user_get_or_create(username=DEMO_ADMIN_USERNAME, email="admin@acme.example", password=password)
    # The demo admin also operates the platform, so the Django admin shows everything.
    if not admin.is_superuser:
        admin.is_superuser = True
        admin.save(update_fields=["is_superuser"])
    membership_set(tenant=tenant, user=admin, role=Role.OWNER)
    reviewer, _ = user_get_or_create(username=DEMO_REVIEWER_USERNAME, email="review@acme.example", password=password)
    membership_set(tenant=tenant, user=reviewer, role=Role.REVIEWER)

    tokens: dict[str, str] = {}
    for name, scopes in DEMO_KEYS.items():
        for old in ApiKey.objects.for_tenant(tenant).filter(name=name, revoked_at__isnull=True):
            api_key_revoke(api_key=old)
        tokens[name] = api_key_create(tenant=tenant, name=name, scopes=scopes, created_by=admin).token
    return DemoCredentials(
        tenant=tenant,
        admin_username=admin.get_username(),
        reviewer_username=reviewer.get_username(),
        password=password,
        api_keys=tokens,
    )
