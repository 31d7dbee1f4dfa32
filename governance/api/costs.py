"""Cost endpoints: spend reports, the ledger, the price book (scope `costs:read`) and budgets
(read with `costs:read`, change with `admin`). The estimate endpoint lives in
`generation/api/estimates.py`: it needs generation's size planner, which governance may not import."""

from __future__ import annotations

from decimal import Decimal

from django.db.models import QuerySet
from django.utils import timezone
from drf_spectacular.utils import OpenApiExample, OpenApiParameter, extend_schema, extend_schema_view, inline_serializer
from rest_framework import mixins, serializers, status
from rest_framework.request import Request
from rest_framework.response import Response

from governance.api.audit import MomentRangeSerializer
from governance.models import Budget, LedgerEntry, Price, TokenKind
from governance.periods import local_day
from governance.prices import price_sheet_at
from governance.selectors.reports import GROUPINGS, provisional_spend, spend_report
from governance.services.budgets import budget_set, budget_status, budgets_for_tenant
from governance.services.ledger import ledger_entries_for_tenant
from tenants.api.base import TenantScopedAPIView, TenantScopedViewSet
from tenants.api.serializers import InputSerializer
from tenants.audit import Actor, RequestOrigin
from tenants.errors import Conflict
from tenants.models import ApiKey, Scope, Tenant

MAX_REPORT_DAYS = 3 * 366


class SpendQuerySerializer(serializers.Serializer):
    group_by = serializers.ChoiceField(choices=GROUPINGS, default="day")
    start = serializers.DateField(required=False, help_text="first tenant-local day (default: this month's first)")
    end = serializers.DateField(required=False, help_text="last tenant-local day, inclusive (default: today)")


SPEND_EXAMPLE = {
    "time_zone": "Europe/Berlin",
    "group_by": "day",
    "start": "2026-05-01",
    "end": "2026-05-31",
    "total_usd": "0.4214400000",
    "rows": [
        {
            "day": "2026-05-04",
            "amount_usd": "0.4214400000",
            "entries": 2,
            "images": 2,
            "input_tokens": 640,
            "output_tokens": 14048,
        }
    ],
}


class SpendReportView(TenantScopedAPIView):
    """`GET /api/v1/costs/spend?group_by=day|month|api_key|user|collection|model&start=&end=`"""

    required_scopes = {"GET": Scope.COSTS_READ}

    @extend_schema(
        summary="Confirmed spend (charges and adjustments) grouped by day, month, API key, user, collection or "
        "model; provisional charges (calls of unknown outcome, until reconciled) apart",
        parameters=[SpendQuerySerializer],
        responses=inline_serializer(
            "SpendReport",
            {
                "time_zone": serializers.CharField(),
                "group_by": serializers.CharField(),
                "start": serializers.DateField(),
                "end": serializers.DateField(),
                "total_usd": serializers.DecimalField(max_digits=24, decimal_places=10),
                "provisional_usd": serializers.DecimalField(max_digits=24, decimal_places=10),
                "provisional_calls": serializers.IntegerField(),
                "rows": serializers.ListField(child=serializers.DictField()),
            },
        ),
        examples=[OpenApiExample("Days of a month", value=SPEND_EXAMPLE, response_only=True)],
    )
    def get(self, request: Request) -> Response:
        params = SpendQuerySerializer(data=request.query_params)
        params.is_valid(raise_exception=True)
        tenant = self.tenant
        today = local_day(timezone.now(), tenant.time_zone)
        start = params.validated_data.get("start") or today.replace(day=1)
        end = params.validated_data.get("end") or today
        if end < start or (end - start).days > MAX_REPORT_DAYS:
            raise serializers.ValidationError({"end": f"must be on or after start, at most {MAX_REPORT_DAYS} days"})
        group_by = params.validated_data["group_by"]
        rows = spend_report(tenant=tenant, group_by=group_by, start=start, end=end)
        total = sum((row["amount_usd"] for row in rows), Decimal(0))
        for row in rows:
            row["amount_usd"] = str(row["amount_usd"])
        # Calls whose outcome is unknown, at their planned cost until reconciled: apart from confirmed spend.
        provisional = provisional_spend(tenant=tenant, start=start, end=end)
        return Response(
            {
                "time_zone": tenant.time_zone,
                "group_by": group_by,
                "start": start,
                "end": end,
                "total_usd": str(total),
                "provisional_usd": str(provisional["amount_usd"]),
                "provisional_calls": provisional["open_calls"],
                "rows": rows,
            }
        )


