"""Governance facts shown on the asset page: each version's moderation verdicts and cost, and the
audit events of the asset, its versions and the jobs that made them.

Read only, through governance's selectors, always within the asset's tenant.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

from django.db.models import Q

from dam.models import Asset, AssetVersion
from governance.models import LedgerEntry
from governance.services.audit import audit_events_for_tenant
from governance.services.ledger import ledger_entries_for_tenant

MAX_AUDIT_EVENTS = 100


@dataclass(frozen=True)
class CategoryScore:
    name: str
    severity: int | None
    threshold: int | None
    blocked: bool


@dataclass(frozen=True)
class VerdictRow:
    stage: str
    target: str
    decision: str
    backend: str
    categories: list[CategoryScore]
    reasons: list[str]
    blocklist_matches: list[str]  # the fields that matched; the terms only for those allowed to see them
    safety_config_version: int | None


def version_verdicts(*, version: AssetVersion, show_terms: bool) -> list[VerdictRow]:
    rows = []
    for raw in getattr(version, "safety_verdicts", None) or []:
        if not isinstance(raw, dict):
            continue
        categories = [
            CategoryScore(
                name=name,
                severity=score.get("severity") if isinstance(score, dict) else score,
                threshold=score.get("threshold") if isinstance(score, dict) else None,
                blocked=bool(score.get("blocked")) if isinstance(score, dict) else False,
            )
            for name, score in sorted((raw.get("categories") or {}).items())
        ]
        matches = [
            f"{hit.get('field', '?')}: {hit.get('text')}" if show_terms and hit.get("text") else hit.get("field", "?")
            for hit in raw.get("blocklist_matches") or []
            if isinstance(hit, dict)
        ]
        rows.append(
            VerdictRow(
                stage=str(raw.get("stage", "")),
                target=str(raw.get("target", "")),
                decision=str(raw.get("decision", "")),
                backend=str(raw.get("backend", "")),
                categories=categories,
                reasons=[str(r) for r in raw.get("reasons") or []],
                blocklist_matches=matches,
                safety_config_version=raw.get("safety_config_version"),
            )
        )
    return rows


@dataclass(frozen=True)
class VersionCost:
    """What the provider call that produced a version cost, and this version's share of it."""

    call_usd: Decimal
    images: int
    share_usd: Decimal
    entries: int


def version_costs(*, asset: Asset, versions: list[AssetVersion]) -> dict[int, VersionCost]:
    """version pk -> its cost, from the ledger's charges of the provider responses (with adjustments)."""
    request_ids = {v.provider_request_id for v in versions if v.provider_request_id}
    if not request_ids:
        return {}
    charged: dict[str, dict[str, Any]] = {}
    entries = ledger_entries_for_tenant(tenant=asset.tenant).filter(
        provider_request_id__in=request_ids, kind__in=[LedgerEntry.Kind.CHARGE, LedgerEntry.Kind.ADJUSTMENT]
    )
    for entry in entries:
        row = charged.setdefault(entry.provider_request_id, {"usd": Decimal(0), "images": 0, "entries": 0})
        row["usd"] += entry.amount_usd
        row["images"] = max(row["images"], entry.images)
        row["entries"] += 1
    costs = {}
    for version in versions:
        row = charged.get(version.provider_request_id)
        if row is not None:
            images = max(1, row["images"])
            costs[version.pk] = VersionCost(row["usd"], images, row["usd"] / images, row["entries"])
    return costs


@dataclass(frozen=True)
class AuditRow:
    seq: int
    created_at: datetime
    actor: str
    action: str
    target: str
    payload: dict[str, Any] = field(default_factory=dict)


def asset_audit_events(*, asset: Asset, versions: list[AssetVersion]) -> list[AuditRow]:
    """Events about the asset, any of its versions, or a job that produced one of them; newest first."""
    version_ids = [str(v.pk) for v in versions]
    job_ids = sorted({str(v.job_id) for v in versions if v.job_id})
    is_version = Q(target_type__icontains="version")
    about = (
        (Q(target_type__icontains="asset") & ~is_version & Q(target_id=str(asset.pk)))
        | (is_version & Q(target_id__in=version_ids))
        | (Q(target_type="job") & Q(target_id__in=job_ids))
    )
    events = audit_events_for_tenant(tenant=asset.tenant).filter(about).order_by("-seq")[:MAX_AUDIT_EVENTS]
    return [
        AuditRow(
            seq=event.seq,
            created_at=event.created_at,
            actor=event.actor_label,
            action=event.action,
            target=f"{event.target_type} {event.target_id}".strip(),
            payload=event.payload if isinstance(event.payload, dict) else {},
        )
        for event in events
    ]
