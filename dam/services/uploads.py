"""Uploads of existing images (product photos, brand references, sources of later edits).

What gets in: PNG, JPEG and WebP, recognised from the bytes (never the file name or the
Content-Type), that Pillow verifies and fully decodes, within the byte and pixel limits.
Everything else is refused with a 4xx naming the rule: 413 too many bytes, 415 not an
accepted type (SVG, EPS, GIF, PDF, animations, polyglots that start as one of those), 422 an
accepted type that does not decode (truncated, corrupt) or has too many pixels (Pillow's
decompression-bomb guard stays on; it is never disabled).

What gets stored is not the upload but a re-encoding of its pixels: orientation applied,
converted to sRGB, every metadata block dropped (EXIF with GPS, XMP, IPTC, comments, trailing
bytes after the image), then our own provenance XMP added. Uploading the same bytes again in
the same tenant returns the asset it already made.
"""

from __future__ import annotations

import hashlib
import io
import logging
import struct
from dataclasses import dataclass
from pathlib import PurePath
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from PIL import Image, ImageCms, ImageOps, UnidentifiedImageError

from dam.blobs import blob_put
from dam.credentials.signing import sign_upload
from dam.formats import FORMATS, UPLOAD_FORMATS, describe_refused, labels, sniff_format
from dam.imaging import EncodedImage, pillow_save
from dam.lifecycle import initial_status
from dam.models import Asset, AssetVersion, Collection
from dam.provenance import DigitalSourceType, ProvenanceRecord, declared_source_type, provenance_stamp
from dam.services.assets import asset_create, asset_version_create
from dam.services.metadata import alt_text_merged
from dam.services.settings import library_settings_for
from governance.safety.moderation import safety_decision
from governance.selectors.safety import safety_config_current, safety_policy_for
from tenants.audit import Actor, RequestOrigin, audit
from tenants.errors import ServiceError
from tenants.models import ApiKey, Tenant
from tenants.selectors import brand_policy_current

logger = logging.getLogger(__name__)

JPEG_QUALITY = 92  # re-encoding a photo once: high enough that nobody sees it
WEBP_QUALITY = 90
_SRGB = ImageCms.createProfile("sRGB")


class UploadRejected(ServiceError):
    def __init__(self, message: str, *, field: str = "file", code: str | None = None) -> None:
        super().__init__(message, field=field, code=code)


class UploadTooLarge(UploadRejected):
    status_code = 413
    code = "too_large"


class UnsupportedMediaType(UploadRejected):
    status_code = 415
    code = "unsupported_media_type"


class UnreadableImage(UploadRejected):
    status_code = 422
    code = "invalid_image"


class TooManyPixels(UploadRejected):
    status_code = 422
    code = "too_many_pixels"


@dataclass(frozen=True)
class SanitisedImage(EncodedImage):
    declared_source_type: str  # what the file said about itself, before its metadata was dropped


def max_upload_pixels() -> int:
    """Our limit, never above Pillow's own decompression-bomb threshold."""
    return min(settings.UPLOAD_MAX_PIXELS, Image.MAX_IMAGE_PIXELS or settings.UPLOAD_MAX_PIXELS)


def initial_status_for_upload(tenant: Tenant) -> str:
    """The status an uploaded version starts in, by the tenant's review rule.

    No classifier has looked at an upload, so it counts as flagged: it waits for a reviewer unless
    the safety configuration's rule is `never` and the brand policy does not require review.
    """
    config = safety_config_current(tenant=tenant)
    policy = safety_policy_for(tenant=tenant, config=config, default=config is None)
    brand = brand_policy_current(tenant=tenant)
    return initial_status(
        safety_decision(
            output_decision="flag",
            prompt_flagged=False,
            review_rule=policy.review_rule,
            brand_review_required=bool(brand and brand.review_required),
        )
    )


def _open(data: bytes, pil_format: str) -> Image.Image:
    try:
        return Image.open(io.BytesIO(data), formats=[pil_format])
    except Image.DecompressionBombError as error:
        raise TooManyPixels(f"the image declares too many pixels: {error}") from None
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as error:
        raise UnreadableImage(f"not a readable {pil_format} image: {error}") from None


