"""Writes for brand policies (new immutable versions) and placements."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from typing import Any

import regex
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction

from tenants.audit import Actor, RequestOrigin, audit, changes
from tenants.locking import lock_for_change
from tenants.models import BrandPolicy, OutputFormat, Placement, Tenant

# The characters screening ignores (`governance.safety.screening`, which this layer cannot import), and
# spaces: a term made only of these is blank.
_INVISIBLE_OR_SPACE = regex.compile(r"[\p{Cf}\p{Default_Ignorable_Code_Point}\s]+")
_HEX_COLOUR = re.compile(r"^#[0-9a-fA-F]{6}$")
_LOCALE = re.compile(r"^[a-z]{2,3}(-[A-Za-z0-9]{2,8})*$")
_SLUG = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$")
MAX_PLACEMENT_EDGE = 16384

POLICY_FIELDS = (
    "style_guide",
    "banned_terms",
    "palette",
    "default_quality",
    "default_output_format",
    "default_locales",
    "review_required",
)


def _clean_terms(terms: Iterable[str]) -> list[str]:
    cleaned = []
    for raw in terms:
        term = unicodedata.normalize("NFKC", str(raw)).strip()
        if not _INVISIBLE_OR_SPACE.sub("", term):
            # A term of invisible characters only would be stored but could never match anything.
            raise ValidationError({"banned_terms": "terms must not be blank (invisible characters do not count)"})
        cleaned.append(term)
    return list(dict.fromkeys(cleaned))


def _validate_policy(values: dict[str, Any]) -> dict[str, Any]:
    bad_colours = [c for c in values["palette"] if not _HEX_COLOUR.match(c)]
    if bad_colours:
        raise ValidationError({"palette": f"colours must be #RRGGBB hex: {', '.join(map(str, bad_colours))}"})
    values["palette"] = [c.upper() for c in values["palette"]]
    bad_locales = [loc for loc in values["default_locales"] if not _LOCALE.match(loc)]
    if bad_locales:
        raise ValidationError({"default_locales": f"not BCP 47 language tags: {', '.join(bad_locales)}"})
    if values["default_quality"] not in BrandPolicy.Quality.values:
        raise ValidationError({"default_quality": f"must be one of {', '.join(BrandPolicy.Quality.values)}"})
    if values["default_output_format"] not in OutputFormat.values:
        raise ValidationError({"default_output_format": f"must be one of {', '.join(OutputFormat.values)}"})
    values["banned_terms"] = _clean_terms(values["banned_terms"])
    return values


@transaction.atomic
def brand_policy_update(
    *,
    tenant: Tenant,
    created_by: Any = None,
    actor: Actor | None = None,
    origin: RequestOrigin | None = None,
    **updates: Any,
) -> BrandPolicy:
    """Create the next version of the tenant's brand policy from the current one plus `updates`."""
    unknown = set(updates) - set(POLICY_FIELDS)
    if unknown:
        raise ValidationError(dict.fromkeys(sorted(unknown), "not a brand policy field"))
    # Lock the tenant row: concurrent editors get consecutive versions, never a duplicate.
    Tenant.objects.select_for_update(no_key=True).get(pk=tenant.pk)
    current = BrandPolicy.objects.for_tenant(tenant).order_by("-version").first()
    base = current or BrandPolicy(tenant=tenant)  # an unsaved instance carries the field defaults
    before = {name: getattr(base, name) for name in POLICY_FIELDS}
    values = {**before, **updates}
    values = _validate_policy(values)
    policy = BrandPolicy.objects.for_tenant(tenant).create(
        tenant=tenant, version=(current.version + 1) if current else 1, created_by=created_by, **values
    )
    audit(
        tenant=tenant,
        actor=Actor.resolve(actor, user=created_by),
        action="policy.updated",
        target=("brand_policy", policy.pk),
        payload={"version": policy.version, **changes(before if current else {}, values)},
        origin=origin,
    )
    return policy


