"""Writes for brand policies (new immutable versions) and placements."""

from __future__ import annotations

import hashlib
import io
import re
import unicodedata
import warnings
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any

import regex
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from PIL import Image, UnidentifiedImageError

from tenants.audit import Actor, RequestOrigin, audit, changes
from tenants.locking import lock_for_change
from tenants.models import BrandLogo, BrandPolicy, CopyMismatchAction, OutputFormat, Placement, Tenant

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
    "copy_check",
    "copy_mismatch_action",
    "copy_near_cer",
    "palette_max_delta_e",
    "palette_min_score",
    "legibility_min_contrast",
    "logo_min_width_share",
)
# The brand checks' numbers: (lowest, highest) accepted, as the model's validators say.
CHECK_RANGES = {
    "copy_near_cer": (Decimal("0"), Decimal("0.5")),
    "palette_max_delta_e": (Decimal("1"), Decimal("50")),
    "palette_min_score": (Decimal("0"), Decimal("1")),
    "legibility_min_contrast": (Decimal("1"), Decimal("21")),
    "logo_min_width_share": (Decimal("0.01"), Decimal("1")),
}
MIN_TEXT_HEIGHT = (4, 200)

# A logo: at most 2 MB, PNG/JPEG/WebP, one frame, at most LOGO_MAX_PIXELS decoded (a small file may declare a
# huge canvas: the decompression bomb Pillow's own limit only warns about below twice its threshold).
LOGO_MAX_BYTES = 2 * 1024 * 1024
LOGO_MAX_PIXELS = 16_000_000
LOGO_FORMATS = {"PNG": BrandLogo.Format.PNG, "JPEG": BrandLogo.Format.JPEG, "WEBP": BrandLogo.Format.WEBP}


def _clean_terms(terms: Iterable[str]) -> list[str]:
    cleaned = []
    for raw in terms:
        term = unicodedata.normalize("NFKC", str(raw)).strip()
        if not _INVISIBLE_OR_SPACE.sub("", term):
            # A term of invisible characters only would be stored but could never match anything.
            raise ValidationError({"banned_terms": "terms must not be blank (invisible characters do not count)"})
        cleaned.append(term)
    return list(dict.fromkeys(cleaned))


def _decimal_in_range(values: dict[str, Any], name: str, errors: dict[str, ValidationError]) -> None:
    low, high = CHECK_RANGES[name]
    field = BrandPolicy._meta.get_field(name)
    try:
        value = Decimal(str(values[name]))
    except (InvalidOperation, ValueError, TypeError):
        errors[name] = ValidationError("must be a number", code="invalid")
        return
    if not value.is_finite() or not low <= value <= high:
        code = "min_value" if value.is_finite() and value < low else "max_value"
        errors[name] = ValidationError(f"must be from {low} to {high}", code=code)
        return
    # Stored with the column's places (4 digits): 0.1234 is kept as 0.123, not refused by the database.
    values[name] = value.quantize(Decimal(1).scaleb(-field.decimal_places), rounding=ROUND_HALF_UP)


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
    errors: dict[str, ValidationError] = {}
    if not isinstance(values["copy_check"], bool):
        errors["copy_check"] = ValidationError("must be true or false", code="invalid")
    if values["copy_mismatch_action"] not in CopyMismatchAction.values:
        errors["copy_mismatch_action"] = ValidationError(
            f"must be one of {', '.join(CopyMismatchAction.values)}", code="invalid_choice"
        )
    for name in CHECK_RANGES:
        _decimal_in_range(values, name, errors)
    if errors:
        raise ValidationError(errors)
    return values


@dataclass(frozen=True)
class LogoFile:
    """A logo file that passed every rule: its bytes as uploaded and what Pillow read from them."""

    data: bytes
    sha256: str
    format: str
    width: int
    height: int


def _open_logo(data: bytes) -> Image.Image:
    # formats=: only these decoders ever see the bytes (no EPS/PSD/... parser behind a renamed file).
    return Image.open(io.BytesIO(data), formats=list(LOGO_FORMATS))


