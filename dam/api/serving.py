"""Serving approved image bytes to the public: immutable URLs, the "current" redirect, signing.

- `/d/<version id>/<spec>/<sha256>.<ext>`: one version under one spec (`original`, a
  placement `placement:<slug>`, or a filter spec). Content-addressed, so it never changes:
  `Cache-Control: public, max-age=31536000, immutable`, a strong ETag (the sha256) and 304.
- `/d/current/<asset id>/<placement slug>`: 302 to the immutable URL of the asset's latest
  visible version, cached briefly (`DELIVERY_CURRENT_MAX_AGE_SECONDS`), `Vary: Accept`.
- Tenants with private delivery (or `DELIVERY_REQUIRE_SIGNED_URLS`) need `?expires=&sig=`
  on both; missing, tampered or expired signatures get 403.

Both check visibility on every request (`dam.selectors.storefront.storefront_visible`), signed or not:
a blocked or out-of-window version is a 404 here whatever URL someone kept. Caches that
already hold its bytes keep them until max-age, which is why a version with an end to its
publish window is never cached past that end.
"""

from __future__ import annotations

import datetime as dt
import functools

from django.conf import settings
from django.core.files.storage import default_storage
from django.http import FileResponse, HttpRequest, HttpResponse, HttpResponseRedirect
from django.utils import timezone
from django.utils.cache import patch_vary_headers
from django.views.decorators.http import require_safe

from dam.delivery.signing import SignatureError, signed_query, verify_signature
from dam.formats import FORMATS
from dam.models import Asset, AssetVersion, Rendition
from dam.selectors.storefront import (
    ORIGINAL_SPEC,
    current_path,
    publish_window_of,
    signed_urls_required,
    spec_segment,
    storefront_current_version,
    storefront_visible,
    version_path,
)

IMMUTABLE_MAX_AGE = 31536000
# Formats a client may be given instead of the spec's own, best first, when its Accept allows.
NEGOTIABLE_FORMATS = ("avif", "webp")
STORAGE_REDIRECT_MAX_AGE = 60


class Forbidden(Exception):
    pass


class _NotFound(Exception):
    pass


def _uncached_404(view):
    """A 404 here is often temporary (a version not yet approved, a publish window not yet open, a rendition still
    being cut): `no-store`, so neither a CDN nor a browser keeps it past the moment the bytes become servable."""

    @functools.wraps(view)
    def wrapped(request: HttpRequest, *args, **kwargs) -> HttpResponse:
        try:
            return view(request, *args, **kwargs)
        except _NotFound as missing:
            response = HttpResponse(str(missing), status=404, content_type="text/plain; charset=utf-8")
            response["Cache-Control"] = "no-store"
            response["X-Content-Type-Options"] = "nosniff"
            return response

    return wrapped


def _forbidden(message: str) -> HttpResponse:
    response = HttpResponse(message, status=403, content_type="text/plain; charset=utf-8")
    response["Cache-Control"] = "no-store"
    response["X-Content-Type-Options"] = "nosniff"
    return response


def _check_signature(request: HttpRequest, *, tenant_id: int, path: str) -> int | None:
    """The signature's expiry when one is required (or offered), None for public access."""
    offered = "sig" in request.GET or "expires" in request.GET
    if not offered and not signed_urls_required(tenant_id):
        return None
    try:
        return verify_signature(path, expires=request.GET.get("expires"), sig=request.GET.get("sig"))
    except SignatureError as error:
        raise Forbidden(str(error)) from None


def accepted_formats(accept: str) -> set[str]:
    """Image formats the Accept header names explicitly with q > 0 (`*/*` promises nothing)."""
    formats = set()
    for item in accept.split(","):
        media, *params = (part.strip() for part in item.split(";"))
        quality = 1.0
        for param in params:
            name, _, value = param.partition("=")
            if name.strip() == "q":
                try:
                    quality = float(value)
                except ValueError:
                    quality = 0.0
        if media.startswith("image/") and quality > 0:
            formats.add(media.removeprefix("image/"))
    return formats


def spec_pins_format(spec: str) -> bool:
    return any(step.startswith("format-") for step in spec.split("|"))


def negotiate_spec(available: set[str], *, spec: str, accept: str) -> str | None:
    """`spec`, or its AVIF/WebP variant (`<spec>|format-avif`) when it exists and the client takes it."""
    if not spec_pins_format(spec):
        wanted = accepted_formats(accept)
        for image_format in NEGOTIABLE_FORMATS:
            variant = f"{spec}|format-{image_format}"
            if image_format in wanted and variant in available:
                return variant
    return spec if spec in available else None


