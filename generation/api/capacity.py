"""Capacity endpoints: the tenant's place in its pool, its provider attempts, and reconciling provisional charges.

- `GET /api/v1/capacity` (`costs:read`): the tenant's pool, the deployments it may use (residency applied) with
  their live state (headroom, breaker, latency), its weight and cap, `retry_unknown_outcome`.
- `PATCH /api/v1/capacity` (`admin`): residency (`allowed_regions`, `allowed_data_zones`), `max_share_percent`,
  `retry_unknown_outcome`. The pool and the weight are the operator's (a tenant does not raise its own share).
- `GET|POST /api/v1/capacity/pool/members`, `GET|PATCH|DELETE /api/v1/capacity/pool/members/{id}` (`admin`): the
  deployments of the tenant's own pool (its admins manage it; the first one added creates the pool and moves the
  tenant onto it). The api key is write-only. A platform pool, or another tenant's, is none of these: 404.
- `GET /api/v1/provider-attempts?state=` (`costs:read`): every call made for the tenant, newest first.
- `POST /api/v1/provider-usage/reconcile` (`admin`): the provider's per-request usage export (JSON or CSV) settles
  or releases the tenant's provisional charges on the tenant's own deployments (its default, or a pool it owns);
  calls on the platform's deployments are reconciled by the platform's operators; other tenants' rows are ignored.
"""

from __future__ import annotations

from django.db.models import QuerySet
from drf_spectacular.utils import OpenApiExample, OpenApiResponse, extend_schema, extend_schema_view, inline_serializer
from rest_framework import mixins, serializers, status
from rest_framework.request import Request
from rest_framework.response import Response

from generation.foundry.config import AuthKind
from generation.models import AttemptState, PoolMember, ProviderAttempt, RetryUnknownOutcome, TenantCapacity
from generation.selectors.capacity import tenant_pool_members
from generation.selectors.pools import member_states, route_for
from generation.services.capacity import (
    TENANT_MEMBER_FIELDS,
    tenant_capacity_set,
    tenant_pool_member_add,
    tenant_pool_member_delete,
    tenant_pool_member_update,
)
from generation.services.reconciliation import provider_usage_reconcile, usage_rows_parse
from tenants.api.base import TenantScopedAPIView, TenantScopedModelViewSet, TenantScopedViewSet
from tenants.api.serializers import InputModelSerializer, InputSerializer
from tenants.audit import Actor, RequestOrigin
from tenants.errors import ServiceError
from tenants.models import Scope

MAX_EXPORT_CHARS = 50 * 1024 * 1024


class CapacityUpdateSerializer(InputSerializer):
    allowed_regions = serializers.ListField(
        child=serializers.RegexField(r"^[a-z0-9]{2,40}$"), required=False, max_length=50
    )
    allowed_data_zones = serializers.ListField(
        child=serializers.RegexField(r"^[a-z]{2,8}$"), required=False, max_length=10
    )
    max_share_percent = serializers.IntegerField(min_value=1, max_value=100, required=False, allow_null=True)
    retry_unknown_outcome = serializers.ChoiceField(choices=RetryUnknownOutcome.choices, required=False)


def _capacity_body(tenant) -> dict:
    capacity = TenantCapacity.objects.for_tenant(tenant).select_related("pool").first()
    route = route_for(tenant_id=tenant.pk)
    states = member_states(pool_key=route.pool_key, members=route.members) or {}
    deployments = []
    for member in route.members:
        if member.key not in route.allowed:
            continue  # outside the tenant's residency: not its business
        state = states.get(member.key)
        deployments.append(
            {
                "name": route.configs[member.key].name,
                "region": route.regions.get(member.key, ""),
                "rpm": member.rpm,
                "effective_rpm": state.effective_rpm if state else member.rpm,
                "headroom": state.headroom if state else None,
                "breaker": state.breaker if state else "closed",
                "latency_p50_ms": state.latency_p50_ms if state else None,
                "latency_p95_ms": state.latency_p95_ms if state else None,
            }
        )
    return {
        "pool": capacity.pool.name if capacity and capacity.pool else None,
        "pool_is_own": bool(capacity and capacity.pool and capacity.pool.owner_id == tenant.pk),
        "weight": str(route.weight),
        "max_share_percent": capacity.max_share_percent if capacity else None,
        "allowed_regions": capacity.allowed_regions if capacity else [],
        "allowed_data_zones": capacity.allowed_data_zones if capacity else [],
        "retry_unknown_outcome": route.retry_unknown_outcome,
        "deployments": deployments,
    }


