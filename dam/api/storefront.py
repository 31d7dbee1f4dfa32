"""The storefront API: what web shops, apps and CMSs read (`/api/v1/storefront/...`).

A separate namespace from the library API (`/api/v1/assets`): one response shape for one
audience, without prompts, usage or review state, and with delivery URLs instead of storage
URLs. Any key with `assets:read` may call it and always gets the storefront's view: only
approved or published versions inside their publish window (`dam.selectors.storefront`).
"""

from __future__ import annotations

import datetime as dt
import math
import time
from collections import defaultdict
from collections.abc import Callable
from dataclasses import replace
from typing import Any

from django.conf import settings
from django.db.models import Exists, OuterRef, Q, QuerySet
from django.forms.models import model_to_dict
from django.http import HttpResponse
from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiExample, OpenApiParameter, extend_schema, extend_schema_view
from rest_framework import serializers
from rest_framework.decorators import action
from rest_framework.exceptions import NotAcceptable
from rest_framework.generics import get_object_or_404
from rest_framework.negotiation import DefaultContentNegotiation
from rest_framework.request import Request
from rest_framework.response import Response

from dam.api.serving import NEGOTIABLE_FORMATS, accepted_formats, negotiate_spec, spec_pins_format
from dam.api.storefront_page import PAGE_ASSET_FIELDS, PageWriter, render_json
from dam.delivery import http_cache
from dam.delivery.cache import storefront_pages
from dam.models import Asset, AssetVersion, Rendition
from dam.selectors.search import AssetFilters, assets_filter
from dam.selectors.storefront import (
    ORIGINAL_SPEC,
    RENDITION_FIELDS,
    UrlBuilder,
    current_path,
    storefront_page_assets,
    storefront_page_versions,
    storefront_version_rows,
)
from dam.services.renditions import SpecNotAllowed, rendition_get_or_create, spec_resolve
from tenants.api.base import TenantScopedReadViewSet
from tenants.models import Scope, Tenant


class StorefrontRenditionSerializer(serializers.Serializer):
    spec = serializers.CharField()
    placement = serializers.CharField(allow_blank=True)
    width = serializers.IntegerField()
    height = serializers.IntegerField()
    format = serializers.CharField()
    url = serializers.URLField()
    current_url = serializers.URLField(allow_null=True, help_text="Follows the asset's latest approved version")


class SrcsetSerializer(serializers.Serializer):
    aspect_ratio = serializers.CharField(help_text="width:height, reduced")
    format = serializers.CharField()
    srcset = serializers.CharField(help_text="Ready for <img srcset>: 'url 800w, url 1600w'")
    candidates = serializers.ListField(child=serializers.DictField())


class StorefrontVersionSerializer(serializers.Serializer):
    id = serializers.IntegerField(help_text="The version's id (`/publish-windows/{id}`, `/d/{id}/...`)")
    number = serializers.IntegerField()
    status = serializers.CharField()
    width = serializers.IntegerField()
    height = serializers.IntegerField()
    format = serializers.CharField()
    sha256 = serializers.CharField()
    url = serializers.URLField()
    available_from = serializers.DateTimeField(allow_null=True)
    available_until = serializers.DateTimeField(allow_null=True)


class StorefrontAssetSerializer(serializers.Serializer):
    """Rendered from plain dicts built by `storefront_asset_data` (one pass, no lazy queries)."""

    id = serializers.IntegerField()
    title = serializers.CharField()
    collection = serializers.CharField(allow_null=True)
    tags = serializers.ListField(child=serializers.CharField())
    locale = serializers.CharField(allow_blank=True)
    version = StorefrontVersionSerializer()
    alt_text = serializers.DictField(child=serializers.CharField(), help_text="locale -> alt text")
    renditions = StorefrontRenditionSerializer(many=True)
    srcsets = SrcsetSerializer(many=True)


