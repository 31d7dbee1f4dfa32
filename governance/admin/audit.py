"""The audit viewer: a tenant's audit events filtered by actor, action, target and date, the chain's
verification status (`audit_verify`, as `manage.py audit_verify`) and the JSON Lines export (`audit_export`)."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

from django.contrib.admin import AdminSite
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.db import connection, transaction
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from django.utils import timezone
from django.utils.dateparse import parse_date

from governance.models import AuditEvent
from governance.periods import zone
from governance.services.audit import audit_events_for_tenant, audit_export_lines, audit_verify
from tenants.admin.base import page_context, require_scope
from tenants.models import Scope, Tenant

PAGE_SIZE = 50
FILTERS = ("actor", "action", "target_type", "target_id", "since", "until")


def _day_start(raw: str, tenant: Tenant, *, next_day: bool = False) -> dt.datetime | None:
    day = parse_date(raw or "") if raw else None
    if day is None:
        return None
    if next_day:
        day += dt.timedelta(days=1)
    return dt.datetime.combine(day, dt.time.min, tzinfo=zone(tenant.time_zone))


def filtered_events(tenant: Tenant, params: Any) -> Any:
    actor = params.get("actor", "").strip()
    # The table shows labels ("user:alice"); the selector reads "user:<digits>" as kind and id.
    by_label = bool(actor) and not actor.partition(":")[2].isdigit()
    events = audit_events_for_tenant(
        tenant=tenant,
        actor=None if by_label else (actor or None),
        action=params.get("action", "").strip() or None,
        target_type=params.get("target_type", "").strip() or None,
        target_id=params.get("target_id", "").strip() or None,
        since=_day_start(params.get("since", ""), tenant),
        until=_day_start(params.get("until", ""), tenant, next_day=True),  # the "until" day is included
    )
    if by_label:
        events = events.filter(actor_label=actor)
    return events.order_by("-seq")


def audit_log_view(site: AdminSite, request: HttpRequest) -> HttpResponse:
    context = require_scope(request, Scope.ADMIN)
    tenant = context.tenant
    if tenant is None:
        raise PermissionDenied("choose a tenant to see its audit trail")
    if request.GET.get("export") == "jsonl":
        return _export(tenant)
    events = filtered_events(tenant, request.GET)
    page = Paginator(events, PAGE_SIZE).get_page(request.GET.get("page"))
    tenant_events = AuditEvent.objects.for_tenant(tenant)
    query = request.GET.copy()
    query.pop("page", None)
    rows = [{"event": e, "payload": json.dumps(e.payload, indent=1, ensure_ascii=False, sort_keys=True)} for e in page]
    return TemplateResponse(
        request,
        "admin/governance/audit_log.html",
        page_context(
            site,
            request,
            title="Audit trail",
            page=page,
            rows=rows,
            filters={name: request.GET.get(name, "") for name in FILTERS},
            actions=sorted(set(tenant_events.values_list("action", flat=True).distinct())),
            target_types=sorted(set(tenant_events.values_list("target_type", flat=True).distinct())),
            # From the latest checkpoint (the daily `audit_verify` pins one): a page view reads the events since,
            # not a history of millions. The full walk is the command's.
            chain=audit_verify(tenant=tenant, since_checkpoint=True),
            query=query.urlencode(),
        ),
    )


def _export(tenant: Tenant) -> HttpResponse:
    outermost = not connection.in_atomic_block
    with transaction.atomic():
        if outermost:
            # One snapshot, as the command takes: the events and the head they end at agree.
            with connection.cursor() as cursor:
                cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY")
        body = "".join(line + "\n" for line in audit_export_lines(tenant=tenant))
    response = HttpResponse(body, content_type="application/x-ndjson; charset=utf-8")
    name = f"audit-{tenant.slug}-{timezone.now():%Y%m%dT%H%M%SZ}.jsonl"
    response["Content-Disposition"] = f'attachment; filename="{name}"'
    return response
