"""Webhooks page: the tenant's endpoints with their recent deliveries; register one (the signing secret
is shown once, in the response, and never stored in the session), edit its URL, description and events,
switch it on or off, rotate its secret, delete it, replay a delivery. Every write is the API's service
(`dam.services.webhooks`), so the same checks (SSRF, events, per-tenant limit) and audit events apply."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.contrib.admin import AdminSite
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseNotAllowed, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import reverse

from dam.models import WebhookDelivery, WebhookEndpoint, WebhookEvent
from dam.services.webhooks import (
    RegisteredEndpoint,
    webhook_delivery_replay,
    webhook_endpoint_create,
    webhook_endpoint_delete,
    webhook_endpoint_rotate_secret,
    webhook_endpoint_update,
)
from tenants.admin.base import require_scope
from tenants.audit import Actor, RequestOrigin
from tenants.errors import ServiceError
from tenants.models import Scope, Tenant

RECENT_DELIVERIES = 5
LIST_URL = "admin:dam_webhookendpoint_changelist"


def _tenant(request: HttpRequest) -> Tenant:
    context = require_scope(request, Scope.ADMIN)
    if context.tenant is None:
        raise PermissionDenied("choose a tenant first")
    return context.tenant


def _page(
    site: AdminSite,
    request: HttpRequest,
    tenant: Tenant,
    *,
    form: dict[str, Any] | None = None,
    errors: dict[str, list[str]] | None = None,
    revealed: RegisteredEndpoint | None = None,
    status: int = 200,
) -> TemplateResponse:
    endpoints = list(WebhookEndpoint.objects.for_tenant(tenant).order_by("-id"))
    deliveries = WebhookDelivery.objects.for_tenant(tenant).order_by("-id")
    rows = [{"endpoint": e, "deliveries": list(deliveries.filter(endpoint=e)[:RECENT_DELIVERIES])} for e in endpoints]
    request.current_app = site.name
    context = {
        **site.each_context(request),
        "title": "Webhooks",
        "rows": rows,
        "events": WebhookEvent.choices,
        "form": form or {"url": "", "description": "", "events": []},
        "errors": errors or {},
        "revealed": revealed,
    }
    return TemplateResponse(request, "admin/dam/webhooks.html", context, status=status)


def webhooks_view(site: AdminSite, request: HttpRequest) -> HttpResponse:
    """The list, and (POST) registering an endpoint."""
    tenant = _tenant(request)
    if request.method != "POST":
        return _page(site, request, tenant)
    form = {
        "url": request.POST.get("url", "").strip(),
        "description": request.POST.get("description", "").strip(),
        "events": request.POST.getlist("events"),
    }
    try:
        registered = webhook_endpoint_create(
            tenant=tenant, **form, actor=Actor.for_user(request.user), origin=RequestOrigin.of(request)
        )
    except ServiceError as exc:
        return _page(site, request, tenant, form=form, errors={exc.field: [exc.message]}, status=400)
    return _page(site, request, tenant, revealed=registered)


def webhook_endpoint_action_view(site: AdminSite, request: HttpRequest, endpoint_id: int) -> HttpResponse:
    """POST `op` = edit | toggle | rotate | delete on one endpoint of the current tenant (else 404)."""
    tenant = _tenant(request)
    if request.method != "POST":
        return HttpResponseNotAllowed(["POST"])
    endpoint = get_object_or_404(WebhookEndpoint.objects.for_tenant(tenant), pk=endpoint_id)
    actor = Actor.for_user(request.user)
    op = request.POST.get("op", "")
    if op == "edit":
        changes = {
            "url": request.POST.get("url", "").strip(),
            "description": request.POST.get("description", "").strip(),
            "events": request.POST.getlist("events"),
        }
        try:
            webhook_endpoint_update(endpoint=endpoint, **changes, actor=actor, origin=RequestOrigin.of(request))
        except ServiceError as exc:
            errors = {f"{endpoint.url} {exc.field}": [exc.message]}
            return _page(site, request, tenant, errors=errors, status=400)
        messages.success(request, f"{changes['url']} saved.")
    elif op == "toggle":
        # The service changes the row as it is now and returns it; `endpoint` is what this request read.
        toggled = webhook_endpoint_update(
            endpoint=endpoint, active=not endpoint.active, actor=actor, origin=RequestOrigin.of(request)
        )
        messages.success(request, f"{toggled.url} is {'active' if toggled.active else 'paused'}.")
    elif op == "rotate":
        rotated = webhook_endpoint_rotate_secret(endpoint=endpoint, actor=actor, origin=RequestOrigin.of(request))
        return _page(site, request, tenant, revealed=rotated)
    elif op == "delete":
        url = endpoint.url
        webhook_endpoint_delete(endpoint=endpoint, actor=actor, origin=RequestOrigin.of(request))
        messages.success(request, f"{url} deleted, with its delivery log.")
    else:
        raise Http404("no such action")
    return HttpResponseRedirect(reverse(LIST_URL))


def webhook_delivery_replay_view(site: AdminSite, request: HttpRequest, delivery_id: int) -> HttpResponse:
    tenant = _tenant(request)
    if request.method != "POST":
        return HttpResponseNotAllowed(["POST"])
    delivery = get_object_or_404(WebhookDelivery.objects.for_tenant(tenant).select_related("endpoint"), pk=delivery_id)
    replay = webhook_delivery_replay(
        delivery=delivery, actor=Actor.for_user(request.user), origin=RequestOrigin.of(request)
    )
    messages.success(request, f"{delivery.event} queued again for {delivery.endpoint.url} (delivery {replay.pk}).")
    return HttpResponseRedirect(reverse(LIST_URL))
