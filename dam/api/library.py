"""The library's write and search endpoints: uploads, asset and version metadata, collections, settings.

`AssetLibraryMixin` extends the asset endpoints of `dam.api.assets.AssetViewSet` (`/api/v1/assets`):
search and filters on the list, `POST` (multipart upload), `PATCH` of an asset, and
`PATCH /api/v1/assets/{id}/versions/{number}` (focal point, alt text). Their scopes are in
`LIBRARY_SCOPES`, which the view set's `required_scopes` table includes.
"""

from __future__ import annotations

import json
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db.models import Count, QuerySet
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiExample,
    OpenApiParameter,
    extend_schema,
    extend_schema_field,
    extend_schema_view,
)
from rest_framework import serializers, status
from rest_framework.decorators import action
from rest_framework.exceptions import NotFound
from rest_framework.request import Request
from rest_framework.response import Response

from dam.api.bulk import AssetBulkMixin
from dam.lifecycle import VersionStatus
from dam.models import AssetVersion, Collection, LibrarySettings
from dam.provenance import DigitalSourceType
from dam.selectors.search import AssetFilters, assets_filter
from dam.services.metadata import (
    asset_update,
    collection_create,
    collection_delete,
    collection_update,
    version_metadata_update,
)
from dam.services.settings import library_settings_for, library_settings_update
from dam.services.uploads import UploadTooLarge, asset_upload
from tenants.api.base import TenantScopedAPIView, TenantScopedModelViewSet
from tenants.api.serializers import InputModelSerializer, InputSerializer
from tenants.audit import Actor, RequestOrigin
from tenants.input_guard import GuardedFormParser, GuardedJSONParser, GuardedMultiPartParser
from tenants.models import Scope, Tenant
from tenants.numbers import is_digits

LIBRARY_SCOPES: dict[str, str] = {
    "create": Scope.ASSETS_WRITE,
    "partial_update": Scope.ASSETS_WRITE,
    "version": Scope.ASSETS_WRITE,
    "bulk": Scope.ASSETS_WRITE,
}
# Multipart framing around the file: a request this much over the file limit is refused unread.
MULTIPART_OVERHEAD = 64 * 1024

SEARCH_PARAMETERS = [
    OpenApiParameter(
        "q",
        str,
        description="Full-text search over title, tags, alt texts, prompt and locale (websearch syntax: "
        '"exact phrase", or, -word); English words match their stems',
    ),
    OpenApiParameter("collection", str, description="Collection (campaign) slug"),
    OpenApiParameter("tag", str, description="Exact tag"),
    OpenApiParameter(
        "locale", str, description="Market: asset or version locale, or a locale with alt text (e.g. ja-JP)"
    ),
    OpenApiParameter(
        "placement",
        str,
        description="Placement slug: assets made for it (a campaign's placements, else the size plan; "
        "uploads: having its rendition)",
    ),
    OpenApiParameter("campaign", int, description="Only outputs of this campaign (its id)"),
    OpenApiParameter("status", str, enum=VersionStatus.values, description="Status of the current version"),
    OpenApiParameter("source", str, enum=["generated", "uploaded"], description="How the asset was made"),
    OpenApiParameter("created_after", OpenApiTypes.DATE, description="On or after this day (YYYY-MM-DD)"),
    OpenApiParameter("created_before", OpenApiTypes.DATE, description="On or before this day (YYYY-MM-DD)"),
    OpenApiParameter(
        "archived",
        str,
        enum=["false", "true", "all"],
        description="Archived assets: false (the default) leaves them out, true lists only them, all both. "
        "An archived asset is still reachable by id",
    ),
    OpenApiParameter("page_size", int, description="1-200; pages are cursors over the id, stable under inserts"),
]


def _listed(value: Any) -> list[str]:
    """Tags from JSON (a list), from repeated form fields, or from one comma-separated field."""
    items = value if isinstance(value, list) else [value]
    return [tag for item in items for tag in str(item).split(",") if tag.strip()]


