"""What each API operation really accepts and answers, where its view cannot say it by itself.

Views that read a request by hand (a job's JSON, which the job services validate; an API
key's parameters) or answer a dict of their own describe it here, applied to the view with
drf-spectacular's `OpenApiViewExtension`, and the error statuses particular to an operation
are listed by its operation id. The schema test and the fuzzer (tests/fuzz) hold both to
what the API does: a status, field or type missing here fails them.
"""

from __future__ import annotations

from typing import Any

from drf_spectacular.extensions import OpenApiViewExtension
from drf_spectacular.utils import (
    OpenApiExample,
    OpenApiParameter,
    OpenApiResponse,
    extend_schema,
    extend_schema_view,
    inline_serializer,
)
from rest_framework import serializers

from generation.lifecycle import JobState
from generation.requests import BACKGROUNDS, MAX_COPY_CHARS, MAX_N, MAX_PROMPT_CHARS, OUTPUT_FORMATS
from generation.sizing import Quality

# The statuses an operation answers beyond every operation's (400, 401, 403, 404, 406) and
# every body's (413, 415): the services' Conflict (409), PaymentRequired (402), Unprocessable
# (422) and ModerationFailed (503).
_MODERATED = {
    422: "Blocked by the brand policy's banned terms or the safety configuration (`code` says which)",
    503: "Content moderation could not run: nothing passes unchecked, try again shortly",
}
OPERATION_ERRORS: dict[str, dict[int, str]] = {
    "jobs_create": {
        **_MODERATED,
        402: "A hard-stop budget has not enough left this month for the job's estimate",
        409: "The `Idempotency-Key` was used with a different request, or the safety configuration changed meanwhile",
    },
    "jobs_plan_create": _MODERATED,
    "jobs_cancel_create": {409: "The job has finished and cannot be cancelled"},
    "assets_create": {422: "The file is truncated or corrupt, or has too many pixels"},
    "budgets_create": {409: "This scope (tenant or API key) already has a budget: PATCH it"},
    **{
        f"assets_versions_{action}_create": {409: "The version's status does not allow this decision (now)"}
        for action in ("approve", "reject", "publish", "unpublish")
    },
}


def operation_errors(operation_id: str) -> dict[int, str]:
    return OPERATION_ERRORS.get(operation_id, {})


# --- Jobs ------------------------------------------------------------------------------------


class JobRoutingSerializer(serializers.Serializer):
    mode = serializers.ChoiceField(choices=["auto", "tier", "bucket"])
    tier = serializers.CharField(required=False, help_text="With `mode: tier`: a size tier of the model")
    bucket = serializers.IntegerField(required=False, help_text="With `mode: bucket`: a megapixel bucket")


class JobSourceVersionSerializer(serializers.Serializer):
    asset = serializers.IntegerField(help_text="The asset's id")
    version = serializers.IntegerField(required=False, help_text="The version's number; default: the newest")


class JobSubmissionSerializer(serializers.Serializer):
    """The job request `generation.requests.build_job_spec` validates (also the dry-run plan's)."""

    prompt = serializers.CharField(max_length=MAX_PROMPT_CHARS)
    placements = serializers.ListField(
        child=serializers.CharField(), required=False, help_text="Slugs of the tenant's placements to cover"
    )
    size = serializers.CharField(
        required=False, help_text="`WIDTHxHEIGHT` (a legal size of the model) or `auto`; not with `routing`"
    )
    routing = JobRoutingSerializer(required=False, help_text="How to pick sizes; not with `size`")
    quality = serializers.ChoiceField(choices=[q.value for q in Quality], required=False)
    n = serializers.IntegerField(min_value=1, max_value=MAX_N, required=False, default=1)
    output_format = serializers.ChoiceField(choices=list(OUTPUT_FORMATS), required=False)
    output_compression = serializers.IntegerField(min_value=0, max_value=100, required=False, allow_null=True)
    background = serializers.ChoiceField(choices=list(BACKGROUNDS), required=False)
    locales = serializers.DictField(
        child=serializers.CharField(max_length=MAX_COPY_CHARS),
        required=False,
        help_text="BCP 47 tag -> the in-image copy of that locale (one provider call per locale)",
    )
    tags = serializers.ListField(child=serializers.CharField(), required=False)
    collection = serializers.CharField(required=False, allow_null=True, help_text="A collection's slug")
    source_version = JobSourceVersionSerializer(required=False, allow_null=True, help_text="Edit this version")