def _to_srgb(image: Image.Image) -> Image.Image:
    profile = image.info.get("icc_profile")
    if not profile or image.mode not in ("RGB", "RGBA", "CMYK", "L"):
        return image
    try:
        source = ImageCms.ImageCmsProfile(io.BytesIO(profile))
        output_mode = "RGBA" if image.mode == "RGBA" else "RGB"
        return ImageCms.profileToProfile(image, source, _SRGB, outputMode=output_mode)
    except (ImageCms.PyCMSError, OSError, ValueError):
        # A broken profile is dropped: the pixels are then read as sRGB, as browsers would.
        return image


def _normalise_mode(image: Image.Image) -> Image.Image:
    if image.mode in ("RGB", "RGBA"):
        return image
    if image.mode.startswith("I"):
        # 16-bit greyscale: scale to 8 bits (a plain conversion would clip everything above 255 to white).
        image = image.convert("I").point(lambda value: value / 256).convert("L")
    has_alpha = image.mode in ("LA", "PA", "La", "RGBa") or (image.mode == "P" and "transparency" in image.info)
    return image.convert("RGBA" if has_alpha else "RGB")


def _encode(image: Image.Image, image_format: str, *, lossless_webp: bool) -> bytes:
    if image_format == "jpeg":
        # Baseline, not progressive as renditions are: stored originals keep the bytes they always had.
        return pillow_save(image, image_format="jpeg", quality=JPEG_QUALITY, progressive=False)
    if image_format == "webp" and lossless_webp:
        # Lossless stays lossless (quality is then libwebp's effort; the table's default, Pillow's too).
        return pillow_save(image, image_format="webp", lossless=True)
    return pillow_save(image, image_format=image_format, quality=WEBP_QUALITY if image_format == "webp" else None)


def upload_sanitise(data: bytes) -> SanitisedImage:
    """Check an uploaded file against every rule and re-encode its pixels without metadata."""
    if len(data) > settings.UPLOAD_MAX_BYTES:
        raise UploadTooLarge(f"the file has {len(data):,} bytes; the limit is {settings.UPLOAD_MAX_BYTES:,}")
    if not data:
        raise UnreadableImage("the file is empty")
    image_format = sniff_format(data)
    if image_format not in UPLOAD_FORMATS:
        what = FORMATS[image_format].label if image_format else describe_refused(data)
        raise UnsupportedMediaType(f"{what} files are not accepted; upload a {labels(UPLOAD_FORMATS)} image")
    pil_format = FORMATS[image_format].pil_format
    with _open(data, pil_format) as probe:
        width, height = probe.size
        limit = max_upload_pixels()
        if width * height > limit:
            raise TooManyPixels(f"{width}x{height} is {width * height:,} pixels; the limit is {limit:,}")
        if getattr(probe, "n_frames", 1) > 1:
            raise UnsupportedMediaType("animated images are not accepted; upload a single still image")
        try:
            probe.verify()  # chunk CRCs and structure, without decoding the pixels
        except (OSError, SyntaxError, ValueError, IndexError, EOFError, struct.error) as error:
            raise UnreadableImage(f"the {pil_format} structure is corrupt: {error}") from None
    with _open(data, pil_format) as opened:
        try:
            opened.load()  # a truncated file fails here: ImageFile.LOAD_TRUNCATED_IMAGES stays False
        except Image.DecompressionBombError as error:
            raise TooManyPixels(str(error)) from None
        except (OSError, SyntaxError, ValueError, EOFError) as error:
            raise UnreadableImage(f"the image data is truncated or corrupt: {error}") from None
        lossless_webp = image_format == "webp" and b"VP8L" in data[12:64]
        image = ImageOps.exif_transpose(opened)
        image = _normalise_mode(_to_srgb(image))
    image.info = {}  # nothing of the original's metadata may reach the encoder
    return SanitisedImage(
        data=_encode(image, image_format, lossless_webp=lossless_webp),
        width=image.width,
        height=image.height,
        format=image_format,
        declared_source_type=declared_source_type(data),
    )


