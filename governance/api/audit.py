"""`GET /api/v1/audit`: the tenant's audit trail, paged newest first and filtered (scope `admin`)."""

from __future__ import annotations

import datetime as dt

from django.db.models import QuerySet
from django.utils import timezone
from drf_spectacular.utils import OpenApiExample, extend_schema, extend_schema_view, inline_serializer
from rest_framework import serializers
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response

from governance.models import AuditEvent
from governance.services.audit import audit_chain_head, audit_events_for_tenant
from tenants.api.base import TenantScopedReadViewSet
from tenants.api.pagination import SignedCursorPagination
from tenants.models import Scope, Tenant


class AuditEventSerializer(serializers.ModelSerializer):
    actor = serializers.SerializerMethodField()
    target = serializers.SerializerMethodField()

    class Meta:
        model = AuditEvent
        fields = [
            "id",
            "seq",
            "action",
            "actor",
            "target",
            "payload",
            "request_id",
            "ip",
            "created_at",
            "prev_hash",
            "hash",
        ]

    def get_actor(self, event: AuditEvent) -> dict:
        return {"kind": event.actor_kind, "id": event.actor_id, "label": event.actor_label}

    def get_target(self, event: AuditEvent) -> dict:
        return {"type": event.target_type, "id": event.target_id}


def parse_moment(value: str, *, end: bool = False) -> dt.datetime:
    """An ISO datetime, or a date (its start; with `end`, the start of the next day, for inclusive ranges)."""
    try:
        moment = dt.datetime.fromisoformat(value)
    except ValueError:
        raise serializers.ValidationError("must be an ISO 8601 date or datetime") from None
    if len(value) == 10:  # a bare date
        moment += dt.timedelta(days=1) if end else dt.timedelta(0)
    return timezone.make_aware(moment, dt.UTC) if timezone.is_naive(moment) else moment


class MomentRangeSerializer(serializers.Serializer):
    """`since` and `until` query parameters: a date or a moment, `until` a date's end (see parse_moment)."""

    since = serializers.CharField(required=False)
    until = serializers.CharField(required=False)

    def validate_since(self, value: str) -> dt.datetime:
        return parse_moment(value)

    def validate_until(self, value: str) -> dt.datetime:
        return parse_moment(value, end=True)


class AuditFilterSerializer(MomentRangeSerializer):
    action = serializers.CharField(required=False, max_length=64)
    actor = serializers.CharField(required=False, max_length=200)
    target_type = serializers.CharField(required=False, max_length=64)
    target_id = serializers.CharField(required=False, max_length=64)


class AuditPagination(SignedCursorPagination):
    # seq is unique within the (single) tenant a page is scoped to: a stable cursor.
    ordering = "-seq"
    max_page_size = 500


EVENT_EXAMPLE = {
    "id": 9812,
    "seq": 41,
    "action": "api_key.revoked",
    "actor": {"kind": "user", "id": "3", "label": "user:alice"},
    "target": {"type": "api_key", "id": "12"},
    "payload": {
        "prefix": "a1b2c3d4e5f6",
        "before": {"revoked_at": None},
        "after": {"revoked_at": "2026-05-04T10:15:00Z"},
    },
    "request_id": "5f0c2b…",
    "ip": "203.0.113.9",
    "created_at": "2026-05-04T10:15:00.123456Z",
    "prev_hash": "3b1f…",
    "hash": "9c4e…",
}


@extend_schema_view(
    list=extend_schema(
        summary="The audit trail, newest first, filtered",
        parameters=[AuditFilterSerializer],
        examples=[OpenApiExample("An event", value=EVENT_EXAMPLE, response_only=True)],
    ),
    retrieve=extend_schema(
        summary="One audit event", examples=[OpenApiExample("An event", value=EVENT_EXAMPLE, response_only=True)]
    ),
)
class AuditEventViewSet(TenantScopedReadViewSet):
    """Filters: `action` (exact, or a prefix ending in '.'), `actor` (label or kind:id), `target_type`,
    `target_id`, `since`/`until` (ISO dates or datetimes; a date `until` includes that day)."""

    serializer_class = AuditEventSerializer
    pagination_class = AuditPagination
    required_scopes = {"*": Scope.ADMIN}

    def scoped_queryset(self, tenant: Tenant) -> QuerySet[AuditEvent]:
        if self.action != "list":
            return audit_events_for_tenant(tenant=tenant)
        filters = AuditFilterSerializer(data=self.request.query_params)
        filters.is_valid(raise_exception=True)
        return audit_events_for_tenant(tenant=tenant, **filters.validated_data)

    @extend_schema(
        summary="The chain head (sequence number and hash) to pin against later exports",
        responses=inline_serializer(
            "AuditChainHead",
            {"tenant": serializers.CharField(), "seq": serializers.IntegerField(), "hash": serializers.CharField()},
        ),
        examples=[OpenApiExample("Head", value={"tenant": "acme", "seq": 41, "hash": "9c4e…"}, response_only=True)],
    )
    @action(detail=False, methods=["get"], url_path="head")
    def chain_head(self, request: Request) -> Response:
        """The chain head to pin (compare with a later `audit_export`)."""
        seq, head_hash = audit_chain_head(tenant=self.tenant)
        return Response({"tenant": self.tenant.slug, "seq": seq, "hash": head_hash})
