"""Bulk review decisions: one call decides many versions, each on its own.

POST /reviews/bulk   {"action", "version_ids" | "filter", "comment"?}   (reviews:write)

The versions are named by id or chosen by a filter (campaign, market, placement, job, collection, status,
assets) through `dam.selectors.review.review_versions`, the review board's own selector. The answer is the
service's report: what was decided, and what was skipped and why (four-eyes, status, another tenant's id).
"""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import OpenApiExample, extend_schema
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response

from dam.lifecycle import ReviewAction, VersionStatus, review_action_sources
from dam.selectors.review import ReviewFilters, review_versions
from dam.services.review import MAX_BULK_VERSIONS, BulkSkip, Reviewer, versions_review_bulk
from tenants.api.base import TenantScopedAPIView
from tenants.api.serializers import InputSerializer
from tenants.audit import RequestOrigin
from tenants.errors import ServiceError
from tenants.models import Scope

_ID = {"min_value": 1, "max_value": 2**63 - 1}  # a bigint: a larger number is a 400, not a database error


class BulkFilterParams(InputSerializer):
    """Which versions, instead of listing their ids: every field given narrows the selection."""

    status = serializers.MultipleChoiceField(
        choices=VersionStatus.choices,
        required=False,
        help_text="Version statuses; default: those the action applies to (approve: needs_review, "
        "publish: approved, ...)",
    )
    campaign_id = serializers.IntegerField(required=False, help_text="The campaign the assets belong to", **_ID)
    locale = serializers.CharField(required=False, max_length=16, help_text="The market (locale), e.g. de-DE")
    placement = serializers.SlugField(required=False, max_length=63, help_text="A placement's slug")
    job = serializers.IntegerField(required=False, help_text="The job that generated the versions", **_ID)
    collection = serializers.SlugField(required=False, max_length=100, help_text="A collection's slug")
    asset_ids = serializers.ListField(
        child=serializers.IntegerField(**_ID), required=False, allow_empty=False, max_length=MAX_BULK_VERSIONS
    )


class BulkReviewParams(InputSerializer):
    action = serializers.ChoiceField(choices=ReviewAction.choices)
    version_ids = serializers.ListField(
        child=serializers.IntegerField(**_ID),
        required=False,
        allow_empty=False,
        max_length=MAX_BULK_VERSIONS,
        help_text=f"The versions' ids (at most {MAX_BULK_VERSIONS}); or give `filter`",
    )
    filter = BulkFilterParams(required=False, help_text="Select the versions by filter instead of by id")
    comment = serializers.CharField(
        required=False,
        allow_blank=True,
        max_length=4000,
        help_text="One comment for every decision; required to reject",
    )

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if ("version_ids" in attrs) == ("filter" in attrs):
            raise serializers.ValidationError({"version_ids": "give either version_ids or filter, not both"})
        return attrs


class BulkSkippedSerializer(serializers.Serializer):
    version_id = serializers.IntegerField()
    reason = serializers.ChoiceField(choices=[(r.value, r.value) for r in BulkSkip])
    detail = serializers.CharField()


class BulkReviewReportSerializer(serializers.Serializer):
    action = serializers.ChoiceField(choices=ReviewAction.choices)
    requested = serializers.IntegerField(help_text="How many versions were asked for (after removing repeats)")
    done = serializers.ListField(child=serializers.IntegerField(), help_text="Ids of the versions decided")
    skipped = BulkSkippedSerializer(many=True, help_text="Versions left as they were, each with the reason")


BULK_REPORT_EXAMPLE = {
    "action": "approve",
    "requested": 4,
    "done": [812, 813],
    "skipped": [
        {
            "version_id": 814,
            "reason": "four_eyes",
            "detail": "the requester of this version may not approve it (four-eyes: …): another reviewer must decide",
        },
        {"version_id": 815, "reason": "wrong_status", "detail": "a approved version cannot be approved"},
    ],
}


class BulkReviewView(TenantScopedAPIView):
    """Many review decisions in one call: each version decided on its own (four-eyes per version)."""

    required_scopes = {"POST": Scope.REVIEWS_WRITE}

    @extend_schema(
        summary="Approve, reject, publish or unpublish many versions at once (by ids or by filter); "
        "four-eyes per version: what could not be decided is listed with the reason",
        request=BulkReviewParams,
        responses={200: BulkReviewReportSerializer},
        examples=[
            OpenApiExample(
                "approve by ids", value={"action": "approve", "version_ids": [812, 813, 814, 815]}, request_only=True
            ),
            OpenApiExample(
                "reject a campaign's market",
                value={"action": "reject", "filter": {"campaign_id": 7, "locale": "de-DE"}, "comment": "Wrong logo"},
                request_only=True,
            ),
            OpenApiExample("report", value=BULK_REPORT_EXAMPLE, response_only=True),
        ],
    )
    def post(self, request: Request) -> Response:
        params = BulkReviewParams(data=request.data)
        params.is_valid(raise_exception=True)
        data = params.validated_data
        action = data["action"]
        version_ids = self._matching(action, data["filter"]) if "filter" in data else data["version_ids"]
        context = request.tenant_context
        report = versions_review_bulk(
            tenant=self.tenant,
            action=action,
            version_ids=version_ids,
            reviewer=Reviewer(user=context.user, api_key=context.api_key),
            comment=data.get("comment", ""),
            origin=RequestOrigin.of(request),
        )
        return Response(BulkReviewReportSerializer(report.as_dict()).data)

    def _matching(self, action: str, given: dict[str, Any]) -> list[int]:
        statuses = tuple(given.get("status") or review_action_sources(action)[0])
        filters = ReviewFilters(
            statuses=tuple(sorted(statuses)),
            campaign_id=given.get("campaign_id"),
            locale=given.get("locale", "").strip(),
            placement=given.get("placement", ""),
            job_id=given.get("job"),
            collection=given.get("collection", ""),
            asset_ids=tuple(given.get("asset_ids", ())),
        )
        matching = review_versions(tenant=self.tenant, filters=filters).values_list("id", flat=True)
        ids = list(matching[: MAX_BULK_VERSIONS + 1])
        if not ids:
            raise ServiceError("no version matches the filter", field="filter", code="empty_selection")
        if len(ids) > MAX_BULK_VERSIONS:
            raise ServiceError(
                f"the filter matches more than {MAX_BULK_VERSIONS} versions: narrow it (a market, a placement)",
                field="filter",
                code="too_many",
            )
        return ids
