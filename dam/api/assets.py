"""Asset library endpoints (read side; uploads and storefront delivery come with the library issue).

Visibility: a storefront actor (only `assets:read`) sees only assets with a storefront-visible version,
each through its latest visible version, and only visible versions in a version list; nobody is handed
a URL for a version that is never served (`blocked`), nor for its renditions.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from django.db.models import Prefetch, QuerySet
from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response

from dam.api.library import LIBRARY_SCOPES, AssetLibraryMixin
from dam.blobs import blob_url
from dam.lifecycle import is_servable
from dam.models import Asset, AssetVersion, Rendition
from dam.selectors.assets import asset_versions, assets_for_tenant
from dam.selectors.checks import checks_overview
from dam.selectors.storefront import storefront_assets, storefront_versions
from governance.safety.verdicts import redact
from tenants.api.base import TenantScopedReadViewSet
from tenants.models import Scope, Tenant


def viewer_context(request: Request) -> dict[str, Any]:
    """What the version fields need to know of the caller; every API that shows versions puts it in its context."""
    context = request.tenant_context
    # Blocklist terms only for those who manage or review them (admin, reviews:write).
    reveal_terms = bool(context.scopes & {Scope.ADMIN, Scope.REVIEWS_WRITE})
    return {"storefront": context.is_storefront, "reveal_terms": reveal_terms}


def verdicts_shown(verdicts: Iterable[Mapping[str, Any]], *, context: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Stored safety verdicts as shown to the caller of `context` (`viewer_context`): terms only if it may see them."""
    return redact(verdicts, reveal_terms=context.get("reveal_terms", False))


# What every API says of a version besides its ids (with VersionFieldsMixin for `url`).
VERSION_FACTS = ("status", "locale", "width", "height", "format", "url", "renditions", "checks")
CHECKS_HELP = (
    "The copy and brand checks: state (none, pending, done, failed), copy verdict, brand score "
    "(details: GET /assets/{id}/versions/{n}/checks)"
)


class VersionFieldsMixin:
    """A version's `url` and `safety_verdicts`, shown one way by every API (library, job outputs, review queue).

    A version that is never served to the caller (blocked; to a storefront, one not visible) has no URL,
    and neither have its renditions. Without `viewer_context` the caller counts as a storefront.
    """

    context: dict[str, Any]

    def get_url(self, version: AssetVersion) -> str | None:
        servable = is_servable(version.status, storefront=self.context.get("storefront", True))
        return blob_url(version.storage_key) if servable else None

    def get_safety_verdicts(self, version: AssetVersion) -> list[dict[str, Any]]:
        return verdicts_shown(version.safety_verdicts, context=self.context)

    def get_checks(self, version: AssetVersion) -> dict[str, Any] | None:
        # A storefront sees what is published, not how the review went.
        return None if self.context.get("storefront", True) else checks_overview(version)

    def to_representation(self, version: AssetVersion) -> dict[str, Any]:
        data = super().to_representation(version)  # type: ignore[misc]
        if data.get("url") is None:
            for rendition in data.get("renditions", []):
                rendition["url"] = None
        return data


class RenditionSerializer(serializers.ModelSerializer):
    url = serializers.SerializerMethodField()

    class Meta:
        model = Rendition
        fields = ["spec", "placement_slug", "width", "height", "format", "file_size", "url"]

    def get_url(self, rendition: Rendition) -> str | None:
        # None when the version is not servable to the caller (VersionFieldsMixin.to_representation).
        return blob_url(rendition.storage_key)


class AssetVersionSerializer(VersionFieldsMixin, serializers.ModelSerializer):
    url = serializers.SerializerMethodField()
    parent = serializers.SerializerMethodField()
    renditions = RenditionSerializer(many=True, read_only=True)
    checks = serializers.SerializerMethodField(help_text=CHECKS_HELP)

    class Meta:
        model = AssetVersion
        fields = [
            # The version's id: the one `/publish-windows/{id}` and delivery URLs take.
            "id",
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
            "safety_verdicts",
            "safety_config_version",
            "brand_policy_version",
            "checks",
            "created_at",
        ]

    safety_verdicts = serializers.SerializerMethodField()

    def get_parent(self, version: AssetVersion) -> int | None:
        return version.parent.number if version.parent_id else None


class AssetSerializer(serializers.ModelSerializer):
    collection = serializers.SlugRelatedField(slug_field="slug", read_only=True, allow_null=True)
    # None for a storefront caller when no version of the asset is visible to it.
    current_version = AssetVersionSerializer(read_only=True, allow_null=True)

    class Meta:
        model = Asset
        fields = [
            "id",
            "title",
            "source",
            "collection",
            "tags",
            "family",
            "locale",
            "current_version",
            "archived_at",
            "created_at",
        ]

    def to_representation(self, asset: Asset) -> dict[str, Any]:
        data = super().to_representation(asset)
        if self.context.get("storefront", True):
            # The asset as a storefront knows it: through its latest visible version, not the newest one.
            visible = getattr(asset, "visible_versions", [])
            data["current_version"] = AssetVersionSerializer(visible[0], context=self.context).data if visible else None
        return data


class AssetViewSet(AssetLibraryMixin, TenantScopedReadViewSet):
    serializer_class = AssetSerializer
    required_scopes = {**LIBRARY_SCOPES, "*": Scope.ASSETS_READ}

    def scoped_queryset(self, tenant: Tenant) -> QuerySet[Asset]:
        if self.request.tenant_context.is_storefront:
            visible = storefront_versions(tenant=tenant).select_related("parent").order_by("-number")
            assets = storefront_assets(tenant=tenant).prefetch_related(
                Prefetch("versions", queryset=visible, to_attr="visible_versions"),
                Prefetch("visible_versions__renditions", queryset=Rendition.unscoped.order_by("spec")),
            )
        else:
            assets = assets_for_tenant(tenant=tenant)
        if family := self.request.query_params.get("family"):
            assets = assets.filter(family=family)
        return assets

    def get_serializer_context(self) -> dict[str, Any]:
        return {**super().get_serializer_context(), **viewer_context(self.request)}

    @extend_schema(
        summary="The versions of an asset (to a storefront key: the visible ones only)",
        responses={200: inline_serializer("AssetVersionList", {"results": AssetVersionSerializer(many=True)})},
    )
    @action(detail=True, methods=["get"])
    def versions(self, request: Request, pk: str | None = None) -> Response:
        versions = asset_versions(tenant=self.tenant, asset=self.get_object()).select_related("parent")
        if request.tenant_context.is_storefront:
            versions = versions.filter(pk__in=storefront_versions(tenant=self.tenant).values("pk"))
        data = AssetVersionSerializer(versions, many=True, context=viewer_context(request)).data
        return Response({"results": data})
