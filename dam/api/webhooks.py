"""Webhook registration and delivery log endpoints (`admin` scope)."""

from __future__ import annotations

from django.db.models import QuerySet
from drf_spectacular.utils import OpenApiExample, OpenApiParameter, extend_schema, extend_schema_view
from rest_framework import serializers, status
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response

from dam.models import WebhookAttempt, WebhookDelivery, WebhookEndpoint, WebhookEvent
from dam.services.webhooks import (
    webhook_delivery_replay,
    webhook_endpoint_create,
    webhook_endpoint_delete,
    webhook_endpoint_rotate_secret,
    webhook_endpoint_update,
)
from tenants.api.base import TenantScopedModelViewSet, TenantScopedReadViewSet
from tenants.api.serializers import InputModelSerializer
from tenants.audit import Actor, RequestOrigin
from tenants.errors import ServiceError
from tenants.models import Scope, Tenant
from tenants.numbers import is_digits


class WebhookEndpointSerializer(InputModelSerializer):
    events = serializers.ListField(child=serializers.ChoiceField(choices=WebhookEvent.choices), allow_empty=False)

    class Meta:
        model = WebhookEndpoint
        fields = ["id", "url", "description", "events", "active", "created_at", "updated_at"]
        read_only_fields = ["id", "created_at", "updated_at"]


class WebhookEndpointCreateSerializer(WebhookEndpointSerializer):
    """A new endpoint starts active (`webhook_endpoint_create` takes no `active`): pause it with a PATCH."""

    class Meta(WebhookEndpointSerializer.Meta):
        fields = ["url", "description", "events"]
        read_only_fields = []


class WebhookEndpointWithSecretSerializer(WebhookEndpointSerializer):
    secret = serializers.CharField(read_only=True, help_text="Shown once: keep it to verify signatures")

    class Meta(WebhookEndpointSerializer.Meta):
        fields = [*WebhookEndpointSerializer.Meta.fields, "secret"]


class WebhookAttemptSerializer(serializers.ModelSerializer):
    class Meta:
        model = WebhookAttempt
        fields = ["number", "started_at", "duration_ms", "status_code", "error", "response_excerpt"]


class WebhookDeliverySerializer(serializers.ModelSerializer):
    endpoint = serializers.IntegerField(source="endpoint_id", read_only=True)
    replay_of = serializers.IntegerField(source="replay_of_id", read_only=True, allow_null=True)

    class Meta:
        model = WebhookDelivery
        fields = [
            "id",
            "endpoint",
            "event",
            "event_id",
            "status",
            "attempts",
            "next_attempt_at",
            "last_status_code",
            "last_error",
            "delivered_at",
            "replay_of",
            "created_at",
        ]


class WebhookDeliveryDetailSerializer(WebhookDeliverySerializer):
    attempt_log = WebhookAttemptSerializer(many=True, read_only=True)

    class Meta(WebhookDeliverySerializer.Meta):
        fields = [*WebhookDeliverySerializer.Meta.fields, "payload", "attempt_log"]


ENDPOINT_EXAMPLE = {
    "url": "https://shop.example.com/hooks/dam",
    "description": "CMS cache purge",
    "events": ["asset.approved", "asset.published"],
}


