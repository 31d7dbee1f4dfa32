"""The generate page (form, live size plan, submission) and the job page with its live progress.

The page submits through `generation.services.submission.job_submit` and plans through `job_plan`, the
services behind `POST /api/v1/jobs` and `/api/v1/jobs/plan`: one set of rules for both.
"""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING, Any

from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseNotAllowed, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils import timezone

from dam.models import AssetVersion, Collection
from generation.admin.forms import (
    QUALITIES,
    ROUTING_MODES,
    SIZE_SUGGESTIONS,
    GenerateFormState,
    error_fields,
    field_label,
    form_state,
    job_request,
    mask_bytes,
)
from generation.estimates.jobs import job_cost_estimate
from generation.lifecycle import TERMINAL_STATES, GenerationState, JobState
from generation.models import Job
from generation.planning import TOKEN_BUCKETS, Tier
from generation.requests import OUTPUT_FORMATS
from generation.selectors.jobs import job_outputs, job_usage
from generation.services.submission import job_cancel, job_plan, job_submit
from governance.services.ledger import ledger_for_job
from tenants.admin.base import admin_tenant_context, require_scope
from tenants.audit import Actor, RequestOrigin
from tenants.errors import Conflict, ServiceError
from tenants.models import Scope, Tenant
from tenants.numbers import is_digits
from tenants.selectors import brand_policy_current, placements_for_tenant

if TYPE_CHECKING:
    from generation.admin.jobs import JobAdmin

COMMON_LOCALES = ("en", "en-GB", "de", "fr", "es", "it", "pt-BR", "nl", "pl", "ja", "ko", "zh", "zh-Hant", "hi", "bn")
POLL_SECONDS = 1


def _page(model_admin: JobAdmin, request: HttpRequest, **context: Any) -> dict[str, Any]:
    request.current_app = model_admin.admin_site.name
    return {**model_admin.admin_site.each_context(request), "opts": model_admin.model._meta, **context}


# --- generate ------------------------------------------------------------------------------


def _initial_state(tenant: Tenant, request: HttpRequest) -> GenerateFormState:
    policy = brand_policy_current(tenant=tenant)
    return GenerateFormState(
        quality=policy.default_quality if policy else "high",
        output_format=policy.default_output_format if policy else "png",
        locales=[(code, "") for code in (policy.default_locales if policy else [])],
        source_asset=request.GET.get("asset", ""),
        source_version=request.GET.get("version", ""),
        idempotency_key=uuid.uuid4().hex,
    )


def _source_preview(tenant: Tenant, state: GenerateFormState) -> AssetVersion | None:
    if not is_digits(state.source_asset):
        return None
    versions = AssetVersion.objects.for_tenant(tenant).filter(asset_id=int(state.source_asset)).select_related("asset")
    if is_digits(state.source_version):
        return versions.filter(number=int(state.source_version)).first()
    return versions.order_by("-number").first()


def _generate_context(
    model_admin: JobAdmin, request: HttpRequest, tenant: Tenant, state: GenerateFormState, errors: dict
) -> dict[str, Any]:
    policy = brand_policy_current(tenant=tenant)
    return _page(
        model_admin,
        request,
        title="Generate",
        state=state,
        errors=errors,
        placements=list(placements_for_tenant(tenant=tenant)),
        policy=policy,
        source=_source_preview(tenant, state),
        qualities=QUALITIES,
        routing_modes=ROUTING_MODES,
        tiers=[t.value for t in Tier],
        buckets=TOKEN_BUCKETS,
        output_formats=OUTPUT_FORMATS,
        size_suggestions=SIZE_SUGGESTIONS,
        common_locales=COMMON_LOCALES,
        collections=_collection_slugs(tenant),
        plan=_plan_or_errors(tenant, state, request) if request.method == "GET" and state.prompt else None,
    )


def _collection_slugs(tenant: Tenant) -> list[str]:
    return list(Collection.objects.for_tenant(tenant).order_by("slug").values_list("slug", flat=True)[:200])


def generate_view(model_admin: JobAdmin, request: HttpRequest) -> HttpResponse:
    context = require_scope(request, Scope.JOBS_WRITE)
    tenant = context.tenant
    if tenant is None:
        return TemplateResponse(request, "admin/generation/job/choose_tenant.html", _page(model_admin, request))
    if request.method == "GET":
        state = _initial_state(tenant, request)
        return TemplateResponse(
            request, "admin/generation/job/generate.html", _generate_context(model_admin, request, tenant, state, {})
        )
    if request.method != "POST":
        return HttpResponseNotAllowed(["GET", "POST"])
    state = form_state(request.POST)
    try:
        submission = job_submit(
            tenant=tenant,
            body=job_request(state),
            requested_by=request.user,
            # The form carries a key made when it was rendered: a double click or a resubmitted
            # page returns the job already created instead of paying twice.
            idempotency_key=f"admin-form-{state.idempotency_key}" if state.idempotency_key else None,
            mask=mask_bytes(request.FILES.get("mask")),
            origin=RequestOrigin.of(request),
            default_priority="interactive",  # someone is looking at the page, waiting for it
        )
    except Conflict as exc:
        if exc.code != "idempotency":
            raise
        state.idempotency_key = uuid.uuid4().hex
        errors = {
            "non_field_errors": ["This form was already submitted with other values. Submit again to start a new job."]
        }
        page = _generate_context(model_admin, request, tenant, state, errors)
        return TemplateResponse(request, "admin/generation/job/generate.html", page, status=409)
    except (ServiceError, ValidationError) as exc:
        page = _generate_context(model_admin, request, tenant, state, error_fields(exc))
        return TemplateResponse(request, "admin/generation/job/generate.html", page, status=400)
    job = submission.job
    if submission.created:
        messages.success(request, f"Job #{job.pk} submitted: {job.generations.count()} provider call(s).")
    return HttpResponseRedirect(reverse("admin:generation_job_change", args=[job.pk]))


