"""The staff UI's home page: one tenant's figures (assets, review queue, jobs, tokens, month-to-date spend
against the budget), or for a superuser who has not chosen a tenant, every tenant's."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from django.db.models import Count, Q, Sum
from django.utils import timezone

from dam.lifecycle import VersionStatus
from dam.models import Asset
from dam.selectors.assets import assets_for_tenant
from generation.lifecycle import JobState
from generation.models import Job, ProviderResponse
from generation.selectors.jobs import jobs_for_tenant
from governance.periods import month_of
from governance.selectors.reports import spend_total
from governance.services.budgets import budget_status, budgets_for_tenant
from tenants.models import Tenant

RECENT_JOBS = 8
RECENT_ASSETS = 12


def _month_start(tenant: Tenant) -> datetime:
    local = timezone.now().astimezone(ZoneInfo(tenant.time_zone))
    return local.replace(day=1, hour=0, minute=0, second=0, microsecond=0)


def tenant_dashboard(tenant: Tenant, *, can_read: bool) -> dict[str, Any]:
    if not can_read:
        return {}
    assets = assets_for_tenant(tenant=tenant)
    jobs = jobs_for_tenant(tenant=tenant)
    job_counts = Job.objects.for_tenant(tenant).aggregate(
        active=Count("id", filter=Q(state__in=[JobState.QUEUED, JobState.RUNNING])),
        failed=Count("id", filter=Q(state=JobState.FAILED)),
        total=Count("id"),
    )
    month_tokens = (
        ProviderResponse.objects.for_tenant(tenant)
        .filter(created_at__gte=_month_start(tenant))
        .aggregate(output=Sum("output_tokens"), total=Sum("total_tokens"), calls=Count("id"))
    )
    return {
        "kpis": {
            "assets": assets.count(),
            "needs_review": assets.filter(current_version__status=VersionStatus.NEEDS_REVIEW).count(),
            "approved": assets.filter(
                current_version__status__in=[VersionStatus.APPROVED, VersionStatus.PUBLISHED]
            ).count(),
            "jobs_active": job_counts["active"],
            "jobs_failed": job_counts["failed"],
            "jobs_total": job_counts["total"],
            "month_output_tokens": month_tokens["output"] or 0,
            "month_total_tokens": month_tokens["total"] or 0,
            "month_calls": month_tokens["calls"],
        },
        "recent_jobs": list(jobs[:RECENT_JOBS]),
        "recent_assets": list(assets[:RECENT_ASSETS]),
    }


def month_spend(tenant: Tenant) -> dict[str, Any]:
    """Month-to-date spend (tenant time zone) and the tenant-wide budget, if one is set."""
    now = timezone.now()
    period = month_of(now, tenant.time_zone)
    today = timezone.localtime(now, ZoneInfo(tenant.time_zone)).date()
    spent = spend_total(tenant=tenant, start=period, end=today)
    budget = budgets_for_tenant(tenant=tenant).filter(api_key__isnull=True, active=True).first()
    status = budget_status(budget=budget, at=now) if budget else None
    percent = None
    if status and status.limit_usd:
        percent = min(100, round(100 * (status.charged_usd + status.held_usd) / status.limit_usd))
    return {"spent_usd": spent, "budget": status, "percent": percent}


def all_tenants_overview() -> list[dict[str, Any]]:
    # A superuser's cross-tenant view: the only reads here that name no tenant, on purpose.
    assets = dict(Asset.unscoped.values_list("tenant_id").annotate(n=Count("id")))
    jobs = dict(Job.unscoped.values_list("tenant_id").annotate(n=Count("id")))
    active = dict(
        Job.unscoped.filter(state__in=[JobState.QUEUED, JobState.RUNNING])
        .values_list("tenant_id")
        .annotate(n=Count("id"))
    )
    return [
        {"tenant": t, "assets": assets.get(t.pk, 0), "jobs": jobs.get(t.pk, 0), "active": active.get(t.pk, 0)}
        for t in Tenant.objects.order_by("name")
    ]
