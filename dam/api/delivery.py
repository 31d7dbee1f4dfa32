"""Delivery settings endpoints: a version's publish window (`assets:write`) and private delivery (`admin`)."""

from __future__ import annotations

from django.db.models import QuerySet
from drf_spectacular.utils import OpenApiExample, extend_schema, extend_schema_view
from rest_framework import mixins, serializers
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response

from dam.models import AssetVersion, TenantDelivery
from dam.selectors.storefront import publish_window_of
from dam.services.delivery import publish_window_set, tenant_delivery_set
from tenants.api.base import TenantScopedViewSet
from tenants.api.serializers import InputSerializer
from tenants.audit import Actor, RequestOrigin
from tenants.models import Scope, Tenant


class PublishWindowSerializer(InputSerializer):
    version = serializers.IntegerField(read_only=True, help_text="The asset version's id")
    asset = serializers.IntegerField(read_only=True)
    number = serializers.IntegerField(read_only=True)
    available_from = serializers.DateTimeField(allow_null=True, required=False)
    available_until = serializers.DateTimeField(allow_null=True, required=False)


def _window_data(version: AssetVersion) -> dict:
    window = publish_window_of(version)
    return {
        "version": version.pk,
        "asset": version.asset_id,
        "number": version.number,
        "available_from": window.available_from if window else None,
        "available_until": window.available_until if window else None,
    }


@extend_schema_view(
    retrieve=extend_schema(summary="A version's publish window (both ends null: always available once approved)"),
    update=extend_schema(
        summary="Set a version's publish window; outside it the version is never served",
        examples=[
            OpenApiExample(
                "Summer campaign",
                value={"available_from": "2026-06-01T00:00:00Z", "available_until": "2026-09-01T00:00:00Z"},
                request_only=True,
            )
        ],
    ),
)
class PublishWindowViewSet(mixins.RetrieveModelMixin, TenantScopedViewSet):
    """`/publish-windows/{version id}`."""

    serializer_class = PublishWindowSerializer
    required_scopes = {"retrieve": Scope.ASSETS_READ, "update": Scope.ASSETS_WRITE}
    http_method_names = ["get", "put", "head", "options"]

    def scoped_queryset(self, tenant: Tenant) -> QuerySet[AssetVersion]:
        return AssetVersion.objects.for_tenant(tenant).select_related("publish_window")

    def retrieve(self, request: Request, pk: str | None = None) -> Response:
        return Response(_window_data(self.get_object()))

    def update(self, request: Request, pk: str | None = None) -> Response:
        params = PublishWindowSerializer(data=request.data)
        params.is_valid(raise_exception=True)
        version = self.get_object()
        publish_window_set(
            version=version,
            available_from=params.validated_data.get("available_from"),
            available_until=params.validated_data.get("available_until"),
            actor=Actor.from_request(request),
            origin=RequestOrigin.of(request),
        )
        return Response(_window_data(self.scoped_queryset(self.tenant).get(pk=version.pk)))


class TenantDeliverySerializer(InputSerializer):
    signed_urls_required = serializers.BooleanField(
        help_text="Private delivery: every image URL must carry a valid, unexpired signature"
    )


class DeliverySettingsViewSet(TenantScopedViewSet):
    """`/delivery-settings`: the tenant's delivery policy."""

    serializer_class = TenantDeliverySerializer
    required_scopes = {"current:GET": Scope.ADMIN, "current:PUT": Scope.ADMIN}

    def scoped_queryset(self, tenant: Tenant) -> QuerySet[TenantDelivery]:
        return TenantDelivery.objects.for_tenant(tenant)

    @extend_schema(
        summary="The tenant's delivery policy (PUT changes it)",
        request=TenantDeliverySerializer,
        responses={200: TenantDeliverySerializer},
        examples=[OpenApiExample("Private delivery", value={"signed_urls_required": True})],
    )
    @action(detail=False, methods=["get", "put"], url_path="current")
    def current(self, request: Request) -> Response:
        if request.method == "PUT":
            params = TenantDeliverySerializer(data=request.data)
            params.is_valid(raise_exception=True)
            tenant_delivery_set(
                tenant=self.tenant,
                actor=Actor.from_request(request),
                origin=RequestOrigin.of(request),
                **params.validated_data,
            )
        setting = self.scoped_queryset(self.tenant).first()
        return Response({"signed_urls_required": bool(setting and setting.signed_urls_required)})
