"""Reads for jobs."""

from __future__ import annotations

from collections.abc import Sequence

from django.db.models import Count, Prefetch, QuerySet, Sum

from dam.models import AssetVersion, Rendition
from generation.lifecycle import TERMINAL_STATES, GenerationState, JobState
from generation.models import Job, JobGeneration, ProviderResponse
from tenants.models import Tenant


def jobs_for_tenant(*, tenant: Tenant, state: str | None = None) -> QuerySet[Job]:
    jobs = (
        Job.objects.for_tenant(tenant)
        .select_related("safety_config")
        .prefetch_related(Prefetch("generations", queryset=JobGeneration.unscoped.order_by("id")))
    )
    return jobs.filter(state=state) if state else jobs


def job_outputs(*, job: Job) -> QuerySet[AssetVersion]:
    return (
        AssetVersion.objects.for_tenant(job.tenant_id)
        .filter(job_id=job.pk)
        .select_related("asset")
        .prefetch_related(Prefetch("renditions", queryset=Rendition.unscoped.order_by("spec")))
        .order_by("id")
    )


def job_usage(*, job: Job) -> dict[str, int]:
    totals = (
        ProviderResponse.objects.for_tenant(job.tenant_id)
        .filter(job=job)
        .aggregate(
            provider_responses=Count("id"),
            text_input_tokens=Sum("text_input_tokens"),
            image_input_tokens=Sum("image_input_tokens"),
            cached_text_input_tokens=Sum("cached_text_input_tokens"),
            cached_image_input_tokens=Sum("cached_image_input_tokens"),
            output_tokens=Sum("output_tokens"),
            total_tokens=Sum("total_tokens"),
        )
    )
    return {key: value or 0 for key, value in totals.items()}


def job_budget_outcomes(job_ids: Sequence[int]) -> dict[int, str]:
    """For the budget reconciler: settle the holds of succeeded jobs, release those of other finished ones."""
    states = dict(Job.unscoped.filter(pk__in=job_ids).values_list("pk", "state"))
    return {
        pk: "settle" if state == JobState.SUCCEEDED else "release" if state in TERMINAL_STATES else "active"
        for pk, state in states.items()
    }


def response_output_keys_held(keys: list[str]) -> set[str]:
    """Which of these blob keys a recorded provider response of a unit not yet stored points at (any tenant:
    housekeeping). Its images were stored before it was recorded and charged; the unit's next run, or the
    audit of a job that failed before its versions, needs them. A stored unit's versions point at them."""
    wanted = {key for key in keys if "/originals/" in key}
    if not wanted:
        return set()
    held = (
        ProviderResponse.unscoped.filter(generation__state=GenerationState.PENDING)
        .exclude(outputs=[])
        .values_list("outputs", flat=True)
    )
    return {ref.get("key") for outputs in held.iterator(chunk_size=2000) for ref in outputs} & wanted
