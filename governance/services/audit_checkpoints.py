"""Pinned heads of the audit chains: where the next incremental `audit_verify` starts.

A checkpoint is written only from a report of a walk that found the chain intact, with an audit event in the same
transaction. Trade-off (docs/audit-and-costs.md): an incremental run re-reads nothing before the checkpoint, so an
event changed there without re-hashing the chain up to the checkpoint is found only by a full run.
"""

from __future__ import annotations

from django.db import transaction
from django.utils import timezone

from governance.models import AuditCheckpoint
from governance.services.audit import ChainReport
from tenants.audit import Actor, audit


class CheckpointRefused(ValueError):
    """Only an intact walk that reached an event can be pinned."""


def audit_checkpoint_pin(*, report: ChainReport, actor: Actor | None = None) -> AuditCheckpoint:
    """Pin the last event of a successful walk as the tenant's checkpoint, audited as `audit.checkpoint_pinned`."""
    if not report.ok:
        raise CheckpointRefused(f"the chain is broken at {report.first_break}: nothing is pinned")
    if report.head_event_id is None:
        raise CheckpointRefused("the walk reached no event: nothing new to pin")
    with transaction.atomic():
        checkpoint = AuditCheckpoint.objects.for_tenant(report.tenant_id).create(
            tenant_id=report.tenant_id,
            event_id=report.head_event_id,
            seq=report.head_seq,
            hash=report.head_hash,
            verified_at=timezone.now(),
            from_seq=report.start_seq,
            events_verified=report.events,
        )
        audit(
            tenant=report.tenant_id,
            actor=actor or Actor.system("audit_verify"),
            action="audit.checkpoint_pinned",
            target=("audit_event", report.head_event_id),
            payload={
                "seq": report.head_seq,
                "hash": report.head_hash,
                "from_seq": report.start_seq,
                "events_verified": report.events,
            },
        )
    return checkpoint


def audit_checkpoint_latest(*, tenant_id: int) -> AuditCheckpoint | None:
    return AuditCheckpoint.objects.for_tenant(tenant_id).order_by("-seq", "-id").first()
