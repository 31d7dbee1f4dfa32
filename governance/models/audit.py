"""The audit trail: one hash chain of events per tenant, append-only in the database.

Each event's `hash` is SHA-256 over a canonical serialisation of its fields and the previous
event's hash (`governance.services.audit.canonical_event`). Writers of one tenant are serialised on
the tenant's `AuditChainHead` row (SELECT ... FOR UPDATE), backed by unique (tenant, seq):
concurrent writers can never fork the chain. A trigger refuses UPDATE, DELETE and TRUNCATE
(migration `governance_append_only`).
"""

from __future__ import annotations

from django.db import models

from tenants.scoping import TenantOwnedModel

GENESIS_HASH = "0" * 64


class AuditEvent(TenantOwnedModel):
    class ActorKind(models.TextChoices):
        USER = "user", "User"
        API_KEY = "api_key", "API key"
        SYSTEM = "system", "System"

    # PROTECT: a tenant with history cannot be deleted through the ORM (the trigger would refuse anyway).
    tenant = models.ForeignKey("tenants.Tenant", on_delete=models.PROTECT, related_name="audit_events")
    seq = models.PositiveBigIntegerField()
    actor_kind = models.CharField(max_length=16, choices=ActorKind.choices)
    actor_id = models.CharField(max_length=64, blank=True)
    actor_label = models.CharField(max_length=200)
    action = models.CharField(max_length=64)
    target_type = models.CharField(max_length=64)
    target_id = models.CharField(max_length=64, blank=True)
    payload = models.JSONField(default=dict, blank=True)
    request_id = models.CharField(max_length=64, blank=True)
    ip = models.CharField(max_length=45, blank=True, help_text="client address, normalised")
    created_at = models.DateTimeField()
    prev_hash = models.CharField(max_length=64)
    hash = models.CharField(max_length=64)

    class Meta(TenantOwnedModel.Meta):
        ordering = ["seq"]
        constraints = [models.UniqueConstraint(fields=["tenant", "seq"], name="audit_event_unique_seq")]
        indexes = [
            models.Index(fields=["tenant", "action", "seq"], name="audit_tenant_action"),
            models.Index(fields=["tenant", "created_at"], name="audit_tenant_time"),
            models.Index(fields=["tenant", "target_type", "target_id"], name="audit_tenant_target"),
            models.Index(fields=["tenant", "actor_kind", "actor_id"], name="audit_tenant_actor"),
        ]

    def __str__(self) -> str:
        return f"{self.tenant_id}#{self.seq} {self.action} {self.target_type}:{self.target_id}"


class AuditChainHead(models.Model):
    """The latest (seq, hash) of a tenant's chain; its row lock serialises that tenant's writers.

    Mutable on purpose (it is a lock and a cache, not evidence): `audit_verify` checks it against
    the events, and an export carries it so an outside party can pin the chain.
    """

    tenant = models.OneToOneField(
        "tenants.Tenant", on_delete=models.PROTECT, primary_key=True, related_name="audit_chain_head"
    )
    seq = models.PositiveBigIntegerField(default=0)
    hash = models.CharField(max_length=64, default=GENESIS_HASH)
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"{self.tenant_id} head #{self.seq}"


class AuditCheckpoint(TenantOwnedModel):
    """A point of a tenant's chain that a verification found intact: the next one may start after it.

    A copy, not a pointer: the pinned hash is what an incremental verification trusts (a later rewrite of the
    event changes the event, not the pin). Written only after a successful walk, audited, append-only (the
    triggers of `governance_append_only`); the latest by `seq` is the one used.
    """

    tenant = models.ForeignKey("tenants.Tenant", on_delete=models.PROTECT, related_name="audit_checkpoints")
    # The event's id, not a foreign key: the pin must outlive (and so expose) a deleted event, and a foreign key
    # would also stop a TRUNCATE of the events table before its trigger could say why.
    event_id = models.PositiveBigIntegerField()
    seq = models.PositiveBigIntegerField()
    hash = models.CharField(max_length=64)
    verified_at = models.DateTimeField()
    from_seq = models.PositiveBigIntegerField(help_text="first event the verification walked (1: from the genesis)")
    events_verified = models.PositiveBigIntegerField()

    class Meta(TenantOwnedModel.Meta):
        indexes = [models.Index(fields=["tenant", "-seq"], name="audit_checkpoint_latest")]

    def __str__(self) -> str:
        return f"{self.tenant_id} checkpoint #{self.seq}"