class LedgerEntrySerializer(serializers.ModelSerializer):
    # Plain text in the schema: a `kind` enum here would collide with other `kind` enums by name.
    kind = serializers.CharField(read_only=True, help_text="hold | charge | release | adjustment")

    class Meta:
        model = LedgerEntry
        fields = [
            "id",
            "kind",
            "amount_usd",
            "job_id",
            "api_key_id",
            "user_id",
            "collection_id",
            "provider_request_id",
            "model",
            "deployment_tier",
            "size",
            "quality",
            "operation",
            "images",
            "text_input_tokens",
            "cached_text_input_tokens",
            "image_input_tokens",
            "cached_image_input_tokens",
            "output_tokens",
            "usage_estimated",
            "breakdown",
            "note",
            "occurred_at",
            "day",
            "period",
        ]


class LedgerQuerySerializer(MomentRangeSerializer):
    kind = serializers.ChoiceField(choices=LedgerEntry.Kind.values, required=False)
    job = serializers.IntegerField(required=False, min_value=1)


LEDGER_EXAMPLE = {
    "id": 812,
    "kind": "charge",
    "amount_usd": "0.2107200000",
    "job_id": 345,
    "api_key_id": 7,
    "user_id": None,
    "collection_id": 3,
    "provider_request_id": "9d2f0c1e-…",
    "model": "gpt-image-2",
    "deployment_tier": "standard-global",
    "size": "1024x1024",
    "quality": "high",
    "operation": "generate",
    "images": 1,
    "text_input_tokens": 0,
    "cached_text_input_tokens": 0,
    "image_input_tokens": 0,
    "cached_image_input_tokens": 0,
    "output_tokens": 7024,
    "usage_estimated": False,
    "breakdown": {
        "image_output": {"tokens": 7024, "price_id": 5, "usd_per_million": "30.0000", "amount_usd": "0.2107200000"}
    },
    "note": "",
    "occurred_at": "2026-05-04T10:15:00Z",
    "day": "2026-05-04",
    "period": "2026-05-01",
}


@extend_schema_view(
    list=extend_schema(
        summary="The tenant's ledger entries, newest first",
        parameters=[
            OpenApiParameter("kind", str, enum=LedgerEntry.Kind.values),
            OpenApiParameter("job", int),
            OpenApiParameter("since", str, description="ISO date or datetime"),
            OpenApiParameter("until", str, description="ISO date (inclusive) or datetime (exclusive)"),
        ],
        examples=[OpenApiExample("A charge", value=LEDGER_EXAMPLE, response_only=True)],
    )
)
class LedgerEntryViewSet(mixins.ListModelMixin, TenantScopedViewSet):
    """`GET /api/v1/costs/ledger?kind=&job=&since=&until=`: the tenant's ledger entries, newest first."""

    serializer_class = LedgerEntrySerializer
    required_scopes = {"*": Scope.COSTS_READ}

    def scoped_queryset(self, tenant: Tenant) -> QuerySet[LedgerEntry]:
        params = LedgerQuerySerializer(data=self.request.query_params)
        params.is_valid(raise_exception=True)
        filters = dict(params.validated_data)
        return ledger_entries_for_tenant(tenant=tenant, job_id=filters.pop("job", None), **filters)


class PriceBookView(TenantScopedAPIView):
    """`GET /api/v1/costs/prices`: the prices in force now, and every price row (history included)."""

    required_scopes = {"GET": Scope.COSTS_READ}

    @extend_schema(
        summary="The price book: USD per 1M tokens in force now, and its history",
        responses=inline_serializer(
            "PriceBook",
            {
                "model": serializers.CharField(),
                "deployment_tier": serializers.CharField(),
                "usd_per_million": serializers.DictField(child=serializers.CharField()),
                "history": serializers.ListField(child=serializers.DictField()),
            },
        ),
        examples=[
            OpenApiExample(
                "Standard Global",
                value={
                    "model": "gpt-image-2",
                    "deployment_tier": "standard-global",
                    "usd_per_million": {
                        "text_input": "5.0000",
                        "cached_text_input": "1.2500",
                        "image_input": "8.0000",
                        "cached_image_input": "2.0000",
                        "image_output": "30.0000",
                    },
                    "history": [],
                },
                response_only=True,
            )
        ],
    )
    def get(self, request: Request) -> Response:
        now = timezone.now()
        sheet = price_sheet_at(now)
        rows = Price.objects.order_by("model", "deployment_tier", "token_kind", "effective_from")
        return Response(
            {
                "model": sheet.model,
                "deployment_tier": sheet.deployment_tier,
                "usd_per_million": {kind: str(sheet[kind].usd_per_million) for kind in TokenKind.values},
                "history": [
                    {
                        "id": row.pk,
                        "model": row.model,
                        "deployment_tier": row.deployment_tier,
                        "token_kind": row.token_kind,
                        "usd_per_million": str(row.usd_per_million),
                        "effective_from": row.effective_from,
                        "effective_to": row.effective_to,
                    }
                    for row in rows
                ],
            }
        )