class CapacityView(TenantScopedAPIView):
    required_scopes = {"GET": Scope.COSTS_READ, "PATCH": Scope.ADMIN}

    @extend_schema(summary="The tenant's pool, residency, share and its deployments' live state")
    def get(self, request: Request) -> Response:
        return Response(_capacity_body(self.tenant))

    @extend_schema(summary="Change residency, share cap and what happens after an unknown outcome")
    def patch(self, request: Request) -> Response:
        params = CapacityUpdateSerializer(data=request.data)
        params.is_valid(raise_exception=True)
        context = request.tenant_context
        tenant_capacity_set(
            tenant=self.tenant,
            actor=Actor.of(user=context.user, api_key=context.api_key),
            origin=RequestOrigin.of(request),
            **params.validated_data,
        )
        return Response(_capacity_body(self.tenant))


REGION = r"^[a-z0-9]{2,40}$"
DATA_ZONE = r"^[a-z]{2,8}$"


class PoolMemberSerializer(InputModelSerializer):
    """A deployment of the tenant's own pool. `api_key` is write-only: stored encrypted, never returned."""

    endpoint = serializers.URLField(max_length=300, help_text="e.g. https://my-resource.openai.azure.com")
    auth_kind = serializers.ChoiceField(
        choices=[(AuthKind.API_KEY.value, "API key")],
        default=AuthKind.API_KEY.value,
        help_text="A tenant's own deployment authenticates with its own key",
    )
    api_key = serializers.CharField(
        write_only=True,
        required=False,
        min_length=1,
        max_length=512,
        help_text="Needed when the deployment is added; omit it to keep the stored key. Never returned.",
    )
    has_api_key = serializers.BooleanField(read_only=True)
    region = serializers.RegexField(REGION, help_text="Azure region, e.g. swedencentral")
    data_zone = serializers.RegexField(
        DATA_ZONE, required=False, allow_blank=True, help_text="eu, us, … for Data Zone deployments; empty for Global"
    )
    connect_timeout_seconds = serializers.FloatField(min_value=0.1, max_value=120, required=False)
    read_timeout_seconds = serializers.FloatField(min_value=0.1, max_value=3600, required=False)
    rpm = serializers.IntegerField(min_value=1, max_value=1_000_000, help_text="Requests per minute of its quota")
    tpm = serializers.IntegerField(
        min_value=0, max_value=2_000_000_000, required=False, help_text="Tokens per minute of its quota (0: none)"
    )
    max_attempts = serializers.IntegerField(min_value=1, max_value=10, required=False)
    max_retry_seconds = serializers.FloatField(min_value=1, max_value=86_400, required=False)
    weight = serializers.IntegerField(min_value=1, max_value=1000, required=False, help_text="Share among equals")
    priority = serializers.IntegerField(min_value=0, max_value=1000, required=False, help_text="Lower is tried first")

    class Meta:
        model = PoolMember
        fields = ["id", "pool", *sorted(TENANT_MEMBER_FIELDS), "api_key", "has_api_key"]
        read_only_fields = ["id", "pool", "has_api_key"]

    def values(self) -> dict:
        """What the tenant pool services take as `values` (the key apart)."""
        return {name: value for name, value in self.validated_data.items() if name != "api_key"}


MEMBER_EXAMPLE = {
    "name": "sweden-1",
    "endpoint": "https://my-resource.openai.azure.com",
    "deployment": "gpt-image-2",
    "api_key": "<the deployment's key>",
    "region": "swedencentral",
    "data_zone": "eu",
    "deployment_type": "data_zone",
    "rpm": 10,
    "priority": 0,
    "weight": 1,
}


