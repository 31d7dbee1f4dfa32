"""Job endpoints: submit (with a dry-run plan), read, list, cancel."""

from __future__ import annotations

from django.db.models import QuerySet
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers, status
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response

from dam.api.assets import (
    CHECKS_HELP,
    VERSION_FACTS,
    RenditionSerializer,
    VersionFieldsMixin,
    verdicts_shown,
    viewer_context,
)
from dam.formats import sniff_format
from dam.models import AssetVersion
from generation.lifecycle import JobState
from generation.models import Job, JobGeneration
from generation.selectors.jobs import job_outputs, job_usage, jobs_for_tenant
from generation.services.submission import job_cancel, job_plan, job_submit
from tenants.api.base import TenantScopedReadViewSet
from tenants.audit import Actor, RequestOrigin
from tenants.errors import ServiceError
from tenants.input_guard import GuardedFormParser, GuardedJSONParser, GuardedMultiPartParser, load_json
from tenants.models import Scope, Tenant

MAX_MASK_BYTES = 16 * 1024 * 1024


class JobGenerationSerializer(serializers.ModelSerializer):
    size = serializers.SerializerMethodField()

    class Meta:
        model = JobGeneration
        fields = ["locale", "group_index", "size", "state", "provider_calls"]

    def get_size(self, unit: JobGeneration) -> str:
        return f"{unit.width}x{unit.height}"


class JobOutputSerializer(VersionFieldsMixin, serializers.ModelSerializer):
    asset = serializers.IntegerField(source="asset_id")
    version = serializers.IntegerField(source="number")
    url = serializers.SerializerMethodField()
    renditions = RenditionSerializer(many=True, read_only=True)
    safety_verdicts = serializers.SerializerMethodField()
    checks = serializers.SerializerMethodField(help_text=CHECKS_HELP)

    class Meta:
        model = AssetVersion
        fields = [
            "id",  # the version's id: the one `/publish-windows/{id}` takes
            "asset",
            "version",
            *VERSION_FACTS,
            "safety_verdicts",
        ]

    # A blocked output is kept for audit, never served: no URL, to anyone (VersionFieldsMixin).


class JobSerializer(serializers.ModelSerializer):
    generations = JobGenerationSerializer(many=True, read_only=True)
    error = serializers.SerializerMethodField()
    safety_config_version = serializers.IntegerField(source="safety_config.version", default=None, read_only=True)
    safety_verdicts = serializers.SerializerMethodField()

    class Meta:
        model = Job
        fields = [
            "id",
            "state",
            "kind",
            "prompt",
            "quality",
            "n",
            "output_format",
            "background",
            "placements",
            "locales",
            "size_plan",
            "estimated_output_tokens",
            "attempts",
            "cancel_requested",
            "generations",
            "error",
            "safety_config_version",
            "safety_verdicts",
            "created_at",
            "started_at",
            "finished_at",
        ]

    def get_safety_verdicts(self, job: Job) -> list[dict]:
        return verdicts_shown(job.safety_verdicts, context=self.context)

    def get_error(self, job: Job) -> dict | None:
        if not job.error_code:
            return None
        return {"code": job.error_code, "message": job.error_message, "detail": job.error_detail}


class JobDetailSerializer(JobSerializer):
    outputs = serializers.SerializerMethodField()
    usage = serializers.SerializerMethodField()

    class Meta(JobSerializer.Meta):
        fields = [*JobSerializer.Meta.fields, "outputs", "usage"]

    @extend_schema_field(JobOutputSerializer(many=True))
    def get_outputs(self, job: Job) -> list[dict]:
        return JobOutputSerializer(job_outputs(job=job), many=True, context=self.context).data

    def get_usage(self, job: Job) -> dict[str, int]:
        return job_usage(job=job)


def _request_body(request: Request) -> tuple[dict, bytes | None]:
    """JSON body, or multipart with a `request` JSON part and an optional `mask` PNG."""
    if request.content_type.startswith("multipart/"):
        body = load_json(request.data.get("request") or "{}", field="request")
        mask_file = request.FILES.get("mask")
        mask = None
        if mask_file is not None:
            if mask_file.size > MAX_MASK_BYTES:
                raise ServiceError(f"at most {MAX_MASK_BYTES // (1024 * 1024)} MB", field="mask")
            mask = mask_file.read()
            if sniff_format(mask) != "png":
                raise ServiceError("must be a PNG with an alpha channel", field="mask")
        return body, mask
    if not isinstance(request.data, dict):
        raise ServiceError("the body must be a JSON object", field="non_field_errors")
    return dict(request.data), None


class JobViewSet(TenantScopedReadViewSet):
    serializer_class = JobSerializer
    parser_classes = [GuardedJSONParser, GuardedMultiPartParser, GuardedFormParser]
    required_scopes = {
        "list": Scope.JOBS_READ,
        "retrieve": Scope.JOBS_READ,
        "plan": Scope.JOBS_READ,
        "create": Scope.JOBS_WRITE,
        "cancel": Scope.JOBS_WRITE,
    }

    def scoped_queryset(self, tenant: Tenant) -> QuerySet[Job]:
        state = self.request.query_params.get("state")
        if state is not None and state not in JobState.values:
            raise ServiceError(f"must be one of {', '.join(JobState.values)}", field="state")
        return jobs_for_tenant(tenant=tenant, state=state)

    def get_serializer_class(self):
        return JobDetailSerializer if self.action == "retrieve" else JobSerializer

    def get_serializer_context(self) -> dict:
        return {**super().get_serializer_context(), **viewer_context(self.request)}

    def create(self, request: Request) -> Response:
        body, mask = _request_body(request)
        context = request.tenant_context
        submission = job_submit(
            tenant=self.tenant,
            body=body,
            requested_by=context.user,
            requested_by_key=context.api_key,
            idempotency_key=request.headers.get("Idempotency-Key"),
            mask=mask,
            origin=RequestOrigin.of(request),
        )
        headers = {"Location": f"/api/v1/jobs/{submission.job.pk}"}
        if not submission.created:
            headers["Idempotent-Replayed"] = "true"
        data = JobSerializer(submission.job, context=self.get_serializer_context()).data
        return Response(data, status=status.HTTP_202_ACCEPTED, headers=headers)

    @action(detail=False, methods=["post"])
    def plan(self, request: Request) -> Response:
        body, _ = _request_body(request)
        resolved = job_plan(
            tenant=self.tenant, body=body, actor=Actor.from_request(request), origin=RequestOrigin.of(request)
        )
        spec = resolved.spec
        return Response(
            {
                "size_plan": spec.plan.to_dict(),
                "provider_calls": spec.units,
                "images": spec.units * spec.n,
                "estimated_output_tokens": spec.estimated_output_tokens,
                "quality": spec.quality,
                "output_format": spec.output_format,
                "brand_policy_version": resolved.policy.version if resolved.policy else None,
                "safety_config_version": resolved.safety_config.version if resolved.safety_config else None,
                "safety_verdicts": verdicts_shown(
                    [v.to_dict() for v in resolved.safety_verdicts], context=self.get_serializer_context()
                ),
            }
        )

    @action(detail=True, methods=["post"])
    def cancel(self, request: Request, pk: str | None = None) -> Response:
        job = job_cancel(job=self.get_object(), actor=Actor.from_request(request), origin=RequestOrigin.of(request))
        return Response(JobSerializer(job, context=self.get_serializer_context()).data)
