"""Review endpoints: the queue, the decisions on a version, and each version's decision history.

GET  /reviews                                      versions waiting for review, oldest first (reviews:write)
POST /assets/{id}/versions/{n}/approve             {"comment"?, "approve_over_newer"?}     (reviews:write)
POST /assets/{id}/versions/{n}/reject              {"comment"} (required)                  (reviews:write)
POST /assets/{id}/versions/{n}/publish|unpublish   {"comment"?}                            (reviews:write)
GET  /assets/{id}/versions/{n}/reviews             who decided what, when and why          (jobs:read)

POST /reviews/bulk                                 {"action", "version_ids" | "filter", "comment"?}
                                                   many versions, each decided on its own (reviews:write)

In bulk, the versions are named by id or chosen by a filter (campaign, market, placement, job, collection, status,
assets) through `dam.selectors.review.review_versions`, the review board's own selector. The answer is the
service's report: what was decided, and what was skipped and why (four-eyes, status, another tenant's id).
"""

from __future__ import annotations

from typing import Any, ClassVar

from django.db.models import QuerySet
from drf_spectacular.utils import OpenApiExample, extend_schema, extend_schema_view, inline_serializer
from rest_framework import exceptions, mixins, serializers
from rest_framework.request import Request
from rest_framework.response import Response

from dam.api.assets import CHECKS_HELP, VERSION_FACTS, VersionFieldsMixin, viewer_context
from dam.blobs import blob_url
from dam.lifecycle import ReviewAction, VersionStatus, review_action_sources
from dam.models import AssetVersion, ReviewDecision
from dam.selectors.review import CHECKS_FILTERS, ReviewFilters, review_versions
from dam.services.review import (
    MAX_BULK_VERSIONS,
    BulkSkip,
    Reviewer,
    review_decisions,
    review_queue,
    version_approve,
    version_of_asset,
    version_publish,
    version_reject,
    version_unpublish,
    versions_review_bulk,
)
from tenants.api.base import TenantScopedAPIView, TenantScopedViewSet
from tenants.api.pagination import StableCursorPagination
from tenants.api.serializers import InputSerializer
from tenants.audit import Actor, RequestOrigin
from tenants.errors import ServiceError
from tenants.models import Scope, Tenant


class OldestFirstPagination(StableCursorPagination):
    ordering = "id"


VERDICT_EXAMPLE = {
    "stage": "output",
    "target": "output 4b1f…/0",
    "decision": "flag",
    "backend": "azure",
    "latency_ms": 41,
    "categories": {
        "hate": {"severity": 0, "threshold": 4, "blocked": False},
        "sexual": {"severity": 0, "threshold": 4, "blocked": False},
        "violence": {"severity": 2, "threshold": 4, "blocked": False},
        "self_harm": {"severity": 0, "threshold": 4, "blocked": False},
    },
    "blocklist_matches": [],
    "prompt_attack": None,
    "analysed": True,
    "reasons": ["violence severity 2 below the output threshold 4"],
    "safety_config_version": 3,
}
REVIEW_ITEM_EXAMPLE = {
    "id": 812,
    "asset": 311,
    "asset_title": "Trail shoe on wet rock [ja]",
    "version": 1,
    "status": "needs_review",
    "locale": "ja",
    "width": 1536,
    "height": 1024,
    "format": "png",
    "url": "/media/tenants/1/originals/9f/9f86d0….png",
    "renditions": [],
    "job_id": 97,
    "compiled_prompt": "Brand style guide …",
    "safety_verdicts": [VERDICT_EXAMPLE],
    "safety_config_version": 3,
    "brand_policy_version": 5,
    "requested_by": "api-key:k3x9",
    "requested_by_person": "alice",
    "created_at": "2026-11-25T09:00:00Z",
}
DECISION_EXAMPLE = {
    "id": 55,
    "asset": 311,
    "version": 1,
    "action": "approve",
    "from_status": "needs_review",
    "to_status": "approved",
    "comment": "On brand",
    "approved_over_newer": False,
    "decided_by": "user:rita",
    "created_at": "2026-11-25T09:05:00Z",
}


class ReviewItemSerializer(VersionFieldsMixin, serializers.ModelSerializer):
    """A version waiting for review, with what a reviewer needs to decide."""

    asset = serializers.IntegerField(source="asset_id")
    asset_title = serializers.CharField(source="asset.title")
    version = serializers.IntegerField(source="number")
    url = serializers.SerializerMethodField()
    renditions = serializers.SerializerMethodField()
    safety_verdicts = serializers.SerializerMethodField()
    checks = serializers.SerializerMethodField(help_text=CHECKS_HELP)
    requested_by = serializers.SerializerMethodField()
    requested_by_person = serializers.SerializerMethodField(
        help_text="Username of the person behind the request (a key's minter, down a chain of keys); null if none."
    )

    class Meta:
        model = AssetVersion
        fields = [
            "id",
            "asset",
            "asset_title",
            "version",
            *VERSION_FACTS,
            "job_id",
            "compiled_prompt",
            "safety_verdicts",
            "safety_config_version",
            "brand_policy_version",
            "requested_by",
            "requested_by_person",
            "created_at",
        ]

    def get_renditions(self, version: AssetVersion) -> list[dict[str, Any]]:
        return [
            {"spec": r.spec, "width": r.width, "height": r.height, "format": r.format, "url": blob_url(r.storage_key)}
            for r in version.renditions.all()
        ]

    def get_requested_by_person(self, version: AssetVersion) -> str | None:
        return version.created_by_person.get_username() if version.created_by_person_id else None

    def get_requested_by(self, version: AssetVersion) -> str | None:
        if not (version.created_by_key_id or version.created_by_id):
            return None
        return Actor.of(user=version.created_by, api_key=version.created_by_key).label


