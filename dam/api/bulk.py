"""`POST /api/v1/assets/bulk`: tag, untag, move, set the publish window of, archive or unarchive many assets;
`GET /api/v1/bulk-operations[/{id}]`: the large ones, run in the background.

The selection is a list of ids or a filter (the library search's own filters, `dam.selectors.search`).
Up to BULK_INLINE_MAX assets the work is done in the request (`dam.services.bulk.assets_bulk_update`: one
transaction and one audit event per asset; 200 with what was done and what was skipped, and why); more is a
bulk operation (`bulk_operation_start`: 202 with the operation, polled at its `Location` until done). Ids of
another tenant are "not found".
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db.models import QuerySet
from drf_spectacular.utils import OpenApiExample, OpenApiResponse, extend_schema, extend_schema_view
from rest_framework import serializers, status
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response

from dam.lifecycle import VersionStatus
from dam.models import Asset, BulkOperation, Collection
from dam.selectors.bulk import bulk_selection
from dam.selectors.search import ARCHIVED_CHOICES, MAX_QUERY_CHARS, AssetFilters
from dam.services.bulk import ACTIONS, BulkChange, assets_bulk_update, bulk_operation_start, bulk_runs_inline
from tenants.api.base import TenantScopedReadViewSet
from tenants.api.serializers import InputSerializer
from tenants.audit import Actor, RequestOrigin
from tenants.models import Scope, Tenant

MAX_ID = 2**63 - 1
MAX_SELECTION = settings.BULK_OPERATION_MAX_ASSETS


class AssetFilterSerializer(InputSerializer):
    q = serializers.CharField(required=False, allow_blank=True, max_length=MAX_QUERY_CHARS)
    collection = serializers.CharField(required=False, allow_blank=True, max_length=63, help_text="Collection slug")
    tag = serializers.CharField(required=False, allow_blank=True, max_length=64)
    locale = serializers.CharField(required=False, allow_blank=True, max_length=16, help_text="Market")
    placement = serializers.CharField(required=False, allow_blank=True, max_length=63, help_text="Placement slug")
    campaign = serializers.IntegerField(required=False, min_value=1, max_value=MAX_ID, help_text="Campaign id")
    status = serializers.ChoiceField(choices=VersionStatus.choices, required=False, allow_blank=True)
    source = serializers.ChoiceField(choices=Asset.Source.choices, required=False, allow_blank=True)
    created_after = serializers.DateField(required=False)
    created_before = serializers.DateField(required=False)
    archived = serializers.ChoiceField(
        choices=ARCHIVED_CHOICES,
        required=False,
        help_text="Archived assets: false (the default) leaves them out, true selects only them, all both",
    )


class AssetBulkSerializer(InputSerializer):
    action = serializers.ChoiceField(
        choices=ACTIONS,
        help_text="tag / untag (`tags`), move (`collection`: a slug, or null for none), "
        "publish_window (`available_from`, `available_until` of each current version; both null removes it), "
        "archive / unarchive (no arguments; to select archived assets by filter, give `archived: true`), "
        "recheck (no arguments: each current version's copy and brand checks run again, in the background; "
        "skipped while its checks run, when blocked, or with nothing to check)",
    )
    ids = serializers.ListField(
        child=serializers.IntegerField(min_value=1, max_value=MAX_ID),
        required=False,
        max_length=MAX_SELECTION,
        help_text=f"The assets; or `filter`. At most {MAX_SELECTION} (BULK_OPERATION_MAX_ASSETS)",
    )
    filter = AssetFilterSerializer(required=False, help_text="Every asset matching the library search's filters")
    tags = serializers.ListField(child=serializers.CharField(max_length=64), required=False, max_length=50)
    collection = serializers.SlugField(required=False, allow_null=True, help_text="A collection slug, or null")
    available_from = serializers.DateTimeField(required=False, allow_null=True)
    available_until = serializers.DateTimeField(required=False, allow_null=True)

    def validate(self, data: dict[str, Any]) -> dict[str, Any]:
        if ("ids" in data) == ("filter" in data):
            raise serializers.ValidationError({"ids": "either ids or filter"})
        needs = {"tag": "tags", "untag": "tags", "move": "collection"}.get(data["action"])
        if needs and needs not in data:
            raise serializers.ValidationError({needs: f"required for {data['action']}"})
        return data


class SkippedAssetSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    title = serializers.CharField(help_text="Empty when the asset was not found")
    reason = serializers.CharField()


class AssetBulkResultSerializer(serializers.Serializer):
    action = serializers.CharField()
    matched = serializers.IntegerField(help_text="Assets selected (ids given or matching the filter)")
    done = serializers.ListField(child=serializers.IntegerField(), help_text="Ids of the assets changed")
    skipped = SkippedAssetSerializer(many=True, help_text="Assets left as they were, each with the reason")


class BulkOperationSerializer(serializers.ModelSerializer):
    done = serializers.IntegerField(source="done_count", help_text="Assets changed so far")
    skipped_count = serializers.IntegerField(read_only=True)
    skipped = serializers.JSONField(help_text="Assets left as they were so far: [{id, title, reason}]")
    percent = serializers.IntegerField(read_only=True, help_text="processed of total, 0-100")
    requested_by = serializers.SerializerMethodField(help_text="Who started it (user:… or api-key:…)")
    status_url = serializers.SerializerMethodField()

    class Meta:
        model = BulkOperation
        fields = [
            "id",
            "action",
            "parameters",
            "state",
            "total",
            "processed",
            "done",
            "skipped_count",
            "skipped",
            "percent",
            "error",
            "requested_by",
            "status_url",
            "created_at",
            "started_at",
            "finished_at",
        ]

    def get_requested_by(self, operation: BulkOperation) -> str:
        return (operation.actor or {}).get("label", "")

    def get_status_url(self, operation: BulkOperation) -> str:
        return f"/api/v1/bulk-operations/{operation.pk}"


class BulkOperationListSerializer(BulkOperationSerializer):
    class Meta(BulkOperationSerializer.Meta):
        fields = [name for name in BulkOperationSerializer.Meta.fields if name != "skipped"]


class BulkOperationStartedSerializer(BulkOperationSerializer):
    matched = serializers.IntegerField(help_text="Assets selected (ids given or matching the filter)")

    class Meta(BulkOperationSerializer.Meta):
        fields = ["matched", *BulkOperationSerializer.Meta.fields]


OPERATION_EXAMPLE = {
    "id": 31,
    "action": "tag",
    "parameters": {"tags": ["summer"]},
    "state": "running",
    "total": 2400,
    "processed": 1130,
    "done": 1128,
    "skipped_count": 2,
    "skipped": [{"id": 4711, "title": "Red sneaker", "reason": "already tagged summer"}],
    "percent": 47,
    "error": "",
    "requested_by": "user:alice",
    "status_url": "/api/v1/bulk-operations/31",
    "created_at": "2026-12-07T09:00:00Z",
    "started_at": "2026-12-07T09:00:00Z",
    "finished_at": None,
}


def selection_from_filter(*, tenant: Any, raw: dict[str, Any]) -> list[int]:
    """The tenant's assets matching the filters, at most BULK_OPERATION_MAX_ASSETS (more is a 400, not a silent
    cut)."""
    params = {name: value.isoformat() if hasattr(value, "isoformat") else str(value) for name, value in raw.items()}
    return bulk_selection(tenant=tenant, filters=AssetFilters.from_query_params(params))


class AssetBulkMixin:
    @extend_schema(
        summary="Tag, untag, move, set the publish window of, archive or unarchive many assets",
        description="One transaction and one audit event per asset. An asset that cannot be changed (not found, "
        "already so (e.g. already archived), no current version, refused by a rule) is skipped and listed with "
        "the reason; the others are changed. Archived assets stay reachable by id but leave the asset list (by "
        "default) and every storefront list; their published byte URLs keep working.\n\n"
        f"Up to {settings.BULK_INLINE_MAX} assets (BULK_INLINE_MAX) the work is done in the request: 200 with the "
        "report. A larger selection is a bulk operation run in the background: 202 with the operation and its "
        "address (`Location`, `status_url`); poll `GET /api/v1/bulk-operations/{id}` for its progress "
        "(`processed` of `total`) and its report (`done`, `skipped` with reasons) until `state` is done or failed.",
        request=AssetBulkSerializer,
        responses={
            200: AssetBulkResultSerializer,
            202: OpenApiResponse(
                BulkOperationStartedSerializer,
                description="A bulk operation was started; its address is in the Location header",
            ),
        },
        examples=[
            OpenApiExample("Tag three", value={"action": "tag", "ids": [12, 13, 14], "tags": ["summer"]}),
            OpenApiExample(
                "Move everything of a market",
                value={"action": "move", "filter": {"locale": "ja-JP", "tag": "summer"}, "collection": "summer-jp"},
            ),
            OpenApiExample("Archive two", value={"action": "archive", "ids": [12, 13]}),
            OpenApiExample(
                "Result",
                value={
                    "action": "tag",
                    "matched": 3,
                    "done": [12, 14],
                    "skipped": [{"id": 13, "title": "Red sneaker", "reason": "already tagged summer"}],
                },
                response_only=True,
            ),
        ],
    )
    @action(detail=False, methods=["post"], url_path="bulk", url_name="bulk")
    def bulk(self, request: Request) -> Response:
        form = AssetBulkSerializer(data=request.data)
        form.is_valid(raise_exception=True)
        data = form.validated_data
        tenant = self.tenant  # type: ignore[attr-defined]
        collection = None
        if data["action"] == "move" and data["collection"] is not None:
            collection = Collection.objects.for_tenant(tenant).filter(slug=data["collection"]).first()
            if collection is None:
                raise ValidationError({"collection": f"no collection {data['collection']!r}"})
        ids = data["ids"] if "ids" in data else selection_from_filter(tenant=tenant, raw=data["filter"])
        change = BulkChange(
            action=data["action"],
            tags=data.get("tags", ()),
            collection=collection,
            available_from=data.get("available_from"),
            available_until=data.get("available_until"),
        )
        context, matched = request.tenant_context, len(set(ids))
        if bulk_runs_inline(matched):
            result = assets_bulk_update(
                tenant=tenant,
                asset_ids=ids,
                change=change,
                actor=Actor.from_context(context),
                origin=RequestOrigin.of(request),
            )
            return Response({"matched": matched, **result.as_dict()})
        operation = bulk_operation_start(
            tenant=tenant,
            asset_ids=ids,
            change=change,
            requested_by=context.user,
            requested_by_key=context.api_key,
            actor=Actor.from_context(context),
            origin=RequestOrigin.of(request),
        )
        operation.matched = matched
        return Response(
            BulkOperationStartedSerializer(operation).data,
            status=status.HTTP_202_ACCEPTED,
            headers={"Location": f"/api/v1/bulk-operations/{operation.pk}"},
        )


@extend_schema_view(
    list=extend_schema(
        summary="The tenant's bulk operations, newest first",
        description="Large bulk actions run in the background (`POST /api/v1/assets/bulk` answered 202). The list "
        "leaves out each operation's skipped assets; read one operation for them.",
        responses={200: BulkOperationListSerializer(many=True)},
    ),
    retrieve=extend_schema(
        summary="One bulk operation: state, progress and report (poll until done or failed)",
        description="`processed` of `total` assets are finished; of those, `done` were changed and `skipped` "
        "were left as they were (with the reason). Each changed asset has its own audit event; the operation "
        "has `bulk.started` and `bulk.finished`.",
        examples=[OpenApiExample("Running", value=OPERATION_EXAMPLE, response_only=True)],
    ),
)
class BulkOperationViewSet(TenantScopedReadViewSet):
    serializer_class = BulkOperationSerializer
    # The bulk endpoint's own scope: who may start one may follow it.
    required_scopes = {"*": Scope.ASSETS_WRITE}

    def scoped_queryset(self, tenant: Tenant) -> QuerySet[BulkOperation]:
        return BulkOperation.objects.for_tenant(tenant).defer("asset_ids").order_by("-id")

    def get_serializer_class(self) -> type[serializers.Serializer]:
        return BulkOperationListSerializer if self.action == "list" else BulkOperationSerializer