class JobMultipartSerializer(serializers.Serializer):
    request = serializers.CharField(help_text="The job request as a JSON document")
    mask = serializers.FileField(required=False, help_text="PNG mask with an alpha channel (an edit)")


JOB_EXAMPLE = OpenApiExample(
    "Two placements, Japanese copy",
    value={
        "prompt": "A trail shoe on wet rock",
        "placements": ["hero-4k", "mobile-story"],
        "locales": {"ja": "新登場"},
    },
    request_only=True,
)
JOB_REQUEST = {"application/json": JobSubmissionSerializer, "multipart/form-data": JobMultipartSerializer}

JobPlanSerializer = inline_serializer(
    "JobPlan",
    {
        "size_plan": serializers.JSONField(),
        "provider_calls": serializers.IntegerField(),
        "images": serializers.IntegerField(),
        "estimated_output_tokens": serializers.IntegerField(),
        "quality": serializers.CharField(),
        "output_format": serializers.CharField(),
        "brand_policy_version": serializers.IntegerField(allow_null=True),
        "safety_config_version": serializers.IntegerField(allow_null=True),
        "safety_verdicts": serializers.ListField(child=serializers.DictField()),
    },
)


class JobViewSchema(OpenApiViewExtension):
    target_class = "generation.api.jobs.JobViewSet"

    def view_replacement(self) -> Any:
        from generation.api.jobs import JobSerializer

        @extend_schema_view(
            list=extend_schema(
                parameters=[OpenApiParameter("state", str, enum=JobState.values, description="Only jobs in this state")]
            ),
            create=extend_schema(
                request=JOB_REQUEST,
                responses={202: OpenApiResponse(JobSerializer, description="Accepted: queued for generation")},
                examples=[JOB_EXAMPLE],
            ),
            plan=extend_schema(request=JOB_REQUEST, responses={200: JobPlanSerializer}, examples=[JOB_EXAMPLE]),
            cancel=extend_schema(request=None, responses={200: JobSerializer}),
        )
        class Fixed(self.target_class):  # type: ignore[name-defined]
            pass

        return Fixed


# --- API keys --------------------------------------------------------------------------------


class ApiKeyViewSchema(OpenApiViewExtension):
    target_class = "tenants.api.tenancy.ApiKeyViewSet"

    def view_replacement(self) -> Any:
        from tenants.api.tenancy import ApiKeyCreateSerializer, ApiKeySerializer

        class IssuedApiKeySerializer(ApiKeySerializer):
            token = serializers.CharField(read_only=True, help_text="The key itself: shown once, only its hash is kept")

            class Meta(ApiKeySerializer.Meta):
                fields = [*ApiKeySerializer.Meta.fields, "token"]
                read_only_fields = fields

        @extend_schema_view(
            create=extend_schema(
                request=ApiKeyCreateSerializer,
                responses={201: IssuedApiKeySerializer},
                examples=[
                    OpenApiExample(
                        "A storefront key", value={"name": "web-shop", "scopes": ["assets:read"]}, request_only=True
                    )
                ],
            ),
            revoke=extend_schema(request=None),
        )
        class Fixed(self.target_class):  # type: ignore[name-defined]
            pass

        return Fixed


# --- Assets ----------------------------------------------------------------------------------


class AssetViewSchema(OpenApiViewExtension):
    target_class = "dam.api.assets.AssetViewSet"

    def view_replacement(self) -> Any:
        # The upload is declared in dam.api.library, which cannot import the asset serializer
        # (dam.api.assets imports it): its answers' body is named here, the rest stays there.
        from dam.api.assets import AssetSerializer

        created = OpenApiResponse(AssetSerializer, description="The new asset")
        again = OpenApiResponse(AssetSerializer, description="The same bytes again: the asset made the first time")

        family = OpenApiParameter("family", str, description="Only the assets of this family (its locale variants)")

        @extend_schema_view(
            list=extend_schema(parameters=[family]), create=extend_schema(responses={201: created, 200: again})
        )
        class Fixed(self.target_class):  # type: ignore[name-defined]
            pass

        return Fixed


# --- Placements ------------------------------------------------------------------------------


class PlacementViewSchema(OpenApiViewExtension):
    target_class = "tenants.api.brand.PlacementViewSet"

    def view_replacement(self) -> Any:
        archived = OpenApiParameter("archived", str, enum=["1"], description="`1`: archived placements too")

        @extend_schema_view(list=extend_schema(parameters=[archived]), archive=extend_schema(request=None))
        class Fixed(self.target_class):  # type: ignore[name-defined]
            pass

        return Fixed