class BudgetSerializer(serializers.ModelSerializer):
    api_key = serializers.IntegerField(source="api_key_id", read_only=True, allow_null=True)
    current_month = serializers.SerializerMethodField()

    class Meta:
        model = Budget
        fields = [
            "id",
            "api_key",
            "monthly_limit_usd",
            "alert_threshold_percent",
            "hard_stop",
            "active",
            "created_at",
            "updated_at",
            "current_month",
        ]

    def get_current_month(self, budget: Budget) -> dict:
        return budget_status(budget=budget).to_dict()


class BudgetWriteSerializer(InputSerializer):
    monthly_limit_usd = serializers.DecimalField(max_digits=14, decimal_places=2, min_value=Decimal(0))
    alert_threshold_percent = serializers.IntegerField(min_value=1, max_value=100, required=False)
    hard_stop = serializers.BooleanField(required=False)
    active = serializers.BooleanField(required=False)


class BudgetCreateSerializer(BudgetWriteSerializer):
    api_key = serializers.IntegerField(required=False, allow_null=True, help_text="omit for the tenant-wide budget")


BUDGET_EXAMPLE = {
    "id": 4,
    "api_key": None,
    "monthly_limit_usd": "500.00",
    "alert_threshold_percent": 80,
    "hard_stop": True,
    "active": True,
    "created_at": "2026-05-01T08:00:00Z",
    "updated_at": "2026-05-01T08:00:00Z",
    "current_month": {
        "period": "2026-05",
        "time_zone": "Europe/Berlin",
        "limit_usd": "500.00",
        "charged_usd": "120.4400000000",
        "held_usd": "3.3715200000",
        "remaining_usd": "376.1884800000",
        "alert_threshold_usd": "400.00",
        "alerted_at": None,
        "exceeded_at": None,
    },
}


@extend_schema_view(
    list=extend_schema(
        summary="Budgets with this month's spend",
        examples=[OpenApiExample("A budget", value=BUDGET_EXAMPLE, response_only=True)],
    ),
    retrieve=extend_schema(
        summary="One budget with this month's spend",
        examples=[OpenApiExample("A budget", value=BUDGET_EXAMPLE, response_only=True)],
    ),
    create=extend_schema(
        summary="Create the tenant's budget, or an API key's",
        request=BudgetCreateSerializer,
        responses={201: BudgetSerializer, 409: None},
        examples=[
            OpenApiExample(
                "Tenant-wide", value={"monthly_limit_usd": "500.00", "alert_threshold_percent": 80}, request_only=True
            )
        ],
    ),
    partial_update=extend_schema(
        summary="Change a budget (takes effect for this month at once)",
        request=BudgetWriteSerializer,
        responses=BudgetSerializer,
        examples=[OpenApiExample("Raise the limit", value={"monthly_limit_usd": "750.00"}, request_only=True)],
    ),
)
class BudgetViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, TenantScopedViewSet):
    """Budgets with this month's spend; `POST` creates one (tenant-wide, or for `api_key`), `PATCH` changes it."""

    serializer_class = BudgetSerializer
    required_scopes = {"list": Scope.COSTS_READ, "retrieve": Scope.COSTS_READ, "*": Scope.ADMIN}

    def scoped_queryset(self, tenant: Tenant) -> QuerySet[Budget]:
        return budgets_for_tenant(tenant=tenant)

    def create(self, request: Request) -> Response:
        params = BudgetCreateSerializer(data=request.data)
        params.is_valid(raise_exception=True)
        values = dict(params.validated_data)
        key_id = values.pop("api_key", None)
        api_key = None
        if key_id is not None:
            api_key = ApiKey.objects.for_tenant(self.tenant).filter(pk=key_id).first()
            if api_key is None:
                raise serializers.ValidationError({"api_key": "no such API key in this tenant"})
        existing = budgets_for_tenant(tenant=self.tenant).filter(api_key=api_key).first()
        if existing is not None:
            raise Conflict(f"this scope already has budget {existing.pk}: PATCH it", field="api_key")
        budget = budget_set(
            tenant=self.tenant,
            api_key=api_key,
            actor=Actor.from_request(request),
            origin=RequestOrigin.of(request),
            create_only=True,  # the check above is advice: a concurrent POST may have created it since
            **values,
        )
        return Response(BudgetSerializer(budget).data, status=status.HTTP_201_CREATED)

    def partial_update(self, request: Request, pk: str | None = None) -> Response:
        budget = self.get_object()
        params = BudgetWriteSerializer(data=request.data, partial=True)
        params.is_valid(raise_exception=True)
        budget = budget_set(
            tenant=self.tenant,
            api_key=budget.api_key,
            actor=Actor.from_request(request),
            origin=RequestOrigin.of(request),
            **params.validated_data,
        )
        return Response(BudgetSerializer(budget).data)
