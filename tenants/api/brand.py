"""Endpoints for the brand policy (versioned) and the tenant's placements."""

from __future__ import annotations

from django.db.models import QuerySet
from drf_spectacular.utils import extend_schema
from rest_framework import exceptions, mixins, serializers, status
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response

from tenants.api.base import TenantScopedViewSet
from tenants.api.serializers import InputModelSerializer, InputSerializer
from tenants.audit import Actor, RequestOrigin
from tenants.models import BrandPolicy, OutputFormat, Placement, Scope, Tenant
from tenants.selectors import brand_policy_current, brand_policy_versions, placements_for_tenant
from tenants.services import brand_policy_update, placement_archive, placement_create, placement_update
from tenants.services.brand import POLICY_FIELDS


class BrandPolicySerializer(InputModelSerializer):
    class Meta:
        model = BrandPolicy
        fields = ["id", "version", *POLICY_FIELDS, "created_at"]
        read_only_fields = ["id", "version", "created_at"]


class BrandPolicyViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, TenantScopedViewSet):
    """`/brand-policy` is the current version; `PUT`/`PATCH` create the next version."""

    serializer_class = BrandPolicySerializer
    required_scopes = {"list": None, "retrieve": None, "current:GET": None, "current": Scope.ADMIN}

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
            return Response(BrandPolicySerializer(policy).data)
        partial = request.method == "PATCH"
        params = BrandPolicySerializer(data=request.data, partial=partial)
        params.is_valid(raise_exception=True)
        policy = brand_policy_update(
            tenant=self.tenant,
            created_by=request.tenant_context.user,
            actor=Actor.from_request(request),
            origin=RequestOrigin.of(request),
            **params.validated_data,
        )
        return Response(BrandPolicySerializer(policy).data, status=status.HTTP_201_CREATED)


class PlacementSerializer(InputModelSerializer):
    class Meta:
        model = Placement
        fields = ["id", "slug", "name", "width", "height", "output_format", "compression", "archived", "created_at"]
        read_only_fields = ["id", "archived", "created_at"]


class PlacementUpdateSerializer(InputSerializer):
    name = serializers.CharField(max_length=100, required=False)
    width = serializers.IntegerField(required=False)
    height = serializers.IntegerField(required=False)
    output_format = serializers.ChoiceField(choices=OutputFormat.values, required=False)
    compression = serializers.IntegerField(required=False)


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