@extend_schema_view(
    list=extend_schema(
        summary="The review queue: versions waiting for a person, oldest first, with their verdicts",
        examples=[OpenApiExample("Queue", value=[REVIEW_ITEM_EXAMPLE], response_only=True)],
    )
)
class ReviewQueueViewSet(mixins.ListModelMixin, TenantScopedViewSet):
    serializer_class = ReviewItemSerializer
    pagination_class = OldestFirstPagination
    required_scopes = {"list": Scope.REVIEWS_WRITE}

    def get_serializer_context(self) -> dict[str, Any]:
        return {**super().get_serializer_context(), **viewer_context(self.request)}

    def scoped_queryset(self, tenant: Tenant) -> QuerySet[AssetVersion]:
        return review_queue(tenant=tenant)


class ReviewDecisionSerializer(serializers.ModelSerializer):
    version = serializers.IntegerField(source="version.number")
    asset = serializers.IntegerField(source="version.asset_id")
    decided_by = serializers.CharField(source="actor_label")

    class Meta:
        model = ReviewDecision
        fields = [
            "id",
            "asset",
            "version",
            "action",
            "from_status",
            "to_status",
            "comment",
            "approved_over_newer",
            "decided_by",
            "created_at",
        ]


class DecisionParams(InputSerializer):
    comment = serializers.CharField(required=False, allow_blank=True, max_length=4000, trim_whitespace=True)
    approve_over_newer = serializers.BooleanField(required=False, default=False)


class _VersionView(TenantScopedAPIView):
    def version(self, pk: int, number: int) -> AssetVersion:
        try:
            return version_of_asset(tenant=self.tenant, asset_id=pk, number=number)
        except AssetVersion.DoesNotExist:
            raise exceptions.NotFound("no such asset version") from None


DECISION_RESULT = inline_serializer(
    "ReviewDecisionResult", {"status": serializers.CharField(), "decision": ReviewDecisionSerializer()}
)


def _decision_schema(action: str, summary: str, request_example: dict[str, Any]):
    return extend_schema(
        summary=summary,
        request=DecisionParams,
        responses={200: DECISION_RESULT},
        examples=[
            OpenApiExample(f"{action} request", value=request_example, request_only=True),
            OpenApiExample(
                f"{action} result",
                value={"status": DECISION_EXAMPLE["to_status"], "decision": {**DECISION_EXAMPLE, "action": action}},
                response_only=True,
            ),
        ],
    )


class VersionDecisionView(_VersionView):
    review_action: ClassVar[str]
    required_scopes = {"POST": Scope.REVIEWS_WRITE}

    def post(self, request: Request, pk: int, number: int) -> Response:
        version = self.version(pk, number)
        params = DecisionParams(data=request.data)
        params.is_valid(raise_exception=True)
        context = request.tenant_context
        reviewer = Reviewer(user=context.user, api_key=context.api_key)
        comment = params.validated_data.get("comment", "")
        if self.review_action == ReviewAction.APPROVE:
            decision = version_approve(
                version=version,
                reviewer=reviewer,
                comment=comment,
                approve_over_newer=params.validated_data["approve_over_newer"],
            )
        else:
            service = {
                ReviewAction.REJECT: version_reject,
                ReviewAction.PUBLISH: version_publish,
                ReviewAction.UNPUBLISH: version_unpublish,
            }[self.review_action]
            decision = service(version=version, reviewer=reviewer, comment=comment)
        return Response({"status": decision.to_status, "decision": ReviewDecisionSerializer(decision).data})


@extend_schema_view(
    post=_decision_schema(
        "approve",
        "Approve a version waiting for review (not by its requester: four-eyes; 409 while a newer version "
        "waits unless approve_over_newer)",
        {"comment": "On brand", "approve_over_newer": False},
    )
)
class VersionApproveView(VersionDecisionView):
    review_action = ReviewAction.APPROVE


@extend_schema_view(
    post=_decision_schema(
        "reject", "Reject a waiting or approved version (a comment is required)", {"comment": "Logo cropped"}
    )
)
class VersionRejectView(VersionDecisionView):
    review_action = ReviewAction.REJECT


@extend_schema_view(post=_decision_schema("publish", "Publish an approved version", {"comment": "Campaign live"}))
class VersionPublishView(VersionDecisionView):
    review_action = ReviewAction.PUBLISH


@extend_schema_view(post=_decision_schema("unpublish", "Take a published version back to approved", {}))
class VersionUnpublishView(VersionDecisionView):
    review_action = ReviewAction.UNPUBLISH


class VersionReviewHistoryView(_VersionView):
    required_scopes = {"GET": Scope.JOBS_READ}

    @extend_schema(
        summary="Every review decision on a version: who, when, why",
        responses=inline_serializer("ReviewHistory", {"results": ReviewDecisionSerializer(many=True)}),
        examples=[OpenApiExample("History", value={"results": [DECISION_EXAMPLE]}, response_only=True)],
    )
    def get(self, request: Request, pk: int, number: int) -> Response:
        decisions = review_decisions(version=self.version(pk, number)).select_related("version")
        return Response({"results": ReviewDecisionSerializer(decisions, many=True).data})


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
    checks = serializers.ChoiceField(
        choices=list(CHECKS_FILTERS.items()),
        required=False,
        help_text="Versions whose copy and brand checks found something: copy (mismatch or near), brand (a brand "
        "check failed), failed (could not run), pending (still running)",
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
            checks=given.get("checks", ""),
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
