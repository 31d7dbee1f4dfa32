"""`POST /api/v1/costs/estimate`: a workload's monthly cost per routing option (scope `costs:read`).

Here rather than in governance: the estimate needs generation's size planner (see
`generation.cost_estimates`)."""

from __future__ import annotations

from django.urls import path
from rest_framework.request import Request
from rest_framework.response import Response

from generation.cost_estimates import workload_estimate
from tenants.api_base import TenantScopedAPIView
from tenants.models import Scope


class CostEstimateView(TenantScopedAPIView):
    required_scopes = {"POST": Scope.COSTS_READ}

    def post(self, request: Request) -> Response:
        return Response(workload_estimate(tenant=self.tenant, body=request.data))


urlpatterns = [path("costs/estimate", CostEstimateView.as_view(), name="costs-estimate")]