@dataclass(frozen=True)
class UploadResult:
    asset: Asset
    version: AssetVersion
    created: bool  # False: the same bytes were uploaded before and this is that asset


def _existing_upload(tenant: Tenant, source_sha256: str) -> AssetVersion | None:
    return AssetVersion.objects.for_tenant(tenant).filter(source_sha256=source_sha256).select_related("asset").first()


def asset_upload(
    *,
    tenant: Tenant,
    data: bytes,
    filename: str = "",
    title: str = "",
    tags: list[str] | None = None,
    collection: str = "",
    locale: str = "",
    alt_text: dict[str, Any] | None = None,
    digital_source_type: str = "",
    created_by: Any = None,
    created_by_key: ApiKey | None = None,
    actor: Actor | None = None,
    origin: RequestOrigin | None = None,
) -> UploadResult:
    """Validate, sanitise and store an upload as a new asset with one version (or find the earlier one).

    `created_by` / `created_by_key`: who uploads (a person, or an API key): the version's requester, who may
    not approve it (four-eyes).
    """
    source_sha256 = hashlib.sha256(data).hexdigest()
    if found := _existing_upload(tenant, source_sha256):
        return UploadResult(found.asset, found, created=False)
    if digital_source_type and digital_source_type not in DigitalSourceType.values:
        raise ValidationError({"digital_source_type": "an IPTC Digital Source Type term, e.g. digitalCapture"})
    target = None
    if collection:
        target = Collection.objects.for_tenant(tenant).filter(slug=collection).first()
        if target is None:
            raise ValidationError({"collection": f"no collection {collection!r}"})
    alt = alt_text_merged({}, alt_text or {})
    sanitised = upload_sanitise(data)
    source_type = digital_source_type or sanitised.declared_source_type
    library = library_settings_for(tenant=tenant)
    record = ProvenanceRecord(
        source_type=source_type, credit_line=library.credit_line, copyright_notice=library.copyright_notice
    )
    stored = provenance_stamp(sanitised.data, image_format=sanitised.format, record=record)
    # Signed over the stamped bytes; a file that came with its own manifest keeps it as the parent ingredient
    # (sanitising re-encoded it, so the manifest no longer binds to what is stored).
    stored = sign_upload(
        stored,
        image_format=sanitised.format,
        record=record,
        tenant_id=tenant.pk,
        uploaded=data,
        uploaded_format=sniff_format(data),
        title=title.strip() or filename or "upload",
    )
    # The blob is written before the rows (dam.blobs): a crash leaves an orphan, never a dangling row.
    blob = blob_put(tenant_id=tenant.pk, kind="originals", data=stored, image_format=sanitised.format)
    try:
        with transaction.atomic():
            asset = asset_create(
                tenant=tenant,
                title=title.strip() or PurePath(filename or "upload").stem[:300] or "upload",
                source=Asset.Source.UPLOADED,
                collection=target,
                tags=tags or [],
                locale=locale,
            )
            version = asset_version_create(
                asset=asset,
                blob=blob,
                width=sanitised.width,
                height=sanitised.height,
                image_format=sanitised.format,
                status=initial_status_for_upload(tenant),
                source_sha256=source_sha256,
                digital_source_type=source_type,
                alt_text=alt,
                created_by=created_by,
                created_by_key=created_by_key,
                actor=Actor.resolve(actor, user=created_by),
            )
            audit(
                tenant=tenant,
                actor=Actor.resolve(actor, user=created_by),
                action="asset.uploaded",
                target=("asset", asset.pk),
                payload={
                    "version": version.number,
                    "sha256": version.sha256,
                    "source_sha256": source_sha256,
                    "format": version.format,
                    "width": version.width,
                    "height": version.height,
                    "digital_source_type": source_type,
                    "requester": version.requester,
                },
                origin=origin,
            )
    except IntegrityError:
        # The same bytes were being uploaded concurrently and the other request won the unique key.
        if found := _existing_upload(tenant, source_sha256):
            return UploadResult(found.asset, found, created=False)
        raise
    logger.info("upload stored", extra={"tenant_id": tenant.pk, "asset_id": asset.pk, "bytes": blob.size})
    return UploadResult(asset, version, created=True)
