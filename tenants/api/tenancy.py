"""Tenant self-service endpoints: the current tenant, its API keys and memberships."""

from __future__ import annotations

from django.db.models import QuerySet
from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import mixins, serializers, status
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response

from tenants.api.base import TenantScopedAPIView, TenantScopedViewSet
from tenants.api.serializers import InputSerializer
from tenants.audit import Actor, RequestOrigin
from tenants.models import ApiKey, Membership, Scope, Tenant
from tenants.selectors import api_keys_for_tenant, memberships_for_tenant
from tenants.services import api_key_create, api_key_revoke


class TenantSerializer(serializers.ModelSerializer):
    class Meta:
        model = Tenant
        fields = ["slug", "name", "status", "time_zone", "created_at"]


class CurrentTenantView(TenantScopedAPIView):
    required_scopes = {"GET": None}

    @extend_schema(
        summary="The caller's tenant, scopes and actor",
        responses=inline_serializer(
            "CurrentTenant",
            {
                **TenantSerializer().get_fields(),
                "scopes": serializers.ListField(child=serializers.CharField()),
                "actor": serializers.CharField(),
            },
        ),
    )
    def get(self, request: Request) -> Response:
        context = request.tenant_context
        data = TenantSerializer(context.tenant).data
        data["scopes"] = sorted(context.scopes)
        data["actor"] = context.actor_label
        return Response(data)


class ApiKeySerializer(serializers.ModelSerializer):
    class Meta:
        model = ApiKey
        fields = ["id", "name", "prefix", "scopes", "created_at", "expires_at", "revoked_at", "last_used_at"]
        read_only_fields = fields


class ApiKeyCreateSerializer(InputSerializer):
    name = serializers.CharField(max_length=100)
    scopes = serializers.ListField(child=serializers.ChoiceField(choices=Scope.choices), allow_empty=False)
    expires_at = serializers.DateTimeField(required=False, allow_null=True)


class ApiKeyViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, TenantScopedViewSet):
    serializer_class = ApiKeySerializer
    required_scopes = {"*": Scope.ADMIN}

    def scoped_queryset(self, tenant: Tenant) -> QuerySet[ApiKey]:
        return api_keys_for_tenant(tenant=tenant)

    def create(self, request: Request) -> Response:
        params = ApiKeyCreateSerializer(data=request.data)
        params.is_valid(raise_exception=True)
        context = request.tenant_context
        issued = api_key_create(
            tenant=self.tenant,
            created_by=context.user,
            created_by_key=context.api_key,  # a key minted with a key: the chain four-eyes follows
            granter_scopes=context.scopes,
            actor=Actor.from_context(context),
            origin=RequestOrigin.of(request),
            **params.validated_data,
        )
        data = ApiKeySerializer(issued.api_key).data
        data["token"] = issued.token  # shown once; only its hash is stored
        return Response(data, status=status.HTTP_201_CREATED)

    @action(detail=True, methods=["post"])
    def revoke(self, request: Request, pk: str | None = None) -> Response:
        api_key = api_key_revoke(
            api_key=self.get_object(), actor=Actor.from_request(request), origin=RequestOrigin.of(request)
        )
        return Response(ApiKeySerializer(api_key).data)


class MembershipSerializer(serializers.ModelSerializer):
    username = serializers.CharField(source="user.get_username", read_only=True)

    class Meta:
        model = Membership
        fields = ["id", "username", "role", "created_at"]


class MembershipViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, TenantScopedViewSet):
    serializer_class = MembershipSerializer
    required_scopes = {"*": Scope.ADMIN}

    def scoped_queryset(self, tenant: Tenant) -> QuerySet[Membership]:
        return memberships_for_tenant(tenant=tenant)