class AssetUploadSerializer(InputSerializer):
    file = serializers.FileField(help_text="PNG, JPEG or WebP; recognised from the bytes")
    title = serializers.CharField(required=False, allow_blank=True, max_length=300, help_text="Default: file name")
    tags = serializers.ListField(child=serializers.CharField(max_length=64), required=False)
    collection = serializers.SlugField(required=False, allow_blank=True, help_text="An existing collection's slug")
    locale = serializers.CharField(required=False, allow_blank=True, max_length=16)
    alt_text = serializers.CharField(
        required=False, allow_blank=True, help_text='JSON object {"<locale>": "text"}, e.g. {"en": "Red sneaker"}'
    )
    digital_source_type = serializers.ChoiceField(
        choices=DigitalSourceType.choices,
        required=False,
        allow_blank=True,
        help_text="IPTC Digital Source Type of the original; default: what the file's own XMP declares",
    )


class AssetUpdateSerializer(InputSerializer):
    title = serializers.CharField(required=False, max_length=300)
    tags = serializers.ListField(child=serializers.CharField(max_length=64), required=False)
    collection = serializers.SlugField(required=False, allow_null=True, help_text="A collection slug, or null")
    locale = serializers.CharField(required=False, allow_blank=True, max_length=16)


class FocalPointSerializer(InputSerializer):
    x = serializers.FloatField(min_value=0, max_value=1, help_text="Fraction of the width, 0 left .. 1 right")
    y = serializers.FloatField(min_value=0, max_value=1, help_text="Fraction of the height, 0 top .. 1 bottom")


class VersionMetadataSerializer(serializers.ModelSerializer):
    focal_point = serializers.SerializerMethodField()
    alt_text = serializers.DictField(child=serializers.CharField())

    class Meta:
        model = AssetVersion
        fields = ["number", "status", "width", "height", "format", "focal_point", "alt_text", "digital_source_type"]

    @extend_schema_field(FocalPointSerializer(allow_null=True))
    def get_focal_point(self, version: AssetVersion) -> dict[str, float] | None:
        return None if version.focal_x is None else {"x": version.focal_x, "y": version.focal_y}


class VersionMetadataUpdateSerializer(InputSerializer):
    focal_point = FocalPointSerializer(required=False, allow_null=True, help_text="null puts it back in the centre")
    alt_text = serializers.DictField(
        child=serializers.CharField(allow_blank=True, allow_null=True, max_length=1000),
        required=False,
        help_text="Merged per locale; an empty text or null removes that locale",
    )


class CollectionSerializer(InputModelSerializer):
    assets = serializers.IntegerField(source="asset_count", read_only=True, help_text="Assets in the collection")

    class Meta:
        model = Collection
        fields = ["id", "slug", "name", "assets", "created_at"]
        read_only_fields = ["id", "assets", "created_at"]
        # Uniqueness per tenant is the service's rule (a 400 naming the slug), not a global validator.
        extra_kwargs = {"slug": {"validators": []}, "name": {"required": False}}


class LibrarySettingsSerializer(InputModelSerializer):
    rendition_allow_list = serializers.ListField(
        child=serializers.CharField(max_length=200),
        required=False,
        help_text="Filter specs clients may request on demand besides presets and placements; stored canonical",
    )

    class Meta:
        model = LibrarySettings
        fields = ["rendition_allow_list", "credit_line", "copyright_notice", "include_prompt_in_provenance"]


UPLOAD_EXAMPLE = {
    "file": "(binary) sneaker.jpg",
    "title": "Red sneaker, studio",
    "tags": "sneakers,studio",
    "collection": "summer-26",
    "locale": "en-US",
    "alt_text": '{"en-US": "Red sneaker on a white background"}',
    "digital_source_type": "digitalCapture",
}
VERSION_EXAMPLE = {
    "number": 1,
    "status": "needs_review",
    "width": 3000,
    "height": 2000,
    "format": "jpeg",
    "focal_point": {"x": 0.62, "y": 0.4},
    "alt_text": {"en-US": "Red sneaker on a white background", "ja-JP": "白い背景の赤いスニーカー"},
    "digital_source_type": "digitalCapture",
}


