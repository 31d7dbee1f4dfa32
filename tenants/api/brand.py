"""Endpoints for the brand policy (versioned) and the tenant's placements."""

from __future__ import annotations

from collections.abc import Mapping

from django.db.models import QuerySet
from django.http import HttpResponse
from django.urls import reverse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema, extend_schema_field
from rest_framework import exceptions, mixins, serializers, status
from rest_framework.decorators import action
from rest_framework.exceptions import ErrorDetail
from rest_framework.request import Request
from rest_framework.response import Response

from tenants.api.base import TenantScopedViewSet
from tenants.api.serializers import InputModelSerializer, InputSerializer
from tenants.audit import Actor, RequestOrigin
from tenants.models import BrandPolicy, OutputFormat, Placement, Scope, Tenant
from tenants.selectors import brand_logo_of, brand_policy_current, brand_policy_versions, placements_for_tenant
from tenants.services import brand_policy_update, placement_archive, placement_create, placement_update
from tenants.services.brand import LOGO_MAX_BYTES, POLICY_FIELDS


class BrandLogoSerializer(serializers.Serializer):
    sha256 = serializers.CharField(help_text="SHA-256 of the file as uploaded (hex)")
    content_type = serializers.CharField(help_text="image/png, image/jpeg or image/webp")
    width = serializers.IntegerField()
    height = serializers.IntegerField()
    size = serializers.IntegerField(help_text="bytes")
    url = serializers.CharField(help_text="GET it for the file")


class BrandPolicySerializer(InputModelSerializer):
    logo = serializers.SerializerMethodField(
        help_text="The logo the logo check looks for, or null; set it with PUT /brand-policy/logo (multipart)"
    )

    class Meta:
        model = BrandPolicy
        fields = ["id", "version", *POLICY_FIELDS, "logo", "created_at"]
        read_only_fields = ["id", "version", "logo", "created_at"]

    @extend_schema_field(BrandLogoSerializer(allow_null=True))
    def get_logo(self, policy: BrandPolicy) -> dict | None:
        logo = policy.logo
        if logo is None:
            return None
        path = reverse("brand-policy-logo-file", kwargs={"pk": policy.pk})
        request = self.context.get("request")
        return {
            "sha256": logo.sha256,
            "content_type": logo.content_type,
            "width": logo.width,
            "height": logo.height,
            "size": logo.size,
            "url": request.build_absolute_uri(path) if request is not None else path,
        }


class BrandLogoUploadSerializer(InputSerializer):
    logo = serializers.FileField(help_text="PNG, JPEG or WebP, at most 2 MB")


class BrandPolicyViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, TenantScopedViewSet):
    """`/brand-policy` is the current version; `PUT`/`PATCH` create the next version."""

    serializer_class = BrandPolicySerializer
    required_scopes = {
        "list": None,
        "retrieve": None,
        "current:GET": None,
        "current": Scope.ADMIN,
        "logo": Scope.ADMIN,
        "logo_file": None,
    }

    def scoped_queryset(self, tenant: Tenant) -> QuerySet[BrandPolicy]:
        return brand_policy_versions(tenant=tenant)

    @extend_schema(methods=["GET"], responses={200: BrandPolicySerializer})
    @extend_schema(methods=["PUT", "PATCH"], responses={201: BrandPolicySerializer})
    @action(detail=False, methods=["get", "put", "patch"], url_path="current")
    def current(self, request: Request) -> Response:
        if request.method == "GET":
            policy = brand_policy_current(tenant=self.tenant)
            if policy is None:
                raise exceptions.NotFound("no brand policy yet")
            return Response(self._shown(policy))
        partial = request.method == "PATCH"
        if isinstance(request.data, Mapping) and "logo" in request.data:
            # Read-only here, but silently dropping a logo a client meant to set would look like success.
            message = "the logo is set with PUT /api/v1/brand-policy/logo (multipart field `logo`)"
            raise serializers.ValidationError({"logo": [ErrorDetail(message, code="read_only")]})
        params = BrandPolicySerializer(data=request.data, partial=partial)
        params.is_valid(raise_exception=True)
        policy = brand_policy_update(
            tenant=self.tenant,
            created_by=request.tenant_context.user,
            actor=Actor.from_request(request),
            origin=RequestOrigin.of(request),
            **params.validated_data,
        )
        return Response(self._shown(policy), status=status.HTTP_201_CREATED)

    def _shown(self, policy: BrandPolicy) -> dict:
        return BrandPolicySerializer(policy, context=self.get_serializer_context()).data

    @extend_schema(
        methods=["PUT"],
        summary="Set the logo (multipart field `logo`): a new policy version with it",
        request={"multipart/form-data": BrandLogoUploadSerializer},
        responses={201: BrandPolicySerializer},
    )
    @extend_schema(
        methods=["DELETE"],
        summary="Remove the logo: a new policy version without one",
        responses={201: BrandPolicySerializer},
    )
    @action(detail=False, methods=["put", "delete"], url_path="logo")
    def logo(self, request: Request) -> Response:
        if request.method == "DELETE":
            data = None
        else:
            params = BrandLogoUploadSerializer(data=request.data)
            params.is_valid(raise_exception=True)
            # One byte past the limit is enough for the service to refuse it: a huge file is never read whole.
            data = params.validated_data["logo"].read(LOGO_MAX_BYTES + 1)
        policy = brand_policy_update(
            tenant=self.tenant,
            created_by=request.tenant_context.user,
            actor=Actor.from_request(request),
            origin=RequestOrigin.of(request),
            logo=data,
        )
        return Response(self._shown(policy), status=status.HTTP_201_CREATED)

    @extend_schema(
        summary="The logo file of one policy version",
        responses={
            **{
                (200, content_type): OpenApiResponse(OpenApiTypes.BINARY, description="The logo as uploaded")
                for content_type in ("image/png", "image/jpeg", "image/webp")
            },
            404: OpenApiResponse(description="No such version, or it has no logo"),
        },
    )
    @action(detail=True, methods=["get"], url_path="logo", url_name="logo-file")
    def logo_file(self, request: Request, pk: str | None = None) -> HttpResponse:
        logo = brand_logo_of(policy=self.get_object())
        if logo is None:
            raise exceptions.NotFound("this brand policy version has no logo")
        response = HttpResponse(bytes(logo.data), content_type=logo.content_type)
        response["ETag"] = f'"{logo.sha256}"'
        response["Cache-Control"] = "private, max-age=3600"
        response["X-Content-Type-Options"] = "nosniff"
        response["Content-Disposition"] = f'inline; filename="logo.{logo.format}"'
        return response


class PlacementSerializer(InputModelSerializer):
    class Meta:
        model = Placement
        fields = [
            "id",
            "slug",
            "name",
            "width",
            "height",
            "output_format",
            "compression",
            "min_text_height",
            "archived",
            "created_at",
        ]
        read_only_fields = ["id", "archived", "created_at"]


class PlacementUpdateSerializer(InputSerializer):
    name = serializers.CharField(max_length=100, required=False)
    width = serializers.IntegerField(required=False)
    height = serializers.IntegerField(required=False)
    output_format = serializers.ChoiceField(choices=OutputFormat.values, required=False)
    compression = serializers.IntegerField(required=False)
    min_text_height = serializers.IntegerField(
        required=False, help_text="Smallest height of a line of copy in the output, px (4-200)"
    )


class PlacementViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, TenantScopedViewSet):
    serializer_class = PlacementSerializer
    required_scopes = {"list": None, "retrieve": None, "*": Scope.ADMIN}

    def scoped_queryset(self, tenant: Tenant) -> QuerySet[Placement]:
        include_archived = self.action != "list" or self.request.query_params.get("archived") == "1"
        return placements_for_tenant(tenant=tenant, include_archived=include_archived)

    def create(self, request: Request) -> Response:
        params = PlacementSerializer(data=request.data)
        params.is_valid(raise_exception=True)
        placement = placement_create(
            tenant=self.tenant,
            actor=Actor.from_request(request),
            origin=RequestOrigin.of(request),
            **params.validated_data,
        )
        return Response(PlacementSerializer(placement).data, status=status.HTTP_201_CREATED)

    def partial_update(self, request: Request, pk: str | None = None) -> Response:
        params = PlacementUpdateSerializer(data=request.data)
        params.is_valid(raise_exception=True)
        placement = placement_update(
            placement=self.get_object(),
            actor=Actor.from_request(request),
            origin=RequestOrigin.of(request),
            **params.validated_data,
        )
        return Response(PlacementSerializer(placement).data)

    @action(detail=True, methods=["post"])
    def archive(self, request: Request, pk: str | None = None) -> Response:
        placement = placement_archive(
            placement=self.get_object(), actor=Actor.from_request(request), origin=RequestOrigin.of(request)
        )
        return Response(PlacementSerializer(placement).data)
