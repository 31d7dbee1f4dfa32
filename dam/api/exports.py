"""Hand-off exports: `POST /api/v1/exports` (a selection of versions, or a filter), `GET /api/v1/exports[/{id}]`
(state and progress, for polling), `GET /api/v1/exports/{id}/download` (the zip, streamed from storage).

Scope `assets:read`: a hand-off is reading. A key with only `assets:read` (a storefront, a CMS) may export
approved and published versions only, as it sees them through the storefront API.
"""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from django.http import FileResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiExample, OpenApiResponse, extend_schema, extend_schema_view
from rest_framework import serializers, status
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response

from dam.lifecycle import VersionStatus
from dam.models import Export
from dam.services.exports import EXPORT_MAX_VERSIONS, MAX_ID, export_create, export_open
from tenants.api.base import TenantScopedReadViewSet
from tenants.api.serializers import InputSerializer
from tenants.audit import Actor, RequestOrigin
from tenants.models import Scope, Tenant


class ExportCreateSerializer(InputSerializer):
    version_ids = serializers.ListField(
        child=serializers.IntegerField(min_value=1, max_value=MAX_ID),
        required=False,
        max_length=EXPORT_MAX_VERSIONS,
        help_text="These versions exactly; or leave out and filter (the current version of each matching asset)",
    )
    asset_ids = serializers.ListField(
        child=serializers.IntegerField(min_value=1, max_value=MAX_ID), required=False, max_length=EXPORT_MAX_VERSIONS
    )
    collection = serializers.SlugField(required=False, allow_blank=True, help_text="A collection's slug")
    locale = serializers.CharField(required=False, allow_blank=True, max_length=16, help_text="A market (locale)")
    placement = serializers.SlugField(
        required=False, allow_blank=True, help_text="Only assets cut for this placement, and only its files"
    )
    campaign_id = serializers.IntegerField(required=False, min_value=1, max_value=MAX_ID)
    status = serializers.ChoiceField(choices=VersionStatus.choices, required=False, allow_blank=True)
    include_originals = serializers.BooleanField(
        required=False, default=True, help_text="Also each version's original, under <market>/original/"
    )


class ExportSerializer(serializers.ModelSerializer):
    versions = serializers.SerializerMethodField(help_text="Versions in the export")
    percent = serializers.IntegerField(read_only=True, help_text="files_done of files_total, 0-100")
    download_url = serializers.SerializerMethodField()

    class Meta:
        model = Export
        fields = [
            "id",
            "state",
            "files_done",
            "files_total",
            "percent",
            "bytes_done",
            "versions",
            "selection",
            "skipped",
            "file_size",
            "manifest_sha256",
            "error",
            "download_url",
            "created_at",
            "started_at",
            "finished_at",
        ]

    def get_versions(self, export: Export) -> int:
        return len(export.version_ids)

    def get_download_url(self, export: Export) -> str | None:
        return f"/api/v1/exports/{export.pk}/download" if export.state == Export.State.DONE else None


EXPORT_EXAMPLE = {
    "id": 7,
    "state": "running",
    "files_done": 40,
    "files_total": 96,
    "percent": 41,
    "bytes_done": 18874368,
    "versions": 24,
    "selection": {"collection": "summer-26", "locale": "de-DE", "include_originals": True},
    "skipped": [],
    "file_size": None,
    "manifest_sha256": "",
    "error": "",
    "download_url": None,
    "created_at": "2026-12-07T09:00:00Z",
    "started_at": "2026-12-07T09:00:01Z",
    "finished_at": None,
}


@extend_schema_view(
    list=extend_schema(summary="The tenant's exports, newest first"),
    retrieve=extend_schema(
        summary="One export: state and progress (poll until done or failed)",
        examples=[OpenApiExample("Running", value=EXPORT_EXAMPLE, response_only=True)],
    ),
)
class ExportViewSet(TenantScopedReadViewSet):
    serializer_class = ExportSerializer
    required_scopes = {"*": Scope.ASSETS_READ}
    http_method_names = ["get", "post", "head", "options"]

    def scoped_queryset(self, tenant: Tenant) -> QuerySet[Export]:
        return Export.objects.for_tenant(tenant).order_by("-id")

    @extend_schema(
        summary="Export a selection as a zip laid out by market and placement, built in the background",
        description="The zip holds `<market>/<placement>/<creative>.<ext>` for each placement rendition of each "
        "selected version and `<market>/original/<creative>.<ext>` for its original (market: the asset's locale, "
        "else `default`), plus `manifest.csv` and `manifest.json` (asset, version, placement, size, format, "
        "sha256, alt text for the market, delivery URL, provenance). Give `version_ids`, or filters (the current "
        "version of each matching asset). Blocked versions are left out and listed in `skipped`. 202: poll the "
        "export, then download it.",
        request=ExportCreateSerializer,
        responses={202: ExportSerializer},
        examples=[
            OpenApiExample("A market of a collection", value={"collection": "summer-26", "locale": "de-DE"}),
            OpenApiExample("Chosen versions", value={"version_ids": [101, 102, 117]}),
        ],
    )
    def create(self, request: Request) -> Response:
        form = ExportCreateSerializer(data=request.data)
        form.is_valid(raise_exception=True)
        return export_requested(request, tenant=self.tenant, selection=dict(form.validated_data))

    @extend_schema(
        summary="Download the finished export (a zip, streamed)",
        responses={
            (200, "application/zip"): OpenApiResponse(OpenApiTypes.BINARY, description="The zip"),
            409: OpenApiResponse(description="The export is not done (queued, running or failed)"),
        },
    )
    @action(detail=True, methods=["get"])
    def download(self, request: Request, pk: str | None = None) -> Any:
        export = self.get_object()
        response = FileResponse(
            export_open(export), as_attachment=True, filename=export.filename, content_type="application/zip"
        )
        response["Cache-Control"] = "private, no-store"
        response["X-Content-Type-Options"] = "nosniff"
        return response


def export_requested(request: Request, *, tenant: Tenant, selection: dict[str, Any]) -> Response:
    """Create an export of `selection` for the caller of an API request: 202 with the export and its address.

    A storefront key exports only what it may see; the delivery URLs in the manifest use the request's origin.
    """
    context = request.tenant_context
    export = export_create(
        tenant=tenant,
        selection=selection,
        requested_by=context.user,
        requested_by_key=context.api_key,
        visible_only=context.is_storefront,
        delivery_origin=request.build_absolute_uri("/"),
        actor=Actor.from_context(context),
        origin=RequestOrigin.of(request),
    )
    return Response(
        ExportSerializer(export).data,
        status=status.HTTP_202_ACCEPTED,
        headers={"Location": f"/api/v1/exports/{export.pk}"},
    )