class AssetLibraryMixin(AssetBulkMixin):
    """Search, upload, metadata and bulk endpoints mixed into `dam.api.assets.AssetViewSet`."""

    def filter_queryset(self, queryset: QuerySet) -> QuerySet:
        queryset = super().filter_queryset(queryset)
        if self.action == "list":
            queryset = assets_filter(queryset, AssetFilters.from_query_params(self.request.query_params))
        return queryset

    @extend_schema(summary="Search and filter the library", parameters=SEARCH_PARAMETERS)
    def list(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return super().list(request, *args, **kwargs)

    @extend_schema(
        summary="Upload an image as a new asset (multipart)",
        description="PNG, JPEG or WebP, recognised from the bytes. 413: more than UPLOAD_MAX_BYTES; 415: any "
        "other type (SVG, EPS, GIF, animations...); 422: truncated, corrupt or too many pixels. The stored "
        "file is a re-encoding without metadata (no EXIF/GPS) plus provenance XMP. The same bytes uploaded "
        "again answer 200 with the asset made the first time.",
        request={"multipart/form-data": AssetUploadSerializer},
        responses={201: None, 200: None, 413: None, 415: None, 422: None},
        examples=[OpenApiExample("Upload", value=UPLOAD_EXAMPLE, request_only=True)],
    )
    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        declared = request.META.get("CONTENT_LENGTH") or "0"
        if is_digits(declared) and int(declared) > settings.UPLOAD_MAX_BYTES + MULTIPART_OVERHEAD:
            # Refused before the body is read: a huge upload never reaches a temporary file.
            raise UploadTooLarge(
                f"the request has {int(declared):,} bytes; the file limit is {settings.UPLOAD_MAX_BYTES:,}"
            )
        form = AssetUploadSerializer(data=request.data)
        form.is_valid(raise_exception=True)
        upload = form.validated_data["file"]
        if upload.size > settings.UPLOAD_MAX_BYTES:
            raise UploadTooLarge(f"the file has {upload.size:,} bytes; the limit is {settings.UPLOAD_MAX_BYTES:,}")
        alt_text: dict[str, Any] = {}
        if raw := form.validated_data.get("alt_text", "").strip():
            try:
                alt_text = json.loads(raw)
            except json.JSONDecodeError:
                raise ValidationError({"alt_text": 'a JSON object {"<locale>": "text"}'}) from None
        context = request.tenant_context
        result = asset_upload(
            tenant=self.tenant,
            data=upload.read(),
            filename=upload.name or "",
            title=form.validated_data.get("title", ""),
            tags=_listed(
                request.data.getlist("tags") if hasattr(request.data, "getlist") else request.data.get("tags", [])
            ),
            collection=form.validated_data.get("collection", ""),
            locale=form.validated_data.get("locale", ""),
            alt_text=alt_text,
            digital_source_type=form.validated_data.get("digital_source_type", ""),
            created_by=context.user,
            created_by_key=context.api_key,
            actor=Actor.from_context(context),
            origin=RequestOrigin.of(request),
        )
        asset = self.get_queryset().get(pk=result.asset.pk)
        response = Response(
            self.get_serializer(asset).data, status=status.HTTP_201_CREATED if result.created else status.HTTP_200_OK
        )
        response["Location"] = f"/api/v1/assets/{asset.pk}"
        return response

    @extend_schema(
        summary="Change an asset's title, tags, collection or locale",
        request=AssetUpdateSerializer,
        examples=[
            OpenApiExample(
                "Retag", value={"tags": ["sneakers", "summer"], "collection": "summer-26"}, request_only=True
            )
        ],
    )
    def partial_update(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        asset = self.get_object()
        form = AssetUpdateSerializer(data=request.data, partial=True)
        form.is_valid(raise_exception=True)
        changes = dict(form.validated_data)
        if "collection" in changes and changes["collection"] is not None:
            slug = changes["collection"]
            changes["collection"] = Collection.objects.for_tenant(self.tenant).filter(slug=slug).first()
            if changes["collection"] is None:
                raise ValidationError({"collection": f"no collection {slug!r}"})
        asset_update(
            asset=asset, actor=Actor.from_context(request.tenant_context), origin=RequestOrigin.of(request), **changes
        )
        return Response(self.get_serializer(self.get_queryset().get(pk=asset.pk)).data)

    @extend_schema(
        summary="Set a version's focal point and/or its alt text per locale",
        description="The focal point centres every crop (fill specs, placements); moving it re-cuts them.",
        request=VersionMetadataUpdateSerializer,
        responses={200: VersionMetadataSerializer},
        parameters=[OpenApiParameter("number", int, OpenApiParameter.PATH, description="Version number")],
        examples=[
            OpenApiExample(
                "Focal point and Japanese alt text",
                value={"focal_point": {"x": 0.62, "y": 0.4}, "alt_text": {"ja-JP": "白い背景の赤いスニーカー"}},
                request_only=True,
            ),
            OpenApiExample("The version", value=VERSION_EXAMPLE, response_only=True),
        ],
    )
    @action(detail=True, methods=["patch"], url_path=r"versions/(?P<number>[0-9]+)", url_name="version")
    def version(self, request: Request, pk: str | None = None, number: str = "") -> Response:
        asset = self.get_object()
        version = AssetVersion.objects.for_tenant(self.tenant).filter(asset=asset, number=int(number)).first()
        if version is None:
            raise NotFound(f"asset {asset.pk} has no version {number}")
        form = VersionMetadataUpdateSerializer(data=request.data, partial=True)
        form.is_valid(raise_exception=True)
        updated = version_metadata_update(
            version=version,
            actor=Actor.from_context(request.tenant_context),
            origin=RequestOrigin.of(request),
            **{name: request.data[name] for name in ("focal_point", "alt_text") if name in request.data},
        )
        return Response(VersionMetadataSerializer(updated).data)


@extend_schema_view(
    list=extend_schema(summary="The tenant's collections (campaigns), with their asset counts"),
    retrieve=extend_schema(summary="One collection"),
    create=extend_schema(
        summary="Create a collection",
        examples=[OpenApiExample("Create", value={"slug": "summer-26", "name": "Summer 2026"}, request_only=True)],
    ),
    partial_update=extend_schema(
        summary="Rename a collection (name and/or slug)",
        examples=[OpenApiExample("Rename", value={"name": "Summer 2026 (EU)"}, request_only=True)],
    ),
    destroy=extend_schema(summary="Delete a collection; its assets stay, outside any collection"),
)
class CollectionViewSet(TenantScopedModelViewSet):
    serializer_class = CollectionSerializer
    required_scopes = {"list": Scope.ASSETS_READ, "retrieve": Scope.ASSETS_READ, "*": Scope.ASSETS_WRITE}
    http_method_names = ["get", "post", "patch", "delete", "head", "options"]

    def scoped_queryset(self, tenant: Tenant) -> QuerySet[Collection]:
        return Collection.objects.for_tenant(tenant).annotate(asset_count=Count("assets"))

    def _actor(self) -> dict[str, Any]:
        return {"actor": Actor.from_context(self.request.tenant_context), "origin": RequestOrigin.of(self.request)}

    def perform_create(self, serializer: CollectionSerializer) -> None:
        collection = collection_create(tenant=self.tenant, **serializer.validated_data, **self._actor())
        serializer.instance = self.get_queryset().get(pk=collection.pk)

    def perform_update(self, serializer: CollectionSerializer) -> None:
        collection = collection_update(collection=serializer.instance, **serializer.validated_data, **self._actor())
        serializer.instance = self.get_queryset().get(pk=collection.pk)

    def perform_destroy(self, instance: Collection) -> None:
        collection_delete(collection=instance, **self._actor())


class LibrarySettingsView(TenantScopedAPIView):
    """The tenant's library settings: on-demand rendition allow-list and provenance."""

    required_scopes = {"GET": Scope.ASSETS_WRITE, "*": Scope.ADMIN}
    parser_classes = [GuardedJSONParser, GuardedFormParser, GuardedMultiPartParser]

    @extend_schema(summary="The tenant's library settings", responses={200: LibrarySettingsSerializer})
    def get(self, request: Request) -> Response:
        return Response(LibrarySettingsSerializer(library_settings_for(tenant=self.tenant)).data)

    @extend_schema(
        summary="Change the library settings (allow-list, credit line, copyright, prompt in provenance)",
        request=LibrarySettingsSerializer,
        responses={200: LibrarySettingsSerializer},
        examples=[
            OpenApiExample(
                "Allow two extra specs and credit the brand",
                value={
                    "rendition_allow_list": ["fill-1200x628|format-jpeg", "width-2400|format-avif"],
                    "credit_line": "Acme Brand Studio",
                    "copyright_notice": "© 2026 Acme Inc.",
                    "include_prompt_in_provenance": False,
                },
                request_only=True,
            )
        ],
    )
    def patch(self, request: Request) -> Response:
        form = LibrarySettingsSerializer(data=request.data, partial=True)
        form.is_valid(raise_exception=True)
        updated = library_settings_update(
            tenant=self.tenant,
            actor=Actor.from_context(request.tenant_context),
            origin=RequestOrigin.of(request),
            **form.validated_data,
        )
        return Response(LibrarySettingsSerializer(updated).data)
