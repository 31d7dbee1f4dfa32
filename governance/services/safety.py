"""Writes for safety configurations: every change is a new immutable version, only ever tighter than
the tenant's sector preset."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction

from governance.models import SafetyConfig
from governance.safety.categories import CATEGORIES
from governance.safety.policy import clean_policy_values
from governance.safety.presets import DEFAULT_PRESET, PRESETS, loosenings, preset_is_at_least_as_strict, tighten_to
from tenants.audit import Actor, audit, changes
from tenants.models import Tenant

CONFIG_FIELDS = (
    "preset",
    "prompt_thresholds",
    "output_thresholds",
    "blocklist",
    "prompt_shield",
    "provider_moderation",
    "review_rule",
)


def _audit_safety_config_change(*, config: SafetyConfig, previous: SafetyConfig | None, created_by: Any) -> None:
    """A new safety configuration version, audited inside the same transaction with what changed."""
    before = {name: getattr(previous, name) for name in CONFIG_FIELDS} if previous else None
    after = {name: getattr(config, name) for name in CONFIG_FIELDS}
    audit(
        tenant=config.tenant_id,
        actor=Actor.resolve(None, user=created_by, fallback="safety"),
        action="safety_config.updated" if previous else "safety_config.created",
        target=("safety_config", config.pk),
        payload={"version": config.version, **changes(before, after)},
    )


def _current_values(current: SafetyConfig | None) -> dict[str, Any]:
    if current is None:
        return PRESETS[DEFAULT_PRESET].defaults()
    return {name: getattr(current, name) for name in CONFIG_FIELDS}


def _merge(values: dict[str, Any], changes: dict[str, Any]) -> dict[str, Any]:
    merged = dict(values)
    for name, value in changes.items():
        if name in ("prompt_thresholds", "output_thresholds") and isinstance(value, dict):
            # A partial object changes only the categories it names.
            unknown = sorted(set(value) - set(CATEGORIES))
            if unknown:
                raise ValidationError({f"{name}.{unknown[0]}": f"not a category; use {', '.join(CATEGORIES)}"})
            merged[name] = {**values[name], **value}
        else:
            merged[name] = value
    return merged


@transaction.atomic
def safety_config_update(*, tenant: Tenant, created_by: Any = None, **changes: Any) -> SafetyConfig:
    """Create the next version of the tenant's safety configuration from the current one plus `changes`.

    Thresholds may be given partially (`{"hate": 2}`); `blocklist` replaces the list. Moving to another
    preset is allowed only towards one at least as strict, and tightens the current values onto it. Any
    value looser than the preset allows is a ValidationError naming the field.
    """
    unknown = set(changes) - set(CONFIG_FIELDS)
    if unknown:
        raise ValidationError(dict.fromkeys(sorted(unknown), "not a safety configuration field"))
    # Lock the tenant row: concurrent editors get consecutive versions, never a duplicate.
    Tenant.objects.select_for_update(no_key=True).get(pk=tenant.pk)
    current = SafetyConfig.objects.for_tenant(tenant).order_by("-version").first()
    values = _current_values(current)
    new_preset_name = changes.get("preset", values["preset"])
    if new_preset_name not in PRESETS:
        raise ValidationError({"preset": f"must be one of {', '.join(PRESETS)}"})
    if new_preset_name != values["preset"]:
        old_preset, new_preset = PRESETS[values["preset"]], PRESETS[new_preset_name]
        if not preset_is_at_least_as_strict(new_preset, old_preset):
            raise ValidationError(
                {"preset": f"{new_preset_name} is less strict than {old_preset.name}; a tenant may only tighten"}
            )
        values = tighten_to(values, new_preset)
    values = clean_policy_values(_merge(values, changes))
    problems = loosenings(values, PRESETS[values["preset"]])
    if problems:
        raise ValidationError({name: problems[name] for name in sorted(problems)})
    config = SafetyConfig.objects.for_tenant(tenant).create(
        tenant=tenant, version=(current.version + 1) if current else 1, created_by=created_by, **values
    )
    _audit_safety_config_change(config=config, previous=current, created_by=created_by)
    return config


def safety_config_ensure(*, tenant: Tenant) -> tuple[SafetyConfig, bool]:
    """The current configuration, creating version 1 from the default preset if the tenant has none.

    Returns (config, created). Cheap when one exists: the tenant row is locked only to create.
    """
    current = SafetyConfig.objects.for_tenant(tenant).order_by("-version").first()
    if current is not None:
        return current, False
    with transaction.atomic():
        Tenant.objects.select_for_update(no_key=True).get(pk=tenant.pk)
        current = SafetyConfig.objects.for_tenant(tenant).order_by("-version").first()
        if current is not None:
            return current, False
        config = SafetyConfig.objects.for_tenant(tenant).create(
            tenant=tenant, version=1, **clean_policy_values(PRESETS[DEFAULT_PRESET].defaults())
        )
        _audit_safety_config_change(config=config, previous=None, created_by=None)
        return config, True
