"""`GET /api/v1/audit`: the tenant's audit trail, paged newest first and filtered (scope `admin`)."""

from __future__ import annotations

import datetime as dt

from django.db.models import QuerySet
from django.utils import timezone
from rest_framework import mixins, pagination, serializers
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response

from governance.audit import audit_chain_head, audit_events_for_tenant
from governance.models import AuditEvent
from tenants.api_base import TenantScopedViewSet
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


class AuditFilterSerializer(serializers.Serializer):
    action = serializers.CharField(required=False, max_length=64)
    actor = serializers.CharField(required=False, max_length=200)
    target_type = serializers.CharField(required=False, max_length=64)
    target_id = serializers.CharField(required=False, max_length=64)
    since = serializers.CharField(required=False)
    until = serializers.CharField(required=False)

    def validate_since(self, value: str) -> dt.datetime:
        return parse_moment(value)

    def validate_until(self, value: str) -> dt.datetime:
        return parse_moment(value, end=True)


class AuditPagination(pagination.CursorPagination):
    # seq is unique within the (single) tenant a page is scoped to: a stable cursor.
    ordering = "-seq"
    page_size_query_param = "page_size"
    max_page_size = 500


class AuditEventViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, TenantScopedViewSet):
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

    @action(detail=False, methods=["get"], url_path="head")
    def chain_head(self, request: Request) -> Response:
        """The chain head to pin (compare with a later `audit_export`)."""
        seq, head_hash = audit_chain_head(tenant=self.tenant)
        return Response({"tenant": self.tenant.slug, "seq": seq, "hash": head_hash})