def _placement_values(placement: Placement) -> dict[str, Any]:
    return {
        "slug": placement.slug,
        "name": placement.name,
        "width": placement.width,
        "height": placement.height,
        "output_format": placement.output_format,
        "compression": placement.compression,
        "archived": placement.archived,
    }


def _validate_placement(*, slug: str, width: int, height: int, output_format: str, compression: int) -> None:
    errors: dict[str, str] = {}
    if not _SLUG.match(slug or ""):
        errors["slug"] = "lowercase letters, digits and hyphens, 1-63 characters"
    for name, value in (("width", width), ("height", height)):
        if not isinstance(value, int) or not 16 <= value <= MAX_PLACEMENT_EDGE:
            errors[name] = f"must be an integer from 16 to {MAX_PLACEMENT_EDGE}"
    if output_format not in OutputFormat.values:
        errors["output_format"] = f"must be one of {', '.join(OutputFormat.values)}"
    if not isinstance(compression, int) or not 0 <= compression <= 100:
        errors["compression"] = "must be an integer from 0 to 100"
    if errors:
        raise ValidationError(errors)


@transaction.atomic
def placement_create(
    *,
    tenant: Tenant,
    slug: str,
    width: int,
    height: int,
    output_format: str = OutputFormat.JPEG,
    compression: int = 85,
    name: str = "",
    actor: Actor | None = None,
    origin: RequestOrigin | None = None,
) -> Placement:
    _validate_placement(slug=slug, width=width, height=height, output_format=output_format, compression=compression)
    try:
        with transaction.atomic():
            placement = Placement.objects.for_tenant(tenant).create(
                tenant=tenant,
                slug=slug,
                name=name or slug,
                width=width,
                height=height,
                output_format=output_format,
                compression=compression,
            )
    except IntegrityError:
        raise ValidationError({"slug": f"a placement {slug!r} already exists"}) from None
    audit(
        tenant=tenant,
        actor=Actor.resolve(actor),
        action="placement.created",
        target=("placement", placement.pk),
        payload=changes({}, _placement_values(placement)),
        origin=origin,
    )
    return placement


@transaction.atomic
def placement_update(
    *, placement: Placement, actor: Actor | None = None, origin: RequestOrigin | None = None, **updates: Any
) -> Placement:
    allowed = {"name", "width", "height", "output_format", "compression"}
    unknown = set(updates) - allowed
    if unknown:
        raise ValidationError(dict.fromkeys(sorted(unknown), "cannot be changed"))
    # The row as it is now (a concurrent edit's values, not the ones the caller read), locked before
    # the audit chain head (tenants.locking).
    placement = lock_for_change(Placement.objects.for_tenant(placement.tenant_id), placement.pk, label="placement")
    before = _placement_values(placement)
    for name, value in updates.items():
        setattr(placement, name, value)
    _validate_placement(
        slug=placement.slug,
        width=placement.width,
        height=placement.height,
        output_format=placement.output_format,
        compression=placement.compression,
    )
    placement.save(update_fields=[*updates])
    payload = changes(before, _placement_values(placement))
    if payload["after"]:
        audit(
            tenant=placement.tenant_id,
            actor=Actor.resolve(actor),
            action="placement.updated",
            target=("placement", placement.pk),
            payload={"slug": placement.slug, **payload},
            origin=origin,
        )
    return placement


@transaction.atomic
def placement_archive(
    *, placement: Placement, actor: Actor | None = None, origin: RequestOrigin | None = None
) -> Placement:
    archived = (
        Placement.objects.for_tenant(placement.tenant_id).filter(pk=placement.pk, archived=False).update(archived=True)
    )
    placement.archived = True
    if archived:
        audit(
            tenant=placement.tenant_id,
            actor=Actor.resolve(actor),
            action="placement.archived",
            target=("placement", placement.pk),
            payload={"slug": placement.slug, **changes({"archived": False}, {"archived": True})},
            origin=origin,
        )
    return placement