@extend_schema_view(
    list=extend_schema(summary="The deployments of the tenant's own pool"),
    retrieve=extend_schema(summary="One deployment of the tenant's own pool"),
    create=extend_schema(
        summary="Add a deployment to the tenant's own pool (the first one creates the pool and moves the tenant "
        "onto it)",
        request=PoolMemberSerializer,
        responses={
            201: PoolMemberSerializer,
            409: OpenApiResponse(
                description="The pool has a deployment of that name, or the tenant could not use it (residency)"
            ),
        },
        examples=[OpenApiExample("Add", value=MEMBER_EXAMPLE, request_only=True)],
    ),
    partial_update=extend_schema(
        summary="Change a deployment of the tenant's own pool (a given api_key replaces the stored one)",
        responses={
            200: PoolMemberSerializer,
            409: OpenApiResponse(
                description="The name is taken in the pool, or the tenant would have no deployment left it may use"
            ),
        },
        examples=[OpenApiExample("Disable", value={"enabled": False}, request_only=True)],
    ),
    destroy=extend_schema(
        summary="Delete a deployment of the tenant's own pool (never the last one it can use)",
        responses={
            204: None,
            409: OpenApiResponse(description="It is the last deployment the tenant may use in the pool it uses"),
        },
    ),
)
class PoolMemberViewSet(TenantScopedModelViewSet):
    """The deployments of the tenant's own pool, managed by its admins through the capacity services (audited,
    keys encrypted). The pool's weight in the scheduler stays the operators'."""

    serializer_class = PoolMemberSerializer
    required_scopes = {"*": Scope.ADMIN}
    http_method_names = ["get", "post", "patch", "delete", "head", "options"]

    def scoped_queryset(self, tenant) -> QuerySet[PoolMember]:
        return tenant_pool_members(tenant=tenant)

    def create(self, request: Request) -> Response:
        params = PoolMemberSerializer(data=request.data)
        params.is_valid(raise_exception=True)
        member = tenant_pool_member_add(
            tenant=self.tenant,
            values=params.values(),
            api_key=params.validated_data.get("api_key"),
            actor=Actor.from_request(request),
            origin=RequestOrigin.of(request),
        )
        return Response(PoolMemberSerializer(member).data, status=status.HTTP_201_CREATED)

    def partial_update(self, request: Request, pk: str | None = None) -> Response:
        member = self.get_object()
        params = PoolMemberSerializer(data=request.data, partial=True)
        params.is_valid(raise_exception=True)
        member = tenant_pool_member_update(
            tenant=self.tenant,
            member=member,
            values=params.values(),
            api_key=params.validated_data.get("api_key"),
            actor=Actor.from_request(request),
            origin=RequestOrigin.of(request),
        )
        return Response(PoolMemberSerializer(member).data)

    def destroy(self, request: Request, pk: str | None = None) -> Response:
        tenant_pool_member_delete(
            tenant=self.tenant,
            member=self.get_object(),
            actor=Actor.from_request(request),
            origin=RequestOrigin.of(request),
        )
        return Response(status=status.HTTP_204_NO_CONTENT)


class ProviderAttemptSerializer(serializers.ModelSerializer):
    planned_cost_usd = serializers.DecimalField(max_digits=24, decimal_places=10, read_only=True)

    class Meta:
        model = ProviderAttempt
        fields = [
            "id",
            "job",
            "client_request_id",
            "deployment",
            "region",
            "state",
            "planned_cost_usd",
            "provider_request_id",
            "sent_at",
            "resolved_at",
        ]
        read_only_fields = fields


class ProviderAttemptViewSet(mixins.ListModelMixin, TenantScopedViewSet):
    serializer_class = ProviderAttemptSerializer
    required_scopes = {"*": Scope.COSTS_READ}

    def scoped_queryset(self, tenant) -> QuerySet[ProviderAttempt]:
        state = self.request.query_params.get("state")
        if state is not None and state not in AttemptState.values:
            raise ServiceError(f"must be one of {', '.join(AttemptState.values)}", field="state")
        attempts = ProviderAttempt.objects.for_tenant(tenant).order_by("-id")
        return attempts.filter(state=state) if state else attempts


class ReconcileSerializer(InputSerializer):
    format = serializers.ChoiceField(choices=["json", "csv"])
    usage = serializers.CharField(max_length=MAX_EXPORT_CHARS, trim_whitespace=False, help_text="the export's text")
    covers_until = serializers.DateTimeField(
        required=False, help_text="the export holds every billed call up to here (default: its latest row)"
    )


class ReconcileView(TenantScopedAPIView):
    required_scopes = {"POST": Scope.ADMIN}

    @extend_schema(
        summary="Settle or release provisional charges from the provider's per-request usage export",
        request=ReconcileSerializer,
        responses=inline_serializer(
            "ReconcileReport",
            {
                "rows": serializers.IntegerField(),
                "settled": serializers.IntegerField(),
                "released": serializers.IntegerField(),
                "still_unknown": serializers.IntegerField(),
            },
        ),
    )
    def post(self, request: Request) -> Response:
        params = ReconcileSerializer(data=request.data)
        params.is_valid(raise_exception=True)
        rows = usage_rows_parse(data=params.validated_data["usage"], format=params.validated_data["format"])
        context = request.tenant_context
        report = provider_usage_reconcile(
            rows=rows,
            tenant=self.tenant,
            covers_until=params.validated_data.get("covers_until"),
            actor=Actor.of(user=context.user, api_key=context.api_key),
            origin=RequestOrigin.of(request),
            own_deployments_only=True,  # the platform's deployments are reconciled by its operators
        )
        return Response(report.to_dict())
