"""Capacity endpoints: the tenant's place in its pool, its provider attempts, and reconciling provisional charges.

- `GET /api/v1/capacity` (`costs:read`): the tenant's pool, the deployments it may use (residency applied) with
  their live state (headroom, breaker, latency), its weight and cap, `retry_unknown_outcome`.
- `PATCH /api/v1/capacity` (`admin`): residency (`allowed_regions`, `allowed_data_zones`), `max_share_percent`,
  `retry_unknown_outcome`. The pool and the weight are the operator's (a tenant does not raise its own share).
- `GET /api/v1/provider-attempts?state=` (`costs:read`): every call made for the tenant, newest first.
- `POST /api/v1/provider-usage/reconcile` (`admin`): the provider's per-request usage export (JSON or CSV) settles
  or releases the tenant's provisional charges on the tenant's own deployments (its default, or a pool it owns);
  calls on the platform's deployments are reconciled by the platform's operators; other tenants' rows are ignored.
"""

from __future__ import annotations

from django.db.models import QuerySet
from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import mixins, serializers
from rest_framework.request import Request
from rest_framework.response import Response

from generation.models import AttemptState, ProviderAttempt, RetryUnknownOutcome, TenantCapacity
from generation.selectors.pools import member_states, route_for
from generation.services.capacity import tenant_capacity_set
from generation.services.reconciliation import provider_usage_reconcile, usage_rows_parse
from tenants.api.base import TenantScopedAPIView, TenantScopedViewSet
from tenants.api.serializers import InputSerializer
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
