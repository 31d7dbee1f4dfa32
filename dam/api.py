"""Asset library endpoints (read side; uploads and storefront delivery come with the library issue)."""

from __future__ import annotations

from django.db.models import QuerySet
from rest_framework import mixins, serializers
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response

from dam.blobs import blob_url
from dam.library_api import LIBRARY_SCOPES, AssetLibraryMixin
from dam.models import Asset, AssetVersion, Rendition
from dam.selectors import asset_versions, assets_for_tenant
from tenants.api_base import TenantScopedViewSet
from tenants.models import Scope, Tenant


class RenditionSerializer(serializers.ModelSerializer):
    url = serializers.SerializerMethodField()

    class Meta:
        model = Rendition
        fields = ["spec", "placement_slug", "width", "height", "format", "file_size", "url"]

    def get_url(self, rendition: Rendition) -> str:
        return blob_url(rendition.storage_key)


class AssetVersionSerializer(serializers.ModelSerializer):
    url = serializers.SerializerMethodField()
    parent = serializers.SerializerMethodField()
    renditions = RenditionSerializer(many=True, read_only=True)

    class Meta:
        model = AssetVersion
        fields = [
            "number",
            "parent",
            "status",
            "width",
            "height",
            "format",
            "file_size",
            "sha256",
            "url",
            "job_id",
            "provider_request_id",
            "compiled_prompt",
            "model",
            "deployment",
            "locale",
            "size_plan",
            "usage",
            "renditions",
            "created_at",
        ]

    def get_url(self, version: AssetVersion) -> str:
        return blob_url(version.storage_key)

    def get_parent(self, version: AssetVersion) -> int | None:
        return version.parent.number if version.parent_id else None


class AssetSerializer(serializers.ModelSerializer):
    collection = serializers.SlugRelatedField(slug_field="slug", read_only=True)
    current_version = AssetVersionSerializer(read_only=True)

    class Meta:
        model = Asset
        fields = ["id", "title", "source", "collection", "tags", "family", "locale", "current_version", "created_at"]


class AssetViewSet(AssetLibraryMixin, mixins.ListModelMixin, mixins.RetrieveModelMixin, TenantScopedViewSet):
    serializer_class = AssetSerializer
    required_scopes = {**LIBRARY_SCOPES, "*": Scope.ASSETS_READ}

    def scoped_queryset(self, tenant: Tenant) -> QuerySet[Asset]:
        assets = assets_for_tenant(tenant=tenant)
        if family := self.request.query_params.get("family"):
            assets = assets.filter(family=family)
        return assets

    @action(detail=True, methods=["get"])
    def versions(self, request: Request, pk: str | None = None) -> Response:
        versions = asset_versions(tenant=self.tenant, asset=self.get_object()).select_related("parent")
        return Response({"results": AssetVersionSerializer(versions, many=True).data})