def _rendition_data(rendition: dict[str, Any], *, asset_id: int, urls: UrlBuilder) -> dict[str, Any]:
    slug = rendition["placement_slug"]
    current = None
    if slug and rendition["spec"] == f"placement:{slug}":
        current = urls.url(current_path(asset_id=asset_id, placement_slug=slug))
    return {
        "spec": rendition["spec"],
        "placement": slug,
        "width": rendition["width"],
        "height": rendition["height"],
        "format": rendition["format"],
        "url": urls.image(
            version_id=rendition["version_id"],
            spec=rendition["spec"],
            sha256=rendition["sha256"],
            image_format=rendition["format"],
        ),
        "current_url": current,
    }


def _original_data(version: dict[str, Any], *, urls: UrlBuilder) -> dict[str, Any]:
    return {
        "spec": ORIGINAL_SPEC,
        "placement": "",
        "width": version["width"],
        "height": version["height"],
        "format": version["format"],
        "url": urls.image(
            version_id=version["id"], spec=ORIGINAL_SPEC, sha256=version["sha256"], image_format=version["format"]
        ),
        "current_url": None,
    }


def _ratio(width: int, height: int) -> str:
    divisor = math.gcd(width, height)
    return f"{width // divisor}:{height // divisor}"


def _srcsets(candidates: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Groups of one aspect ratio and one format, widest last: each is a valid srcset."""
    groups: dict[tuple[str, str], list[dict[str, Any]]] = defaultdict(list)
    for item in candidates:
        groups[(_ratio(item["width"], item["height"]), item["format"])].append(item)
    result = []
    for (ratio, image_format), items in sorted(groups.items()):
        by_width = {item["width"]: item for item in items}  # one candidate per width
        ordered = [by_width[width] for width in sorted(by_width)]
        result.append(
            {
                "aspect_ratio": ratio,
                "format": image_format,
                "srcset": ", ".join(f"{item['url']} {item['width']}w" for item in ordered),
                "candidates": [{"url": item["url"], "width": item["width"]} for item in ordered],
            }
        )
    return result


def storefront_asset_data(asset: Asset, version: dict[str, Any], *, urls: UrlBuilder) -> dict[str, Any]:
    """The storefront's view of one asset, from a version row of `storefront_version_rows`."""
    renditions = [_rendition_data(r, asset_id=asset.pk, urls=urls) for r in version["renditions"]]
    original = _original_data(version, urls=urls)
    return {
        "id": asset.pk,
        "title": asset.title,
        "collection": asset.collection.slug if asset.collection_id else None,
        "tags": list(asset.tags),
        "locale": version["locale"] or asset.locale,
        "version": {
            "id": version["id"],
            "number": version["number"],
            "status": version["status"],
            "width": version["width"],
            "height": version["height"],
            "format": version["format"],
            "sha256": version["sha256"],
            "url": original["url"],
            "available_from": version["available_from"],
            "available_until": version["available_until"],
        },
        "alt_text": dict(version["alt_text"] or {}),
        "renditions": renditions,
        "srcsets": _srcsets([*renditions, original]),
    }


def _filtered(assets: QuerySet[Asset], params: Any, *, tenant_id: int) -> QuerySet[Asset]:
    """The library's search and filters (full text, collection, tag, dates), except those about a
    version: locale and placement are judged on the version the storefront sees, and status is
    always approved or published here."""
    filters = AssetFilters.from_query_params(params)
    assets = assets_filter(assets, replace(filters, locale="", placement="", status=""), tenant_id=tenant_id)
    if filters.locale:
        shown_version = AssetVersion.unscoped.filter(pk=OuterRef("storefront_version_id"))
        assets = assets.filter(
            Q(locale__iexact=filters.locale)
            | Exists(shown_version.filter(Q(locale__iexact=filters.locale) | Q(alt_text__has_key=filters.locale)))
        )
    if filters.placement:
        shown_renditions = Rendition.unscoped.filter(
            version_id=OuterRef("storefront_version_id"), placement_slug=filters.placement
        )
        assets = assets.filter(Exists(shown_renditions))
    return assets


def _page_expiry(boundaries: list[dt.datetime | None]) -> float:
    """When a cached page must go: after the cache's lifetime, when a window on it closes, or when any
    of the tenant's windows opens or closes (which may bring another asset onto the page)."""
    expires_at = time.monotonic() + settings.STOREFRONT_LIST_CACHE_SECONDS
    now = timezone.now()
    for boundary in boundaries:
        if boundary is not None:
            expires_at = min(expires_at, time.monotonic() + (boundary - now).total_seconds())
    return expires_at


def _fresh_for(boundaries: list[dt.datetime | None]) -> int:
    return http_cache.seconds_fresh(
        now=timezone.now(), ceiling=settings.STOREFRONT_LIST_CACHE_SECONDS, boundaries=boundaries
    )


class JsonWhateverTheAccept(DefaultContentNegotiation):
    """The answer is JSON even when `Accept` names only image types: a storefront may forward its
    visitor's `Accept` to choose the image format (see the rendition endpoint), never to get a 406."""

    def select_renderer(self, request: Request, renderers: list, format_suffix: str | None = None) -> tuple:
        try:
            return super().select_renderer(request, renderers, format_suffix)
        except NotAcceptable:
            return renderers[0], renderers[0].media_type


# The asset columns `storefront_asset_data` reads from a model instance (the selector is shared with the library
# API, which needs more); the pages read PAGE_ASSET_FIELDS as rows instead.
STOREFRONT_ASSET_FIELDS = ("id", "tenant_id", "title", "tags", "locale", "collection_id", "collection__slug")
FILTER_PARAMETERS = [
    OpenApiParameter("q", str, description="Full-text search: title, prompt, tags, alt text, locale"),
    OpenApiParameter("collection", str, description="Collection (campaign) slug"),
    OpenApiParameter("tag", str),
    OpenApiParameter("locale", str, description="e.g. ja-JP: the asset's, or the shown version's locale or alt text"),
    OpenApiParameter("placement", str, description="Only assets whose shown version has this placement's rendition"),
    OpenApiParameter("created_after", OpenApiTypes.DATE),
    OpenApiParameter("created_before", OpenApiTypes.DATE, description="Inclusive"),
    OpenApiParameter("page_size", int, description="1-200; the query count is the same for any size"),
]
ASSET_EXAMPLE = {
    "id": 42,
    "title": "Summer sneaker hero",
    "collection": "summer-26",
    "tags": ["sneakers"],
    "locale": "ja-JP",
    "version": {
        "id": 311,
        "number": 3,
        "status": "approved",
        "width": 2048,
        "height": 2048,
        "format": "png",
        "sha256": "9f2c…",
        "url": "https://cdn.example.com/d/311/original/9f2c….png",
        "available_from": None,
        "available_until": "2026-09-30T00:00:00Z",
    },
    "alt_text": {"en": "White sneaker on a sunny beach", "ja": "晴れたビーチの白いスニーカー"},
    "renditions": [
        {
            "spec": "placement:pdp-square",
            "placement": "pdp-square",
            "width": 1080,
            "height": 1080,
            "format": "webp",
            "url": "https://cdn.example.com/d/311/placement:pdp-square/ab12….webp",
            "current_url": "https://cdn.example.com/d/current/42/pdp-square",
        }
    ],
    "srcsets": [
        {
            "aspect_ratio": "1:1",
            "format": "webp",
            "srcset": "https://cdn.example.com/d/311/width-400/cd34….webp 400w, "
            "https://cdn.example.com/d/311/placement:pdp-square/ab12….webp 1080w",
            "candidates": [],
        }
    ],
}


@extend_schema_view(
    list=extend_schema(
        summary="Approved assets for a storefront",
        parameters=FILTER_PARAMETERS,
        examples=[OpenApiExample("A page of assets", value=ASSET_EXAMPLE, response_only=True)],
    ),
    retrieve=extend_schema(
        summary="One asset: its current approved version, renditions, alt text and srcsets",
        examples=[OpenApiExample("An asset", value=ASSET_EXAMPLE, response_only=True)],
    ),
)
class StorefrontAssetViewSet(TenantScopedReadViewSet):
    serializer_class = StorefrontAssetSerializer
    content_negotiation_class = JsonWhateverTheAccept
    required_scopes = {"*": Scope.ASSETS_READ}

    def scoped_queryset(self, tenant: Tenant) -> QuerySet[Asset]:
        # Read as `.values()` rows (PAGE_ASSET_FIELDS): no model instances.
        return _filtered(storefront_page_assets(tenant=tenant), self.request.query_params, tenant_id=tenant.pk)

    def list(self, request: Request) -> HttpResponse:
        # Two statements: the page's assets (ids, titles, tags...: plain rows, paged by DRF's cursor) and everything
        # else it shows (`storefront_page_versions`); the dicts are built straight from the rows (`PageWriter`,
        # which answers what `storefront_asset_data`, the reference, answers).
        def build(urls: UrlBuilder) -> tuple[bytes, list[dt.datetime | None]]:
            assets = self.paginate_queryset(self.get_queryset().values(*PAGE_ASSET_FIELDS))
            versions, next_boundary = storefront_page_versions(
                tenant_id=self.tenant.pk, version_ids=[a["storefront_version_id"] for a in assets], now=urls.now
            )
            writer = PageWriter(urls)
            shown = [versions[a["storefront_version_id"]] for a in assets]
            data = [writer.asset(asset, version) for asset, version in zip(assets, shown, strict=True)]
            body = render_json(self.get_paginated_response(data).data)
            return body, [version.available_until for version in shown] + [next_boundary]

        return self._answer(request, build)

    def retrieve(self, request: Request, pk: str | None = None) -> HttpResponse:
        def build(urls: UrlBuilder) -> tuple[bytes, list[dt.datetime | None]]:
            # 404 raises here: never kept. (get_object's lookup, on rows instead of a model instance.)
            asset = get_object_or_404(self.get_queryset().values(*PAGE_ASSET_FIELDS), pk=pk)
            self.check_object_permissions(request, asset)
            versions, next_boundary = storefront_page_versions(
                tenant_id=self.tenant.pk, version_ids=[asset["storefront_version_id"]], now=urls.now
            )
            version = versions[asset["storefront_version_id"]]
            body = render_json(PageWriter(urls).asset(asset, version))
            return body, [version.available_until, next_boundary]

        return self._answer(request, build)

    def _answer(
        self, request: Request, build: Callable[[UrlBuilder], tuple[bytes, list[dt.datetime | None]]]
    ) -> HttpResponse:
        """The body from memory or `build` (which gives it with the window boundaries that bound its freshness: the
        closing of each window on it and the tenant's next boundary), with its ETag, Cache-Control and Vary; 304
        when the client has it. A revalidation of an answer in memory costs no query and no render: the change feed
        empties this cache when anything it shows changes, and an entry expires at the next window boundary
        (dam.delivery.http_cache)."""
        urls = UrlBuilder.for_request(request, tenant_id=self.tenant.pk)
        key = (self.tenant.pk, urls.sign, urls.origin, request.get_full_path())
        cached = storefront_pages.get(key)
        if cached is None:
            generation = storefront_pages.generation()
            body, boundaries = build(urls)
            etag = http_cache.etag_for(tenant_id=self.tenant.pk, path=key[3], body=body)
            if settings.STOREFRONT_LIST_CACHE_SECONDS:
                storefront_pages.put(
                    key,
                    (body, etag, boundaries),
                    group=str(self.tenant.pk),
                    expires_at=_page_expiry(boundaries),
                    generation=generation,
                )
        else:
            body, etag, boundaries = cached
        max_age = _fresh_for(boundaries)
        if http_cache.etag_matches(request, etag):
            return http_cache.not_modified(etag=etag, max_age=max_age)
        return http_cache.with_cache_headers(
            HttpResponse(body, content_type="application/json"), etag=etag, max_age=max_age
        )

    def finalize_response(self, request: Request, response: HttpResponse, *args: Any, **kwargs: Any) -> HttpResponse:
        response = super().finalize_response(request, response, *args, **kwargs)
        if response.status_code >= 400:
            return http_cache.uncacheable(response)
        return response

    @extend_schema(
        summary="One rendition of the current approved version, in the best format the client accepts",
        description="`spec` is `original`, `placement:<slug>` or a filter spec (URL-encode `|` as `%7C`). "
        "When the spec names no format and the `Accept` header lists `image/avif` or `image/webp`, the "
        "AVIF or WebP variant is returned where it exists or is allowed (`Vary: Accept`). A missing rendition "
        "is made on demand only for presets, placements and the tenant's allow-list: any other spec is 403, "
        "a spec that does not parse 400.",
        parameters=[OpenApiParameter("spec", OpenApiTypes.STR, OpenApiParameter.PATH)],
        responses={200: StorefrontRenditionSerializer},
        examples=[
            OpenApiExample(
                "A placement rendition",
                value=ASSET_EXAMPLE["renditions"][0],
                response_only=True,
            )
        ],
    )
    @action(detail=True, methods=["get"], url_path=r"renditions/(?P<spec>[^/]+)")
    def rendition(self, request: Request, pk: str | None = None, spec: str = "") -> Response:
        asset = get_object_or_404(self.get_queryset().values("id", "storefront_version_id"), pk=pk)
        self.check_object_permissions(request, asset)
        version_id = asset["storefront_version_id"]
        version = storefront_version_rows(tenant=self.tenant, ids=[version_id])[version_id]
        urls = UrlBuilder.for_request(request, tenant_id=self.tenant.pk)
        if spec == ORIGINAL_SPEC:
            data = _original_data(version, urls=urls)
        else:
            rendition = self._existing_or_rendered(version, spec=spec, accept=request.headers.get("Accept", ""))
            data = _rendition_data(rendition, asset_id=asset["id"], urls=urls)
        response = Response(data)
        # The format chosen depends on Accept; what is visible on the key (Authorization). Not stored:
        # a rendition may be made on demand by this very request.
        response["Vary"] = f"Accept, {http_cache.VARY}"
        response["Cache-Control"] = "private, no-cache"
        return response

    def _existing_or_rendered(self, version: dict[str, Any], *, spec: str, accept: str) -> dict[str, Any]:
        """An existing rendition (or its accepted AVIF/WebP variant), else one rendered now if allowed.

        Rendering on demand is limited to the tenant's allow-list, presets and placements
        (`dam.services.renditions`): an unlisted spec is 403, one that does not parse 400.
        """
        existing = {rendition["spec"]: rendition for rendition in version["renditions"]}
        if chosen := negotiate_spec(set(existing), spec=spec, accept=accept):
            return existing[chosen]
        resolved = spec_resolve(tenant_id=self.tenant.pk, spec=spec)
        if chosen := negotiate_spec(set(existing), spec=resolved.key, accept=accept):
            return existing[chosen]
        model = AssetVersion.objects.for_tenant(self.tenant).get(pk=version["id"])
        if not resolved.placement_slug and not spec_pins_format(resolved.key):
            for image_format in NEGOTIABLE_FORMATS:
                if image_format not in accepted_formats(accept):
                    continue
                try:
                    variant = rendition_get_or_create(version=model, spec=f"{resolved.key}|format-{image_format}")
                except SpecNotAllowed:
                    continue
                return model_to_dict(variant, fields=RENDITION_FIELDS) | {"version_id": variant.version_id}
        rendition = rendition_get_or_create(version=model, spec=resolved.key)
        return model_to_dict(rendition, fields=RENDITION_FIELDS) | {"version_id": rendition.version_id}
