"""`POST /api/v1/costs/estimate`: a workload's monthly cost per routing option (scope `costs:read`).

Here rather than in governance: the estimate needs generation's size planner (see
`generation.estimates.workloads`)."""

from __future__ import annotations

from drf_spectacular.utils import OpenApiExample, extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response

from generation.estimates.workloads import workload_estimate
from tenants.api.base import TenantScopedAPIView
from tenants.api.serializers import InputSerializer, refuse_unknown_keys
from tenants.models import Scope

ESTIMATE_REQUEST = {
    "images_per_month": 10000,
    "placements": ["pdp-square", "1920x1080"],
    "quality": "high",
    "locales": 6,
    "edit_share": 0.2,
    "cached_input_share": 0.5,
    "routing": ["3840x2160", "auto"],
}


class EstimateRequestSerializer(InputSerializer):
    images_per_month = serializers.IntegerField(min_value=0, help_text="base images, before locales and placements")
    placements = serializers.ListField(child=serializers.CharField(), required=False, help_text="slugs or WxH")
    quality = serializers.ChoiceField(choices=["low", "medium", "high"], required=False)
    locales = serializers.IntegerField(min_value=1, required=False, help_text="a count, or a list of codes")
    edit_share = serializers.DecimalField(max_digits=4, decimal_places=3, required=False)
    cached_input_share = serializers.DecimalField(max_digits=4, decimal_places=3, required=False)
    routing = serializers.ListField(child=serializers.CharField(), required=False, help_text="one or several")
    prompt_tokens = serializers.IntegerField(min_value=0, required=False)
    calibrate = serializers.BooleanField(required=False, default=True)


class CostEstimateView(TenantScopedAPIView):
    required_scopes = {"POST": Scope.COSTS_READ}

    @extend_schema(
        summary="Monthly cost of a workload by token kind, routing options side by side",
        request=EstimateRequestSerializer,
        responses=inline_serializer(
            "CostEstimate",
            {
                "prices": serializers.DictField(),
                "options": serializers.ListField(child=serializers.DictField()),
                "cheapest": serializers.CharField(),
                "calibrated": serializers.BooleanField(),
                "basis": serializers.CharField(),
                "workload": serializers.DictField(),
            },
        ),
        examples=[OpenApiExample("10,000 product images in 6 locales", value=ESTIMATE_REQUEST, request_only=True)],
    )
    def post(self, request: Request) -> Response:
        refuse_unknown_keys(request.data, EstimateRequestSerializer)  # the service validates the values
        return Response(workload_estimate(tenant=self.tenant, body=request.data))
