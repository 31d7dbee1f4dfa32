"""Reading and changing a tenant's library settings (rendition allow-list, provenance)."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction

from dam.models import LibrarySettings
from dam.renditions.spec import SpecError, canonical_spec
from tenants.audit import Actor, RequestOrigin, audit
from tenants.audit import changes as audit_changes
from tenants.change_feed import JOBS_CHANNEL
from tenants.feed_cache import FeedCache
from tenants.models import Tenant

MAX_ALLOW_LIST = 100
EDITABLE = ("rendition_allow_list", "credit_line", "copyright_notice", "include_prompt_in_provenance")


def library_settings_for(*, tenant: Tenant | int) -> LibrarySettings:
    """The tenant's settings, or unsaved defaults when it never changed them."""
    tenant_id = tenant if isinstance(tenant, int) else tenant.pk
    found = LibrarySettings.objects.for_tenant(tenant_id).first()
    return found or LibrarySettings(tenant_id=tenant_id)


# Every generated output reads them for its provenance; a committed change drops the entry (generation 0004).
# The expiry only bounds how long a quiet tenant's entry stays.
_shared = FeedCache(JOBS_CHANNEL, max_entries=10_000)
_CACHE_SECONDS = 600


def library_settings_shared(*, tenant_id: int) -> LibrarySettings:
    """`library_settings_for`, from this process's cache outside transactions. The instance is shared
    between threads: read it, never change or save it."""
    return _shared.get_or_load(
        ("library", tenant_id),
        lambda: library_settings_for(tenant=tenant_id),
        group=str(tenant_id),
        seconds=_CACHE_SECONDS,
    )


def _clean_allow_list(specs: Any) -> list[str]:
    if not isinstance(specs, list) or not all(isinstance(spec, str) for spec in specs):
        raise ValidationError({"rendition_allow_list": "a list of filter specs"})
    if len(specs) > MAX_ALLOW_LIST:
        raise ValidationError({"rendition_allow_list": f"at most {MAX_ALLOW_LIST} specs"})
    cleaned = []
    for spec in specs:
        if spec.startswith("placement:"):
            raise ValidationError({"rendition_allow_list": f"{spec}: placements are always allowed; list filter specs"})
        try:
            cleaned.append(canonical_spec(spec))
        except SpecError as error:
            raise ValidationError({"rendition_allow_list": f"{spec}: {error}"}) from None
    return list(dict.fromkeys(cleaned))


def _values(settings: LibrarySettings) -> dict[str, Any]:
    return {name: getattr(settings, name) for name in EDITABLE}


@transaction.atomic
def library_settings_update(
    *, tenant: Tenant, actor: Actor | None = None, origin: RequestOrigin | None = None, **changes: Any
) -> LibrarySettings:
    unknown = set(changes) - set(EDITABLE)
    if unknown:
        raise ValidationError(dict.fromkeys(sorted(unknown), "cannot be changed"))
    if "rendition_allow_list" in changes:
        changes["rendition_allow_list"] = _clean_allow_list(changes["rendition_allow_list"])
    for name in ("credit_line", "copyright_notice"):
        if name in changes:
            value = changes[name]
            if not isinstance(value, str) or len(value) > 300:
                raise ValidationError({name: "text of at most 300 characters"})
            changes[name] = value.strip()
    if "include_prompt_in_provenance" in changes and not isinstance(changes["include_prompt_in_provenance"], bool):
        raise ValidationError({"include_prompt_in_provenance": "true or false"})
    settings, _ = LibrarySettings.objects.for_tenant(tenant).select_for_update(no_key=True).get_or_create(tenant=tenant)
    before = _values(settings)
    for name, value in changes.items():
        setattr(settings, name, value)
    settings.save()
    audit(
        tenant=tenant,
        actor=Actor.resolve(actor),
        action="library_settings.updated",
        target=("library_settings", settings.pk),
        payload=audit_changes(before, _values(settings)),
        origin=origin,
    )
    return settings
