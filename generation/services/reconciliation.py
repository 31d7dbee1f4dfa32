"""Reconciling provisional charges with the provider's per-request usage export.

The provider's usage export (Azure Monitor's RequestResponse log, the OpenAI usage export, or the emulator's
`/_emulator/usage`) names each billed call by the `x-ms-client-request-id` it carried. For each call whose outcome
is unknown here: found and billed (2xx) -> settled (a real charge from the exported usage, the provisional charge
reversed); found and not billed, or absent from an export that covers its time -> released. Each decision is its own
transaction and audited (`ledger.provisional_settled` / `ledger.provisional_released`); running it twice changes
nothing the second time.

Before deciding, calls still `sent` whose run is over (the job ended, or the call is older than any answer could
take) are declared unknown first: before reconciliation every provider answer is a confirmed or a provisional charge.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from generation.lifecycle import TERMINAL_STATES
from generation.models import AttemptState, DeploymentPool, ProviderAttempt
from generation.services.attempts import attempts_declare_unknown
from governance.services.provisional import ledger_provisional_release, ledger_provisional_settle
from tenants.audit import Actor, RequestOrigin
from tenants.errors import ServiceError
from tenants.models import Tenant

MAX_ROWS = 1_000_000
_BILLED = range(200, 300)
# An answer can come this long after its call left (the read timeout, with margin): older `sent` calls are over.
_ANSWER_GRACE = dt.timedelta(seconds=300)


@dataclass(frozen=True)
class UsageRow:
    client_request_id: str
    request_id: str
    status: int
    time: dt.datetime
    operation: str
    input_tokens: int
    output_tokens: int
    text_input_tokens: int | None = None
    image_input_tokens: int | None = None

    def usage(self) -> dict[str, int]:
        """Token counts by kind. Without a split, an edit's input is priced as image input (the dearer kind: an
        upper bound) and a generation's as text (it has no input image)."""
        if self.text_input_tokens is not None or self.image_input_tokens is not None:
            text, image = self.text_input_tokens or 0, self.image_input_tokens or 0
        elif "edit" in self.operation.lower():
            text, image = 0, self.input_tokens
        else:
            text, image = self.input_tokens, 0
        return {"text_input_tokens": text, "image_input_tokens": image, "output_tokens": self.output_tokens}


@dataclass
class ReconcileReport:
    declared_unknown: int = 0
    settled: list[str] = field(default_factory=list)
    released: list[str] = field(default_factory=list)
    still_unknown: list[str] = field(default_factory=list)  # not in the export, and the export does not cover them
    rows: int = 0
    covers_until: dt.datetime | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "rows": self.rows,
            "covers_until": self.covers_until,
            "declared_unknown": self.declared_unknown,
            "settled": len(self.settled),
            "released": len(self.released),
            "still_unknown": len(self.still_unknown),
            "settled_calls": self.settled[:1000],
            "released_calls": self.released[:1000],
            "still_unknown_calls": self.still_unknown[:1000],
        }


def _integer(raw: Any, *, name: str, row: int) -> int:
    try:
        value = int(str(raw).strip() or 0)
    except (TypeError, ValueError):
        raise ServiceError(f"row {row}: {name} must be an integer, got {str(raw)[:40]!r}", field="usage") from None
    if value < 0:
        raise ServiceError(f"row {row}: {name} must not be negative", field="usage")
    return value


def _optional_integer(record: dict, name: str, *, row: int) -> int | None:
    raw = record.get(name)
    return None if raw in (None, "") else _integer(raw, name=name, row=row)


def _moment(raw: Any, *, row: int) -> dt.datetime:
    try:
        moment = dt.datetime.fromisoformat(str(raw).strip().replace("Z", "+00:00"))
    except ValueError:
        raise ServiceError(f"row {row}: time must be an ISO 8601 time, got {str(raw)[:40]!r}", field="usage") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC)


def usage_rows_parse(*, data: str, format: str) -> list[UsageRow]:
    """The export as JSON (a list, or {"data": [...]}) or CSV with a header; errors name the row and the column."""
    if format == "json":
        try:
            parsed = json.loads(data)
        except ValueError as exc:
            raise ServiceError(f"not JSON: {exc}", field="usage") from None
        records = parsed.get("data") if isinstance(parsed, dict) else parsed
        if not isinstance(records, list):
            raise ServiceError("a JSON export is a list of rows, or an object with a `data` list", field="usage")
    elif format == "csv":
        try:
            records = list(csv.DictReader(io.StringIO(data)))
        except csv.Error as exc:  # a NUL byte, an unterminated quote
            raise ServiceError(f"not CSV: {exc}", field="usage") from None
    else:
        raise ServiceError("must be json or csv", field="format")
    if len(records) > MAX_ROWS:
        raise ServiceError(f"at most {MAX_ROWS} rows per reconciliation", field="usage")
    rows = []
    for index, record in enumerate(records, start=1):
        if not isinstance(record, dict):
            raise ServiceError(f"row {index}: must be an object", field="usage")
        client_id = str(record.get("client_request_id") or "").strip()
        if not client_id:
            continue  # a call not made by this platform (nothing to match it with)
        rows.append(
            UsageRow(
                client_request_id=client_id[:128],
                request_id=str(record.get("request_id") or "").strip()[:128] or f"export-{client_id[:100]}",
                status=_integer(record.get("status"), name="status", row=index),
                time=_moment(record.get("time"), row=index),
                operation=str(record.get("operation") or ""),
                input_tokens=_integer(record.get("input_tokens"), name="input_tokens", row=index),
                output_tokens=_integer(record.get("output_tokens"), name="output_tokens", row=index),
                text_input_tokens=_optional_integer(record, "text_input_tokens", row=index),
                image_input_tokens=_optional_integer(record, "image_input_tokens", row=index),
            )
        )
    return rows