def logo_validate(data: bytes) -> LogoFile:
    """Check an uploaded logo: PNG, JPEG or WebP that Pillow decodes whole, one frame, <= 2 MB, bounded pixels.

    ValidationError on the `logo` field otherwise, with a code naming the rule.
    """

    def refuse(message: str, code: str) -> ValidationError:
        return ValidationError({"logo": ValidationError(message, code=code)})

    if not data:
        raise refuse("the file is empty", "empty")
    if len(data) > LOGO_MAX_BYTES:
        raise refuse(f"the file is larger than {LOGO_MAX_BYTES:,} bytes (2 MB), the limit for a logo", "file_too_large")
    try:
        with warnings.catch_warnings():
            # Pillow only warns between its threshold and twice it; a logo that large is refused either way.
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            probe_file = _open_logo(data)
        with probe_file as probe:
            width, height = probe.size
            if width * height > LOGO_MAX_PIXELS:
                raise refuse(
                    f"{width}x{height} is too many pixels; a logo may have {LOGO_MAX_PIXELS:,}", "too_many_pixels"
                )
            if getattr(probe, "n_frames", 1) > 1:
                raise refuse("animated images are not accepted as a logo", "animated")
            image_format = LOGO_FORMATS[probe.format or ""]
            probe.load()  # every pixel decoded: a truncated or corrupt file fails here, not in a check later
    except ValidationError:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise refuse("the image declares too many pixels", "too_many_pixels") from None
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError, EOFError, KeyError) as error:
        raise refuse(f"not a readable PNG, JPEG or WebP image ({type(error).__name__})", "invalid_image") from None
    return LogoFile(
        data=bytes(data), sha256=hashlib.sha256(data).hexdigest(), format=image_format, width=width, height=height
    )


def _logo_row(tenant: Tenant, logo: LogoFile) -> BrandLogo:
    # Content-addressed: uploading the same file again reuses its row.
    row, _ = BrandLogo.objects.for_tenant(tenant).get_or_create(
        tenant=tenant,
        sha256=logo.sha256,
        defaults={
            "data": logo.data,
            "format": logo.format,
            "width": logo.width,
            "height": logo.height,
            "size": len(logo.data),
        },
    )
    return row


def _audited(values: dict[str, Any]) -> dict[str, Any]:
    """The audit payload's JSON: decimals as strings, the logo as its sha256."""
    shown = {name: str(value) if isinstance(value, Decimal) else value for name, value in values.items()}
    if "logo" in shown:
        shown["logo"] = shown["logo"].sha256 if shown["logo"] is not None else None
    return shown


@transaction.atomic
def brand_policy_update(
    *,
    tenant: Tenant,
    created_by: Any = None,
    actor: Actor | None = None,
    origin: RequestOrigin | None = None,
    **updates: Any,
) -> BrandPolicy:
    """Create the next version of the tenant's brand policy from the current one plus `updates`.

    `logo`: the bytes of a new logo file (validated by `logo_validate`), or None to have no logo; left out, the
    version keeps the current one.
    """
    unknown = set(updates) - {*POLICY_FIELDS, "logo"}
    if unknown:
        raise ValidationError(dict.fromkeys(sorted(unknown), "not a brand policy field"))
    new_logo = updates.pop("logo", ...)
    logo_file = logo_validate(new_logo) if isinstance(new_logo, bytes | bytearray | memoryview) else None
    if new_logo is not ... and new_logo is not None and logo_file is None:
        raise ValidationError({"logo": ValidationError("must be the bytes of an image file", code="invalid")})
    # Lock the tenant row: concurrent editors get consecutive versions, never a duplicate.
    Tenant.objects.select_for_update(no_key=True).get(pk=tenant.pk)
    current = BrandPolicy.objects.for_tenant(tenant).select_related("logo").order_by("-version").first()
    base = current or BrandPolicy(tenant=tenant)  # an unsaved instance carries the field defaults
    before = {name: getattr(base, name) for name in POLICY_FIELDS}
    before["logo"] = base.logo if current else None
    values = {**before, **updates}
    values = _validate_policy(values)
    if new_logo is not ...:
        values["logo"] = _logo_row(tenant, logo_file) if logo_file is not None else None
    policy = BrandPolicy.objects.for_tenant(tenant).create(
        tenant=tenant, version=(current.version + 1) if current else 1, created_by=created_by, **values
    )
    audit(
        tenant=tenant,
        actor=Actor.resolve(actor, user=created_by),
        action="policy.updated",
        target=("brand_policy", policy.pk),
        payload={"version": policy.version, **changes(_audited(before) if current else {}, _audited(values))},
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
        "min_text_height": placement.min_text_height,
        "archived": placement.archived,
    }


def _validate_placement(
    *, slug: str, width: int, height: int, output_format: str, compression: int, min_text_height: int
) -> None:
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
    low, high = MIN_TEXT_HEIGHT
    if not isinstance(min_text_height, int) or isinstance(min_text_height, bool) or not low <= min_text_height <= high:
        errors["min_text_height"] = f"must be an integer from {low} to {high} (output pixels)"
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
    min_text_height: int = 12,
    name: str = "",
    actor: Actor | None = None,
    origin: RequestOrigin | None = None,
) -> Placement:
    _validate_placement(
        slug=slug,
        width=width,
        height=height,
        output_format=output_format,
        compression=compression,
        min_text_height=min_text_height,
    )
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
                min_text_height=min_text_height,
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
    allowed = {"name", "width", "height", "output_format", "compression", "min_text_height"}
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
        min_text_height=placement.min_text_height,
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