@extend_schema_view(
    list=extend_schema(summary="The tenant's webhook endpoints"),
    retrieve=extend_schema(summary="One webhook endpoint"),
    create=extend_schema(
        summary="Register an endpoint; the response carries the signing secret once",
        request=WebhookEndpointCreateSerializer,
        responses={201: WebhookEndpointWithSecretSerializer},
        examples=[OpenApiExample("Register", value=ENDPOINT_EXAMPLE, request_only=True)],
    ),
    partial_update=extend_schema(
        summary="Change URL, events, description or pause it (active=false)",
        examples=[OpenApiExample("Pause", value={"active": False}, request_only=True)],
    ),
    destroy=extend_schema(summary="Delete the endpoint and its delivery log"),
)
class WebhookEndpointViewSet(TenantScopedModelViewSet):
    serializer_class = WebhookEndpointSerializer
    required_scopes = {"*": Scope.ADMIN}
    http_method_names = ["get", "post", "patch", "delete", "head", "options"]

    def scoped_queryset(self, tenant: Tenant) -> QuerySet[WebhookEndpoint]:
        return WebhookEndpoint.objects.for_tenant(tenant).order_by("-id")

    def create(self, request: Request) -> Response:
        params = WebhookEndpointCreateSerializer(data=request.data)
        params.is_valid(raise_exception=True)
        registered = webhook_endpoint_create(
            tenant=self.tenant,
            actor=Actor.from_request(request),
            origin=RequestOrigin.of(request),
            **params.validated_data,
        )
        data = {**WebhookEndpointSerializer(registered.endpoint).data, "secret": registered.secret}
        return Response(data, status=status.HTTP_201_CREATED)

    def partial_update(self, request: Request, pk: str | None = None) -> Response:
        params = WebhookEndpointSerializer(data=request.data, partial=True)
        params.is_valid(raise_exception=True)
        endpoint = webhook_endpoint_update(
            endpoint=self.get_object(),
            actor=Actor.from_request(request),
            origin=RequestOrigin.of(request),
            **params.validated_data,
        )
        return Response(WebhookEndpointSerializer(endpoint).data)

    def destroy(self, request: Request, pk: str | None = None) -> Response:
        webhook_endpoint_delete(
            endpoint=self.get_object(), actor=Actor.from_request(request), origin=RequestOrigin.of(request)
        )
        return Response(status=status.HTTP_204_NO_CONTENT)

    @extend_schema(
        summary="Replace the signing secret; the response carries the new one once",
        request=None,
        responses={200: WebhookEndpointWithSecretSerializer},
    )
    @action(detail=True, methods=["post"], url_path="rotate-secret")
    def rotate_secret(self, request: Request, pk: str | None = None) -> Response:
        registered = webhook_endpoint_rotate_secret(
            endpoint=self.get_object(), actor=Actor.from_request(request), origin=RequestOrigin.of(request)
        )
        return Response({**WebhookEndpointSerializer(registered.endpoint).data, "secret": registered.secret})


@extend_schema_view(
    list=extend_schema(
        summary="Delivery log, newest first",
        parameters=[
            OpenApiParameter("endpoint", int),
            OpenApiParameter("status", str, enum=WebhookDelivery.Status.values),
            OpenApiParameter("event", str, enum=WebhookEvent.values),
        ],
    ),
    retrieve=extend_schema(summary="One delivery with its body and every attempt"),
)
class WebhookDeliveryViewSet(TenantScopedReadViewSet):
    serializer_class = WebhookDeliverySerializer
    required_scopes = {"*": Scope.ADMIN}

    def scoped_queryset(self, tenant: Tenant) -> QuerySet[WebhookDelivery]:
        deliveries = WebhookDelivery.objects.for_tenant(tenant)
        params = self.request.query_params
        if endpoint := params.get("endpoint"):
            if not is_digits(endpoint):
                raise ServiceError("must be an endpoint id", field="endpoint")
            deliveries = deliveries.filter(endpoint_id=int(endpoint))
        if status_filter := params.get("status"):
            deliveries = deliveries.filter(status=status_filter)
        if event := params.get("event"):
            deliveries = deliveries.filter(event=event)
        if self.action == "retrieve":
            deliveries = deliveries.prefetch_related("attempt_log")
        return deliveries

    def get_serializer_class(self):
        return WebhookDeliveryDetailSerializer if self.action == "retrieve" else WebhookDeliverySerializer

    @extend_schema(
        summary="Send the same event again (same event id and body) as a new delivery",
        request=None,
        responses={200: WebhookDeliverySerializer},
    )
    @action(detail=True, methods=["post"])
    def replay(self, request: Request, pk: str | None = None) -> Response:
        replay = webhook_delivery_replay(
            delivery=self.get_object(), actor=Actor.from_request(request), origin=RequestOrigin.of(request)
        )
        return Response(WebhookDeliverySerializer(replay).data)
