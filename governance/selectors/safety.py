"""Reads for safety configurations."""

from __future__ import annotations

from django.db.models import QuerySet

from governance.models import SafetyConfig
from governance.safety.policy import SafetyPolicy
from governance.safety.presets import DEFAULT_PRESET, PRESETS
from tenants.models import Tenant


def safety_config_current(*, tenant: Tenant | int) -> SafetyConfig | None:
    return SafetyConfig.objects.for_tenant(tenant).order_by("-version").first()


def safety_config_versions(*, tenant: Tenant) -> QuerySet[SafetyConfig]:
    return SafetyConfig.objects.for_tenant(tenant).order_by("-version")


def safety_policy_for(
    *, tenant: Tenant | int, config: SafetyConfig | None = None, default: bool = False
) -> SafetyPolicy:
    """The policy a check runs under: the given (or current) version, else the default preset (version 0).

    `default=True` skips the lookup and gives the default preset's policy.
    """
    if config is None and not default:
        config = safety_config_current(tenant=tenant)
    if config is not None:
        return config.as_policy()
    tenant_id = tenant if isinstance(tenant, int) else tenant.pk
    return PRESETS[DEFAULT_PRESET].policy(tenant_id=tenant_id)