def _plan_or_errors(tenant: Tenant, state: GenerateFormState, request: HttpRequest) -> dict[str, Any]:
    try:
        resolved = job_plan(
            tenant=tenant, body=job_request(state), actor=Actor.for_user(request.user), origin=RequestOrigin.of(request)
        )
    except (ServiceError, ValidationError) as exc:
        errors = error_fields(exc)
        # Only a missing prompt is a hint rather than an error: a refused one (a banned term, a bidi control)
        # must say why while the user types, under the name the form gives the field.
        return {
            "errors": errors,
            "error_list": [(field_label(name), message) for name, messages in errors.items() for message in messages],
            "needs_prompt": set(errors) == {"prompt"} and not state.prompt.strip(),
        }
    spec = resolved.spec
    locales = list(spec.locales) or [""]
    return {
        "spec": spec,
        "groups": spec.plan.to_dict()["groups"],
        "locales": locales,
        "provider_calls": spec.units,
        "images": spec.units * spec.n,
        "estimated_output_tokens": spec.estimated_output_tokens,
        "money": job_cost_estimate(tenant=tenant, spec=spec, is_edit=resolved.source is not None),
        "policy_version": resolved.policy.version if resolved.policy else None,
        "source": resolved.source,
        "textless_locales": state.textless_locales,
    }


def plan_view(model_admin: JobAdmin, request: HttpRequest) -> HttpResponse:
    """The size plan panel of the generate page (an htmx partial); stores and spends nothing."""
    context = require_scope(request, Scope.JOBS_WRITE)
    if request.method != "POST":
        return HttpResponseNotAllowed(["POST"])
    if context.tenant is None:
        raise PermissionDenied("choose a tenant first")
    plan = _plan_or_errors(context.tenant, form_state(request.POST), request)
    return TemplateResponse(request, "admin/generation/job/plan_panel.html", {"plan": plan})


# --- job page ------------------------------------------------------------------------------


def _job_or_404(model_admin: JobAdmin, request: HttpRequest, job_id: Any) -> Job:
    if not model_admin.has_view_permission(request):
        raise PermissionDenied
    job = model_admin.get_queryset(request).filter(pk=job_id).first() if is_digits(str(job_id)) else None
    if job is None:
        raise Http404("no such job")
    return job


def _progress(job: Job, *, can_cancel: bool, can_see_costs: bool) -> dict[str, Any]:
    units = list(job.generations.order_by("locale", "group_index"))
    stored = sum(1 for unit in units if unit.state == GenerationState.STORED)
    terminal = job.state in TERMINAL_STATES
    ended = job.finished_at or timezone.now()
    return {
        "job": job,
        "units": units,
        "stored": stored,
        "total": len(units),
        "percent": 100 if job.state == JobState.SUCCEEDED else round(100 * stored / max(1, len(units))),
        "terminal": terminal,
        "outputs": list(job_outputs(job=job)),
        "usage": job_usage(job=job),
        "elapsed": (ended - job.started_at).total_seconds() if job.started_at else None,
        "poll_seconds": POLL_SECONDS,
        "can_cancel": can_cancel and not terminal,
        "ledger": ledger_for_job(tenant=job.tenant_id, job_id=job.pk) if can_see_costs else None,
    }


def job_page(model_admin: JobAdmin, request: HttpRequest, object_id: str) -> TemplateResponse:
    job = _job_or_404(model_admin, request, object_id)
    context = admin_tenant_context(request)
    plan = job.size_plan or {}
    page = _page(
        model_admin,
        request,
        title=f"Job #{job.pk}",
        progress=_progress(job, can_cancel=context.can(Scope.JOBS_WRITE), can_see_costs=context.can(Scope.COSTS_READ)),
        groups=plan.get("groups", []),
        can_generate=context.can(Scope.JOBS_WRITE) and context.tenant is not None,
    )
    return TemplateResponse(request, "admin/generation/job/detail.html", page)


def progress_view(model_admin: JobAdmin, request: HttpRequest, job_id: int) -> TemplateResponse:
    job = _job_or_404(model_admin, request, job_id)
    context = admin_tenant_context(request)
    progress = _progress(job, can_cancel=context.can(Scope.JOBS_WRITE), can_see_costs=context.can(Scope.COSTS_READ))
    return TemplateResponse(request, "admin/generation/job/progress.html", {"progress": progress})


def cancel_view(model_admin: JobAdmin, request: HttpRequest, job_id: int) -> HttpResponse:
    job = _job_or_404(model_admin, request, job_id)
    require_scope(request, Scope.JOBS_WRITE)
    if request.method != "POST":
        return HttpResponseNotAllowed(["POST"])
    try:
        job_cancel(job=job, actor=Actor.for_user(request.user), origin=RequestOrigin.of(request))
    except ServiceError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, f"Job #{job.pk} is cancelled or stops before its next provider call.")
    return HttpResponseRedirect(reverse("admin:generation_job_change", args=[job.pk]))
