"""Budgets page: the tenant's budgets (tenant-wide and per API key) with this month's charged, held and
remaining amounts (`budget_status`), and a form that creates or changes one through `budget_set`, the
service the API calls (validated and audited there)."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import Any

from django.contrib import messages
from django.contrib.admin import AdminSite
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import reverse

from governance.admin.policies import _errors, _tenant
from governance.services.budgets import budget_set, budget_status, budgets_for_tenant
from tenants.admin.base import page_context
from tenants.audit import Actor, RequestOrigin
from tenants.models import ApiKey, Tenant
from tenants.numbers import is_digits

# The service's field names in the form's words, for the error summary.
FIELD_LABELS = {
    "api_key": "Scope",
    "monthly_limit_usd": "Monthly limit",
    "alert_threshold_percent": "Alert at",
    "hard_stop": "Hard stop",
    "active": "Active",
}
DEFAULTS = {"api_key": "", "monthly_limit_usd": "", "alert_threshold_percent": "80", "hard_stop": True, "active": True}


def _parse(tenant: Tenant, post: Any) -> tuple[dict[str, Any], ApiKey | None, dict[str, list[str]]]:
    """The form's values for `budget_set`, the API key it names, and the errors found before the service."""
    errors: dict[str, list[str]] = {}
    values: dict[str, Any] = {"hard_stop": post.get("hard_stop") == "on", "active": post.get("active") == "on"}
    raw_limit = post.get("monthly_limit_usd", "").strip().lstrip("$").replace(",", "")
    try:
        values["monthly_limit_usd"] = Decimal(raw_limit)
        if not values["monthly_limit_usd"].is_finite():
            raise InvalidOperation
    except InvalidOperation:
        errors["monthly_limit_usd"] = ["must be an amount in dollars, e.g. 500.00"]
    raw_threshold = post.get("alert_threshold_percent", "").strip()
    if is_digits(raw_threshold):
        values["alert_threshold_percent"] = int(raw_threshold)
    else:
        errors["alert_threshold_percent"] = ["must be an integer from 1 to 100"]
    api_key = None
    raw_key = post.get("api_key", "").strip()
    if raw_key:
        api_key = ApiKey.objects.for_tenant(tenant).filter(pk=raw_key).first() if is_digits(raw_key) else None
        if api_key is None:
            errors["api_key"] = ["no such API key in this tenant"]
    return values, api_key, errors


def budgets_view(site: AdminSite, request: HttpRequest) -> HttpResponse:
    tenant = _tenant(request)
    errors: dict[str, list[str]] = {}
    form: dict[str, Any] = dict(DEFAULTS)
    if request.method == "POST":
        form = {key: request.POST.get(key, "") for key in DEFAULTS} | {
            "hard_stop": request.POST.get("hard_stop") == "on",
            "active": request.POST.get("active") == "on",
        }
        values, api_key, errors = _parse(tenant, request.POST)
        if not errors:
            try:
                budget = budget_set(
                    tenant=tenant,
                    actor=Actor.for_user(request.user),
                    api_key=api_key,
                    origin=RequestOrigin.of(request),
                    **values,
                )
            except ValidationError as exc:
                errors = _errors(exc)
            else:
                scope = f"API key {api_key.prefix}…" if api_key else "the tenant"
                messages.success(request, f"Budget for {scope} saved: ${budget.monthly_limit_usd:,.2f} a month.")
                return HttpResponseRedirect(reverse("admin:governance_budget_changelist"))
    budgets = list(budgets_for_tenant(tenant=tenant))
    editing = next((b for b in budgets if str(b.pk) == request.GET.get("edit", "")), None)
    if editing is not None and request.method != "POST":
        form = {
            "api_key": str(editing.api_key_id or ""),
            "monthly_limit_usd": str(editing.monthly_limit_usd),
            "alert_threshold_percent": str(editing.alert_threshold_percent),
            "hard_stop": editing.hard_stop,
            "active": editing.active,
        }
    rows = [{"budget": budget, "status": budget_status(budget=budget)} for budget in budgets]
    page = page_context(
        site,
        request,
        title="Budgets",
        rows=rows,
        period=rows[0]["status"].period if rows else None,
        api_keys=ApiKey.objects.for_tenant(tenant).order_by("name", "id"),
        form=form,
        editing=editing,
        errors=errors,
        error_list=[
            (FIELD_LABELS.get(name, name.replace("_", " ").capitalize()), "; ".join(msgs))
            for name, msgs in errors.items()
        ],
    )
    return TemplateResponse(request, "admin/governance/budgets.html", page, status=400 if errors else 200)
