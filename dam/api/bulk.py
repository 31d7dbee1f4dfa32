"""`POST /api/v1/assets/bulk`: tag, untag, move, set the publish window of, archive or unarchive many assets.

The selection is a list of ids or a filter (the library search's own filters, `dam.selectors.search`).
The work is `dam.services.bulk.assets_bulk_update`: one transaction and one audit event per asset; the
answer lists what was done and what was skipped, and why. Ids of another tenant are "not found".
"""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError
from drf_spectacular.utils import OpenApiExample, extend_schema
from rest_framework import serializers
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response

from dam.lifecycle import VersionStatus
from dam.models import Asset, Collection
from dam.selectors.search import ARCHIVED_CHOICES, MAX_QUERY_CHARS, AssetFilters, assets_search
from dam.services.bulk import ACTIONS, MAX_BULK_ASSETS, BulkChange, assets_bulk_update
from tenants.api.serializers import InputSerializer
from tenants.audit import Actor, RequestOrigin

MAX_ID = 2**63 - 1


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
        "archive / unarchive (no arguments; to select archived assets by filter, give `archived: true`)",
    )
    ids = serializers.ListField(
        child=serializers.IntegerField(min_value=1, max_value=MAX_ID),
        required=False,
        max_length=MAX_BULK_ASSETS,
        help_text=f"The assets; or `filter`. At most {MAX_BULK_ASSETS}",
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


def selection_from_filter(*, tenant: Any, raw: dict[str, Any]) -> list[int]:
    """The tenant's assets matching the filters, at most MAX_BULK_ASSETS (more is a 400, not a silent cut)."""
    params = {name: value.isoformat() if hasattr(value, "isoformat") else str(value) for name, value in raw.items()}
    filters = AssetFilters.from_query_params(params)
    ids = list(assets_search(tenant=tenant, filters=filters).values_list("pk", flat=True)[: MAX_BULK_ASSETS + 1])
    if len(ids) > MAX_BULK_ASSETS:
        raise ValidationError({"filter": f"matches more than {MAX_BULK_ASSETS} assets: narrow it"})
    return ids


class AssetBulkMixin:
    @extend_schema(
        summary="Tag, untag, move, set the publish window of, archive or unarchive many assets",
        description="One transaction and one audit event per asset. An asset that cannot be changed (not found, "
        "already so (e.g. already archived), no current version, refused by a rule) is skipped and listed with "
        "the reason; the others are changed. Archived assets stay reachable by id but leave the asset list (by "
        "default) and every storefront list; their published byte URLs keep working.",
        request=AssetBulkSerializer,
        responses={200: AssetBulkResultSerializer},
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
        result = assets_bulk_update(
            tenant=tenant,
            asset_ids=ids,
            change=change,
            actor=Actor.from_context(request.tenant_context),
            origin=RequestOrigin.of(request),
        )
        return Response({"matched": len(set(ids)), **result.as_dict()})