def _cache_control(*, expires_at: int | None, version: AssetVersion, now: dt.datetime) -> str:
    max_age = IMMUTABLE_MAX_AGE
    window = publish_window_of(version)
    if window is not None and window.available_until is not None:
        max_age = min(max_age, int((window.available_until - now).total_seconds()))
    if expires_at is not None:
        # A signed URL is private: shared caches must not keep it, browsers not past its expiry.
        return f"private, max-age={max(0, min(max_age, expires_at - int(now.timestamp())))}, immutable"
    return f"public, max-age={max(0, max_age)}, immutable"


def _etag_matches(if_none_match: str, etag: str) -> bool:
    if if_none_match.strip() == "*":
        return True
    # If-None-Match uses the weak comparison (RFC 9110 13.1.2).
    return etag in {tag.strip().removeprefix("W/") for tag in if_none_match.split(",")}


@require_safe
@_uncached_404
def serve_version(request: HttpRequest, version_id: int, spec: str, filename: str) -> HttpResponse:
    now = timezone.now()
    version = (
        AssetVersion.unscoped.filter(storefront_visible(now), pk=version_id).select_related("publish_window").first()
    )
    if version is None:
        raise _NotFound("no such image")
    try:
        expires_at = _check_signature(
            request, tenant_id=version.tenant_id, path=f"/d/{version_id}/{spec_segment(spec)}/{filename}"
        )
    except Forbidden as denied:
        return _forbidden(str(denied))
    if spec == ORIGINAL_SPEC:
        key, sha256, image_format = version.storage_key, version.sha256, version.format
    else:
        rendition = Rendition.unscoped.filter(version_id=version.pk, spec=spec).first()
        if rendition is None:
            raise _NotFound("no such rendition")
        key, sha256, image_format = rendition.storage_key, rendition.sha256, rendition.format
    # The table's Content-Types are the only ones delivery ever sends; any other format is not served at all.
    stored = FORMATS.get(image_format)
    if stored is None or filename != f"{sha256}.{stored.extension}":
        raise _NotFound("no such image")
    content_type = stored.content_type

    etag = f'"{sha256}"'
    if settings.DELIVERY_MODE == "storage":
        # The storage backend's own signed URL (Azure SAS, S3 presigned) carries the bytes.
        response: HttpResponse = HttpResponseRedirect(default_storage.url(key))
        response["Cache-Control"] = f"private, max-age={STORAGE_REDIRECT_MAX_AGE}"
    elif _etag_matches(request.headers.get("If-None-Match", ""), etag):
        response = HttpResponse(status=304)
    else:
        response = FileResponse(default_storage.open(key, "rb"), content_type=content_type)
        response["Content-Type"] = content_type
    if settings.DELIVERY_MODE != "storage":
        response["Cache-Control"] = _cache_control(expires_at=expires_at, version=version, now=now)
        response["ETag"] = etag
    response["X-Content-Type-Options"] = "nosniff"
    response["Content-Security-Policy"] = "default-src 'none'; sandbox"
    response["Cross-Origin-Resource-Policy"] = "cross-origin"
    return response


@require_safe
@_uncached_404
def serve_current(request: HttpRequest, asset_id: int, placement_slug: str) -> HttpResponse:
    tenant_id = Asset.unscoped.filter(pk=asset_id).values_list("tenant_id", flat=True).first()
    if tenant_id is None:
        raise _NotFound("no such asset")
    try:
        expires_at = _check_signature(
            request, tenant_id=tenant_id, path=current_path(asset_id=asset_id, placement_slug=placement_slug)
        )
    except Forbidden as denied:
        return _forbidden(str(denied))
    version = storefront_current_version(tenant=tenant_id, asset_id=asset_id)
    if version is None:
        raise _NotFound("no approved version")
    renditions = {rendition.spec: rendition for rendition in version.renditions.all()}
    chosen = negotiate_spec(
        set(renditions), spec=f"placement:{placement_slug}", accept=request.headers.get("Accept", "")
    )
    if chosen is None:
        raise _NotFound("no rendition for this placement")
    rendition = renditions[chosen]
    target = version_path(
        version_id=version.pk, spec=rendition.spec, sha256=rendition.sha256, image_format=rendition.format
    )
    if expires_at is not None:
        target += "?" + signed_query(target, expires=expires_at)
    response = HttpResponseRedirect(target)
    visibility = "private" if expires_at is not None else "public"
    response["Cache-Control"] = f"{visibility}, max-age={settings.DELIVERY_CURRENT_MAX_AGE_SECONDS}"
    patch_vary_headers(response, ["Accept"])
    response["X-Content-Type-Options"] = "nosniff"
    return response