def attempts_sweep(*, tenant: Tenant | None = None, now: dt.datetime | None = None) -> int:
    """Calls still `sent` whose run is over become unknown (provisional): their job has ended, or they left
    longer ago than any answer could take. Returns how many."""
    now = now or timezone.now()
    grace = max(_ANSWER_GRACE, dt.timedelta(seconds=settings.FOUNDRY_TIMEOUT_SECONDS * 2))
    attempts = ProviderAttempt.unscoped if tenant is None else ProviderAttempt.objects.for_tenant(tenant)
    stale = attempts.filter(state=AttemptState.SENT).filter(
        Q(job__state__in=TERMINAL_STATES) | Q(sent_at__lt=now - grace)
    )
    # In batches, not one job at a time: a crash can leave hundreds (generation.services.attempts).
    return attempts_declare_unknown(stale=stale, reason="no answer was recorded and its run is over")


def provider_usage_reconcile(
    *,
    rows: Iterable[UsageRow],
    actor: Actor,
    tenant: Tenant | None = None,
    covers_until: dt.datetime | None = None,
    origin: RequestOrigin | None = None,
    own_deployments_only: bool = False,
) -> ReconcileReport:
    """Settle or release the unknown-outcome calls of `tenant` (every tenant's, for an operator) from the export.

    `own_deployments_only` (a tenant's own request): only calls made on the tenant's own deployments (its default
    deployment, or a pool it owns: it pays that provider and holds its export). Calls on the platform's
    deployments are the platform's bill: an operator reconciles them (`manage.py reconcile_provider_usage`), or a
    tenant could release its own provisional charges with an export of its making.

    `covers_until`: the export holds every billed call up to this moment (default: its latest row); a call absent
    from it is released only if it left at least the answer grace before that (its answer would be in it)."""
    rows = list(rows)
    by_call = {row.client_request_id: row for row in rows}
    report = ReconcileReport(rows=len(rows))
    report.covers_until = covers_until or max((row.time for row in rows), default=None)
    report.declared_unknown = attempts_sweep(tenant=tenant)
    attempts = ProviderAttempt.unscoped if tenant is None else ProviderAttempt.objects.for_tenant(tenant)
    if own_deployments_only:
        attempts = attempts.filter(_owned_by(tenant))
    unknown = attempts.filter(state=AttemptState.UNKNOWN).select_related("tenant").order_by("id")
    for attempt in unknown.iterator(chunk_size=500):
        row = by_call.get(attempt.client_request_id)
        if row is not None and row.status in _BILLED:
            _settle(attempt, row, actor=actor, origin=origin)
            report.settled.append(attempt.client_request_id)
        elif row is not None or (
            report.covers_until is not None and attempt.sent_at + _ANSWER_GRACE <= report.covers_until
        ):
            reason = (
                f"the provider's usage export shows it unbilled (HTTP {row.status})"
                if row is not None
                else f"absent from the provider's usage export covering until {report.covers_until.isoformat()}"
            )
            _release(attempt, reason, actor=actor, origin=origin)
            report.released.append(attempt.client_request_id)
        else:
            report.still_unknown.append(attempt.client_request_id)
    return report


def _owned_by(tenant: Tenant | None) -> Q:
    """Attempts on deployments the tenant owns: `tenant-<id>/…` (its own default) or `pool-<id>/…` of a pool it
    owns (the config names `generation.models` gives them)."""
    if tenant is None:
        return Q(pk__in=[])
    owned = Q(deployment__startswith=f"tenant-{tenant.pk}/")
    for pool_id in DeploymentPool.objects.filter(owner=tenant).values_list("pk", flat=True):
        owned |= Q(deployment__startswith=f"pool-{pool_id}/")
    return owned


def _claim(attempt: ProviderAttempt, state: str, *, provider_request_id: str = "") -> bool:
    """Move the attempt out of `unknown` (the row lock orders two reconciliations of one call)."""
    return bool(
        ProviderAttempt.objects.for_tenant(attempt.tenant_id)
        .filter(pk=attempt.pk, state=AttemptState.UNKNOWN)
        .update(state=state, provider_request_id=provider_request_id, resolved_at=timezone.now())
    )


@transaction.atomic
def _settle(attempt: ProviderAttempt, row: UsageRow, *, actor: Actor, origin: RequestOrigin | None) -> None:
    if _claim(attempt, AttemptState.SETTLED, provider_request_id=row.request_id):
        ledger_provisional_settle(
            tenant=attempt.tenant,
            call_id=attempt.client_request_id,
            provider_request_id=row.request_id,
            usage=row.usage(),
            occurred_at=row.time,
            actor=actor,
            source="provider usage export",
            origin=origin,
        )


@transaction.atomic
def _release(attempt: ProviderAttempt, reason: str, *, actor: Actor, origin: RequestOrigin | None) -> None:
    if _claim(attempt, AttemptState.RELEASED):
        ledger_provisional_release(
            tenant=attempt.tenant, call_id=attempt.client_request_id, reason=reason, actor=actor, origin=origin
        )
