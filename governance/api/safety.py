"""Endpoints for the tenant's safety configuration (versioned) and the sector presets.

`GET /safety-config` lists versions, `/safety-config/{id}` one version, `/safety-config/current` the
current one (the default preset's values, version 0, until the tenant saves one); `PUT`/`PATCH
/safety-config/current` (admin) create the next version. Blocklist terms are shown only to callers
with `admin` or `reviews:write`.
"""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from drf_spectacular.utils import OpenApiExample, extend_schema, extend_schema_view, inline_serializer
from rest_framework import mixins, serializers, status
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response

from governance.models import SafetyConfig
from governance.safety.presets import PRESETS
from governance.selectors.safety import safety_config_current, safety_config_versions, safety_policy_for
from governance.services.safety import CONFIG_FIELDS, safety_config_update
from tenants.api.base import TenantScopedViewSet
from tenants.api.serializers import InputSerializer
from tenants.models import Scope, Tenant


def _may_see_terms(request: Request) -> bool:
    return bool(request.tenant_context.scopes & {Scope.ADMIN, Scope.REVIEWS_WRITE})


class SafetyConfigSerializer(serializers.ModelSerializer):
    class Meta:
        model = SafetyConfig
        fields = ["id", "version", *CONFIG_FIELDS, "created_at"]

    def to_representation(self, config: SafetyConfig) -> dict[str, Any]:
        data = super().to_representation(config)
        request = self.context.get("request")
        if request is None or not _may_see_terms(request):
            data["blocklist"] = [{"id": item["id"], "regex": item.get("regex", False)} for item in data["blocklist"]]
        return data


class SafetyConfigChangeSerializer(InputSerializer):
    """Shapes only; the service validates values and the tighten-only rule, naming the field."""

    preset = serializers.CharField(required=False)
    prompt_thresholds = serializers.DictField(required=False)
    output_thresholds = serializers.DictField(required=False)
    blocklist = serializers.ListField(required=False)
    prompt_shield = serializers.BooleanField(required=False)
    provider_moderation = serializers.CharField(required=False)
    review_rule = serializers.CharField(required=False)


CONFIG_EXAMPLE = {
    "id": 7,
    "version": 3,
    "preset": "childrens_media",
    "prompt_thresholds": {"hate": 2, "sexual": 2, "violence": 2, "self_harm": 2},
    "output_thresholds": {"hate": 2, "sexual": 2, "violence": 2, "self_harm": 2},
    "blocklist": [
        {"id": "bl-1c2d3e4f5a", "text": "激安", "regex": False, "description": "no bargain-bin wording"},
        {"id": "bl-9a8b7c6d5e", "text": "free\\s+gift", "regex": True, "description": ""},
    ],
    "prompt_shield": True,
    "provider_moderation": "auto",
    "review_rule": "always",
    "created_at": "2026-11-25T09:00:00Z",
}


@extend_schema_view(
    list=extend_schema(
        summary="The tenant's safety configuration versions, newest first",
        examples=[OpenApiExample("Versions", value=[CONFIG_EXAMPLE], response_only=True)],
    ),
    retrieve=extend_schema(
        summary="One safety configuration version",
        examples=[OpenApiExample("A version", value=CONFIG_EXAMPLE, response_only=True)],
    ),
)
class SafetyConfigViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, TenantScopedViewSet):
    serializer_class = SafetyConfigSerializer
    # Reading is for the brand's own team (jobs:read); storefront keys have no business here.
    required_scopes = {
        "list": Scope.JOBS_READ,
        "retrieve": Scope.JOBS_READ,
        "presets": Scope.JOBS_READ,
        "current:GET": Scope.JOBS_READ,
        "current": Scope.ADMIN,
    }

    def scoped_queryset(self, tenant: Tenant) -> QuerySet[SafetyConfig]:
        return safety_config_versions(tenant=tenant)

    @extend_schema(
        methods=["GET"],
        summary="The current safety configuration (the default preset, version 0, until one is saved)",
        examples=[OpenApiExample("Current", value=CONFIG_EXAMPLE, response_only=True)],
    )
    @extend_schema(
        methods=["PUT", "PATCH"],
        summary="Save the next version; only ever tighter than the sector preset (400 names a loosened field)",
        request=SafetyConfigChangeSerializer,
        responses={201: SafetyConfigSerializer},
        examples=[
            OpenApiExample(
                "Tighten",
                value={
                    "preset": "childrens_media",
                    "blocklist": [{"text": "激安"}, {"text": "free\\s+gift", "regex": True}],
                },
                request_only=True,
            ),
            OpenApiExample("Saved", value=CONFIG_EXAMPLE, response_only=True, status_codes=["201"]),
        ],
    )
    @action(detail=False, methods=["get", "put", "patch"], url_path="current")
    def current(self, request: Request) -> Response:
        if request.method == "GET":
            config = safety_config_current(tenant=self.tenant)
            if config is not None:
                return Response(self.get_serializer(config).data)
            policy = safety_policy_for(tenant=self.tenant, default=True)
            return Response({**PRESETS[policy.preset].defaults(), "id": None, "version": 0, "created_at": None})
        params = SafetyConfigChangeSerializer(data=request.data, partial=request.method == "PATCH")
        params.is_valid(raise_exception=True)
        config = safety_config_update(
            tenant=self.tenant, created_by=request.tenant_context.user, **params.validated_data
        )
        return Response(self.get_serializer(config).data, status=status.HTTP_201_CREATED)

    @extend_schema(
        summary="The sector presets: a configuration's starting values and the loosest values it may take",
        responses=inline_serializer("SafetyPresets", {"results": serializers.ListField(child=serializers.DictField())}),
        examples=[
            OpenApiExample("Presets", value={"results": [PRESETS["childrens_media"].to_dict()]}, response_only=True)
        ],
    )
    @action(detail=False, methods=["get"])
    def presets(self, request: Request) -> Response:
        return Response({"results": [preset.to_dict() for preset in PRESETS.values()]})
