"""The demo tenant that the run command seeds, so a new user has something to look at.

It lives in `dam` (the project package) because a realistic tenant spans every app: users and
keys, a brand policy and placements, a safety configuration and a monthly budget.
"""

from __future__ import annotations

import hmac
import secrets
from dataclasses import dataclass
from decimal import Decimal

from django.db import transaction

from governance.services.budgets import budget_set
from governance.services.safety import safety_config_ensure
from tenants.audit import Actor
from tenants.models import ApiKey, Placement, Role, Scope, Tenant, hash_api_key_secret
from tenants.selectors import brand_policy_current
from tenants.services import (
    api_key_create,
    api_key_revoke,
    brand_policy_update,
    membership_set,
    placement_create,
    tenant_create,
    user_get_or_create,
)

DEMO_TENANT_SLUG = "acme"
DEMO_ADMIN_USERNAME = "demo-admin"
DEMO_REVIEWER_USERNAME = "demo-reviewer"
DEMO_EDITOR_USERNAME = "demo-editor"
# A realistic storefront set: product detail, hero banners, mobile stories, display ads.
DEMO_PLACEMENTS = [
    ("pdp-square", "Product page square", 2048, 2048, "webp", 82),
    ("hero-4k", "Homepage hero 4K", 3840, 2160, "jpeg", 85),
    ("hero-desktop", "Homepage hero desktop", 1920, 1080, "jpeg", 85),
    ("mobile-story", "Mobile story", 1080, 1920, "jpeg", 85),
    ("social-square", "Social square", 1080, 1080, "jpeg", 85),
    ("leaderboard", "Leaderboard ad", 970, 250, "png", 90),
    ("mrec", "Medium rectangle ad", 300, 250, "png", 90),
]
DEMO_BRAND_POLICY = {
    "style_guide": (
        "Acme Outdoor: natural light, real landscapes, warm earth tones with one accent colour; "
        "people shown as capable and diverse; no studio backdrops; typography clean and bold."
    ),
    "palette": ["#2F4F3E", "#D98E04", "#F2E8D5", "#1B1B1B"],
    "banned_terms": ["cheap", "guaranteed", "miracle"],
    "default_quality": "medium",
    "default_output_format": "png",
    "default_locales": ["en", "de", "ja"],
    "review_required": True,
}
DEMO_KEYS = {
    "demo-integration": [Scope.JOBS_READ, Scope.JOBS_WRITE, Scope.ASSETS_READ, Scope.ASSETS_WRITE, Scope.COSTS_READ],
    "demo-storefront": [Scope.ASSETS_READ],
}


@dataclass(frozen=True)
class DemoCredentials:
    tenant: Tenant
    admin_username: str
    reviewer_username: str
    editor_username: str
    password: str
    api_keys: dict[str, str]


@transaction.atomic
def demo_seed(
    *, password: str | None = None, kept_tokens: dict[str, str] | None = None, rotate_keys: bool = False
) -> DemoCredentials:
    """Idempotent: re-running resets the demo passwords and keeps the demo API keys.

    `kept_tokens` (name -> token, as printed by an earlier run) are reused while each is still that demo key
    (active, unexpired, same name and scopes in the demo tenant), so whatever a newcomer wired to them keeps
    working across restarts; a key that is not is replaced. `rotate_keys` revokes them all and issues new ones.
    """
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
    editor, _ = user_get_or_create(username=DEMO_EDITOR_USERNAME, email="marketing@acme.example", password=password)
    membership_set(tenant=tenant, user=editor, role=Role.EDITOR)
    _seed_brand(tenant=tenant, admin=admin)

    tokens: dict[str, str] = {}
    for name, scopes in DEMO_KEYS.items():
        token = None if rotate_keys else (kept_tokens or {}).get(name)
        kept = _demo_key(tenant=tenant, name=name, scopes=scopes, token=token) if token else None
        for old in ApiKey.objects.for_tenant(tenant).filter(name=name, revoked_at__isnull=True):
            if old != kept:
                api_key_revoke(api_key=old)
        if kept is not None:
            tokens[name] = token
        else:
            tokens[name] = api_key_create(tenant=tenant, name=name, scopes=scopes, created_by=admin).token
    return DemoCredentials(
        editor_username=editor.get_username(),
        tenant=tenant,
        admin_username=admin.get_username(),
        reviewer_username=reviewer.get_username(),
        password=password,
        api_keys=tokens,
    )


def _demo_key(*, tenant: Tenant, name: str, scopes: list[str], token: str) -> ApiKey | None:
    """The key `token` opens, if it is still the demo key `name`: active, unexpired, with the demo scopes."""
    pieces = token.split("_", 2)
    if len(pieces) != 3 or pieces[0] != "dam":
        return None
    key = ApiKey.objects.for_tenant(tenant).filter(prefix=pieces[1], name=name, revoked_at__isnull=True).first()
    if key is None or key.is_expired() or sorted(key.scopes) != sorted(scopes):
        return None
    return key if hmac.compare_digest(key.secret_hash, hash_api_key_secret(pieces[2])) else None


def _seed_brand(*, tenant: Tenant, admin) -> None:
    """Brand data once: re-runs keep what the demo user may have changed since."""
    if brand_policy_current(tenant=tenant) is None:
        brand_policy_update(tenant=tenant, created_by=admin, **DEMO_BRAND_POLICY)
    existing = set(Placement.objects.for_tenant(tenant).values_list("slug", flat=True))
    for slug, name, width, height, image_format, compression in DEMO_PLACEMENTS:
        if slug not in existing:
            placement_create(
                tenant=tenant,
                slug=slug,
                name=name,
                width=width,
                height=height,
                output_format=image_format,
                compression=compression,
            )
    safety_config_ensure(tenant=tenant)
    budget_set(
        tenant=tenant,
        actor=Actor.for_user(admin),
        monthly_limit_usd=Decimal("500.00"),
        alert_threshold_percent=80,
        hard_stop=True,
    )
