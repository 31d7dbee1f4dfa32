"""The tamper-evident audit trail: writing events, verifying chains, exporting them.

Canonical form (format `dam-audit/1`), which an outside party can recompute from an export:
the event as a JSON object with the keys below, keys sorted, separators `,` and `:`, UTF-8
(no ASCII escaping), timestamps as UTC `YYYY-MM-DDTHH:MM:SS.ffffffZ`; `hash` is the lowercase
hex SHA-256 of those bytes. `prev_hash` is the previous event's hash (64 zeros for seq 1).
Payloads hold only strings, integers, booleans, null, lists and objects: other numbers
(Decimal, float) are stored as strings, so the database's JSON round trip cannot change them.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from enum import Enum
from typing import Any
from uuid import UUID

from django.db import connection, transaction
from django.db.models import CharField, F, Func, QuerySet
from django.utils import timezone

from governance.models import GENESIS_HASH, AuditChainHead, AuditCheckpoint, AuditEvent
from tenants.audit import Actor, RequestOrigin, Target
from tenants.models import Tenant

FORMAT = "dam-audit/1"
CANONICAL_FIELDS = (
    "tenant",
    "seq",
    "actor_kind",
    "actor_id",
    "actor_label",
    "action",
    "target_type",
    "target_id",
    "payload",
    "request_id",
    "ip",
    "at",
    "prev_hash",
)
_TIME_FORMAT = "%Y-%m-%dT%H:%M:%S.%fZ"


class AuditOutsideTransaction(RuntimeError):
    """An audit event must be written in the same transaction as the change it records."""


def format_time(value: dt.datetime) -> str:
    if timezone.is_naive(value):
        raise ValueError("audit timestamps must be timezone-aware")
    return value.astimezone(dt.UTC).strftime(_TIME_FORMAT)


def normalise_payload(value: Any) -> Any:
    """A JSON value whose canonical form survives a jsonb round trip unchanged."""
    if value is None or isinstance(value, bool | int | str):
        return value
    if isinstance(value, Mapping):
        return {str(key): normalise_payload(item) for key, item in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        items = [normalise_payload(item) for item in value]
        return sorted(items, key=_sort_key) if isinstance(value, set | frozenset) else items
    if isinstance(value, float | Decimal):
        return str(value)
    if isinstance(value, dt.datetime):
        return format_time(value)
    if isinstance(value, dt.date | dt.time):
        return value.isoformat()
    if isinstance(value, UUID):
        return str(value)
    if isinstance(value, Enum):
        return normalise_payload(value.value)
    raise TypeError(f"cannot record a {type(value).__name__} in an audit payload")


def _sort_key(value: Any) -> str:
    return json.dumps(value, sort_keys=True, default=str)


def canonical_bytes(record: Mapping[str, Any]) -> bytes:
    return json.dumps(record, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def event_hash(record: Mapping[str, Any]) -> str:
    return hashlib.sha256(canonical_bytes(record)).hexdigest()


def canonical_event(event: AuditEvent) -> dict[str, Any]:
    """The hashed fields of an event, as stored (recomputing its hash must give `event.hash`)."""
    return {
        "tenant": event.tenant_id,
        "seq": event.seq,
        "actor_kind": event.actor_kind,
        "actor_id": event.actor_id,
        "actor_label": event.actor_label,
        "action": event.action,
        "target_type": event.target_type,
        "target_id": event.target_id,
        "payload": event.payload,
        "request_id": event.request_id,
        "ip": event.ip,
        "at": format_time(event.created_at),
        "prev_hash": event.prev_hash,
    }


def _lock_chain_head(tenant_id: int) -> AuditChainHead:
    """The tenant's chain head, locked until commit: the LAST lock of every write.

    Lock order (tenants/locking.py, docs/audit-and-costs.md "Lock order"): the tenant row, a
    collection, an asset and its versions, the other object changed, and this head last. A service
    that audits before it locks or deletes its row takes the head first and deadlocks against one
    that changes the row and then audits, so `audit()` comes after the change (a delete audits after
    deleting) or inside `tenants.audit.audit_deferred()`.
    """
    # Locking the head serialises this tenant's writers until commit; it is made (idempotently)
    # only on the tenant's first event, so every later event costs one statement less under it.
    head = AuditChainHead.objects.select_for_update(no_key=True).filter(tenant_id=tenant_id).first()
    if head is None:
        AuditChainHead.objects.bulk_create([AuditChainHead(tenant_id=tenant_id)], ignore_conflicts=True)
        head = AuditChainHead.objects.select_for_update(no_key=True).get(tenant_id=tenant_id)
    return head


def audit_record(
    *,
    tenant: Tenant | int,
    actor: Actor,
    action: str,
    target: Target,
    payload: Mapping[str, Any],
    origin: RequestOrigin | None = None,
) -> AuditEvent:
    """The writer installed into `tenants.audit`: append one event to the tenant's chain.

    Runs in the caller's transaction (required), so the event commits or rolls back with the change.
    """
    return audit_record_many(
        [{"tenant": tenant, "actor": actor, "action": action, "target": target, "payload": payload, "origin": origin}]
    )[0]


def audit_record_many(events: Sequence[Mapping[str, Any]]) -> list[AuditEvent]:
    """Append several events (keyword sets of `audit_record`), in order: each tenant's chain head is
    locked and moved once, and the events are inserted together. For `tenants.audit.audit_deferred`."""
    if not connection.in_atomic_block:
        actions = ", ".join(repr(event["action"]) for event in events)
        raise AuditOutsideTransaction(f"audit events {actions} must be written inside transaction.atomic()")
    heads: dict[int, AuditChainHead] = {}
    written = []
    for each in events:
        tenant = each["tenant"]
        tenant_id = tenant if isinstance(tenant, int) else tenant.pk
        if tenant_id not in heads:
            heads[tenant_id] = _lock_chain_head(tenant_id)
        head = heads[tenant_id]
        actor, target = each["actor"], each["target"]
        origin = each.get("origin") or RequestOrigin()
        # The time is taken under the lock, so it never runs backwards along a chain (unless the clock does).
        event = AuditEvent(
            tenant_id=tenant_id,
            seq=head.seq + 1,
            actor_kind=actor.kind,
            actor_id=actor.id[:64],
            actor_label=actor.label[:200],
            action=each["action"],
            target_type=target.type[:64],
            target_id=target.id[:64],
            payload=normalise_payload(dict(each["payload"])),
            request_id=origin.request_id,
            ip=origin.ip,
            created_at=timezone.now(),
            prev_hash=head.hash,
        )
        event.hash = event_hash(canonical_event(event))
        head.seq, head.hash = event.seq, event.hash
        written.append(event)
    AuditEvent.unscoped.bulk_create(written)  # every row names its tenant
    for tenant_id, head in heads.items():
        AuditChainHead.objects.filter(tenant_id=tenant_id).update(seq=head.seq, hash=head.hash)
    return written


# --- verification ----------------------------------------------------------------------


@dataclass(frozen=True)
class ChainBreak:
    seq: int
    event_id: int | None
    reason: str

    def __str__(self) -> str:
        where = f"event #{self.seq}" + (f" (id {self.event_id})" if self.event_id is not None else "")
        return f"{where}: {self.reason}"


@dataclass(frozen=True)
class ExportReport:
    """What a walk of a chain found: how far it goes, its head, and the first broken link if any."""

    events: int
    head_seq: int
    head_hash: str
    first_break: ChainBreak | None

    @property
    def ok(self) -> bool:
        return self.first_break is None


@dataclass(frozen=True, kw_only=True)
class ChainReport(ExportReport):
    """A walk of one tenant's chain in the database: from `start_seq` (after `checkpoint` if it started from one)."""

    tenant_id: int
    head_event_id: int | None = None
    start_seq: int = 1
    checkpoint: AuditCheckpoint | None = None


def verify_records(
    records: Iterable[Mapping[str, Any]],
    *,
    expected_tenant: int | None = None,
    start_seq: int = 1,
    start_prev_hash: str = GENESIS_HASH,
) -> tuple[int, int, str, ChainBreak | None]:
    """Walk canonical records (each with its `hash`, and optionally `id`) in order.

    Returns (count, last seq, last hash, first break). Pure: serves the database check and the
    check of an export file alike.
    """
    expected_seq, prev_hash, count = start_seq, start_prev_hash, 0
    for record in records:
        count += 1
        seq, event_id = record.get("seq"), record.get("id")
        fields = {name: record.get(name) for name in CANONICAL_FIELDS}
        if expected_tenant is not None and record.get("tenant") != expected_tenant:
            return count, expected_seq - 1, prev_hash, ChainBreak(seq, event_id, "belongs to another tenant")
        if seq != expected_seq:
            reason = (
                f"event #{expected_seq} is missing (found #{seq} next)"
                if isinstance(seq, int) and seq > expected_seq
                else f"out of order: expected #{expected_seq}, found #{seq}"
            )
            return count, expected_seq - 1, prev_hash, ChainBreak(expected_seq, event_id, reason)
        if record.get("prev_hash") != prev_hash:
            return count, seq - 1, prev_hash, ChainBreak(seq, event_id, "prev_hash does not match the previous event")
        if event_hash(fields) != record.get("hash"):
            return count, seq - 1, prev_hash, ChainBreak(seq, event_id, "content does not match its hash")
        prev_hash, expected_seq = record["hash"], expected_seq + 1
    return count, expected_seq - 1, prev_hash, None


# The database check hashes each row without building a dict or a model instance: the canonical JSON of an event
# is a fixed template over its sorted keys, each string quoted by the very function json.dumps uses, the payload
# encoded by an encoder with json.dumps's canonical options. Same bytes as `canonical_bytes(canonical_event(e))`
# (tests/governance/test_audit_verify_stream.py checks it on generated events), at a fraction of the cost.
_quote = json.encoder.encode_basestring  # type: ignore[attr-defined]
_encode_payload = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode
_decode_payload = json.JSONDecoder().decode
# Column per sorted canonical key ("tenant" is the query's filter); then id and hash. `at` is created_at formatted
# by PostgreSQL as `format_time` formats it (UTC, microseconds, "Z"; tested against it): parsing a timestamptz into a
# datetime and formatting it back cost more per row than hashing it.
_SORTED_FIELDS = sorted(CANONICAL_FIELDS)
_STORED_COLUMNS = ("id", *[name for name in _SORTED_FIELDS if name != "tenant"], "hash")
AT_TEXT = Func(
    F("created_at"),
    template="to_char(%(expressions)s AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"')",
    output_field=CharField(),
)
VERIFY_BATCH = 5000


def row_encoder(tenant_id: int) -> Callable[[Sequence[Any]], bytes]:
    """For one tenant's stored rows (`_STORED_COLUMNS` order, payload as JSON text, `at` as text): the hashed bytes."""
    template = "{" + ",".join(f'"{n}":' + (str(tenant_id) if n == "tenant" else "%s") for n in _SORTED_FIELDS) + "}"
    quote, encode, decode = _quote, _encode_payload, _decode_payload

    def row_bytes(row: Sequence[Any]) -> bytes:
        _, action, actor_id, kind, label, at, ip, payload, prev, request_id, seq, target_id, target_type, _ = row
        return (
            template
            % (
                quote(action),
                quote(actor_id),
                quote(kind),
                quote(label),
                quote(at),
                quote(ip),
                encode(decode(payload)),
                quote(prev),
                quote(request_id),
                seq,
                quote(target_id),
                quote(target_type),
            )
        ).encode()

    return row_bytes


def _stored_rows(tenant_id: int, *, after_seq: int, until_seq: int, batch: int) -> Iterator[list[tuple[Any, ...]]]:
    """The tenant's events (after_seq, until_seq] in seq order, `batch` rows at a time (keyset on the (tenant, seq)
    unique index: constant memory, no long transaction, no server-side cursor to keep open behind a pooler)."""
    events = AuditEvent.objects.for_tenant(tenant_id).annotate(at=AT_TEXT).order_by("seq")
    # The ORM builds the scoped query; the rows are read raw so the payload stays JSON text (decoded once, below).
    while after_seq < until_seq:
        query = events.filter(seq__gt=after_seq, seq__lte=until_seq).values_list(*_STORED_COLUMNS)[:batch]
        sql, params = query.query.sql_with_params()
        with connection.cursor() as cursor:
            cursor.execute(sql, params)
            rows = cursor.fetchall()
        if not rows:
            return
        yield rows
        after_seq = rows[-1][10]


def verify_stored_rows(
    batches: Iterable[Sequence[Sequence[Any]]], *, tenant_id: int, start_seq: int, start_prev_hash: str
) -> tuple[int, int, str, int | None, ChainBreak | None]:
    """`verify_records` over stored rows: (count, last seq, last hash, last event id, first break)."""
    row_bytes, sha256 = row_encoder(tenant_id), hashlib.sha256
    expected_seq, prev_hash, count, last_id = start_seq, start_prev_hash, 0, None
    for rows in batches:
        for row in rows:
            event_id, prev, seq, digest = row[0], row[8], row[10], row[13]
            count += 1
            if seq != expected_seq:
                reason = (
                    f"event #{expected_seq} is missing (found #{seq} next)"
                    if seq > expected_seq
                    else f"out of order: expected #{expected_seq}, found #{seq}"
                )
                return count, expected_seq - 1, prev_hash, last_id, ChainBreak(expected_seq, event_id, reason)
            if prev != prev_hash:
                reason = "prev_hash does not match the previous event"
                return count, seq - 1, prev_hash, last_id, ChainBreak(seq, event_id, reason)
            if sha256(row_bytes(row)).hexdigest() != digest:
                return count, seq - 1, prev_hash, last_id, ChainBreak(seq, event_id, "content does not match its hash")
            prev_hash, expected_seq, last_id = digest, expected_seq + 1, event_id
    return count, expected_seq - 1, prev_hash, last_id, None


def audit_verify(*, tenant: Tenant | int, since_checkpoint: bool = False, batch: int = VERIFY_BATCH) -> ChainReport:
    """Walk a tenant's chain from the genesis (or, `since_checkpoint`, from its latest pinned checkpoint); report the
    first broken link, and a head that disagrees. Streams: memory does not grow with the chain.

    The head is read first and the walk stops at its seq: a writer commits its events and the head together, so
    every event up to it is visible, and events written meanwhile are left for the next run.
    """
    tenant_id = tenant if isinstance(tenant, int) else tenant.pk
    head = AuditChainHead.objects.filter(tenant_id=tenant_id).first()
    head_seq, head_hash = (head.seq, head.hash) if head else (0, GENESIS_HASH)
    start_seq, prev_hash, checkpoint = 1, GENESIS_HASH, None
    if since_checkpoint:
        checkpoint = AuditCheckpoint.objects.for_tenant(tenant_id).order_by("-seq", "-id").first()
    if checkpoint is not None:
        pinned = AuditEvent.objects.for_tenant(tenant_id).filter(seq=checkpoint.seq).values_list("id", "hash").first()
        # A history rewritten and re-hashed up to the head changes the pinned event's hash; a deleted tail with its
        # head moved back leaves the head behind the checkpoint. What lies before the checkpoint is not re-read.
        reason = None
        if head_seq < checkpoint.seq:
            reason = f"the head records #{head_seq}, behind the checkpoint at #{checkpoint.seq}"
        elif pinned != (checkpoint.event_id, checkpoint.hash):
            reason = f"the event at the checkpoint (#{checkpoint.seq}) no longer has the pinned id and hash"
        if reason:
            return ChainReport(
                tenant_id=tenant_id, events=0, head_seq=checkpoint.seq, head_hash=checkpoint.hash,
                first_break=ChainBreak(checkpoint.seq, checkpoint.event_id, reason), start_seq=checkpoint.seq + 1,
                checkpoint=checkpoint,
            )  # fmt: skip
        start_seq, prev_hash = checkpoint.seq + 1, checkpoint.hash
    rows = _stored_rows(tenant_id, after_seq=start_seq - 1, until_seq=head_seq, batch=batch)
    count, last_seq, last_hash, last_id, broken = verify_stored_rows(
        rows, tenant_id=tenant_id, start_seq=start_seq, start_prev_hash=prev_hash
    )
    if broken is None and (head_seq, head_hash) != (last_seq, last_hash):
        # Deleting the newest events leaves a valid shorter chain: the head row still names the real end.
        broken = ChainBreak(
            last_seq + 1 if head_seq > last_seq else last_seq,
            None,
            f"the chain ends at #{last_seq} but its head records #{head_seq} ({head_hash[:12]}…)",
        )
    return ChainReport(
        tenant_id=tenant_id, events=count, head_seq=last_seq, head_hash=last_hash, first_break=broken,
        head_event_id=last_id, start_seq=start_seq, checkpoint=checkpoint,
    )  # fmt: skip


# --- export ----------------------------------------------------------------------------


def audit_export_lines(*, tenant: Tenant, since_seq: int = 0) -> Iterator[str]:
    """JSON Lines: a header, every event (canonical fields + `hash`) after `since_seq`, a trailer with the head.

    Call inside a REPEATABLE READ transaction (the command does) so events and head agree.
    """
    head = AuditChainHead.objects.filter(tenant_id=tenant.pk).first()
    head_seq, head_hash = (head.seq, head.hash) if head else (0, GENESIS_HASH)
    start = AuditEvent.objects.for_tenant(tenant).filter(seq=since_seq).values_list("hash", flat=True).first()
    yield json.dumps(
        {
            "type": "header",
            "format": FORMAT,
            "tenant": {"id": tenant.pk, "slug": tenant.slug},
            "since_seq": since_seq,
            "prev_hash": start if since_seq else GENESIS_HASH,
            "exported_at": format_time(timezone.now()),
        },
        sort_keys=True,
        ensure_ascii=False,
    )
    events = AuditEvent.objects.for_tenant(tenant).filter(seq__gt=since_seq, seq__lte=head_seq).order_by("seq")
    for event in events.iterator(chunk_size=2000):
        record = {"type": "event", **canonical_event(event), "hash": event.hash}
        yield json.dumps(record, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    yield json.dumps({"type": "chain_head", "tenant": tenant.pk, "seq": head_seq, "hash": head_hash}, sort_keys=True)


def audit_verify_export(lines: Iterable[str], *, pinned_head: tuple[int, str] | None = None) -> ExportReport:
    """Check an export on its own: hashes, links, the trailer's head, and (optionally) that the chain
    passes through a head pinned from an earlier export (`(seq, hash)`)."""
    parsed = (json.loads(line) for line in lines if line.strip())
    header = next(parsed, None)
    if not header or header.get("type") != "header" or header.get("format") != FORMAT:
        return ExportReport(0, 0, GENESIS_HASH, ChainBreak(0, None, f"not a {FORMAT} export"))
    events: list[dict[str, Any]] = []
    trailer: dict[str, Any] | None = None
    pinned_ok = pinned_head is None
    for item in parsed:
        if item.get("type") == "event":
            events.append(item)
            if pinned_head and item.get("seq") == pinned_head[0]:
                pinned_ok = item.get("hash") == pinned_head[1]
        elif item.get("type") == "chain_head":
            trailer = item
    count, last_seq, last_hash, broken = verify_records(
        events,
        expected_tenant=header["tenant"]["id"],
        start_seq=header["since_seq"] + 1,
        start_prev_hash=header["prev_hash"],
    )
    if broken is None and (trailer is None or (trailer.get("seq"), trailer.get("hash")) != (last_seq, last_hash)):
        broken = ChainBreak(last_seq, None, "the export's chain head does not match its last event")
    if broken is None and pinned_head and pinned_head[0] > header["since_seq"] and not pinned_ok:
        broken = ChainBreak(pinned_head[0], None, "the chain does not pass through the pinned head")
    return ExportReport(count, last_seq, last_hash, broken)


# --- reads -----------------------------------------------------------------------------


def audit_events_for_tenant(
    *,
    tenant: Tenant,
    action: str | None = None,
    actor: str | None = None,
    target_type: str | None = None,
    target_id: str | None = None,
    since: dt.datetime | None = None,
    until: dt.datetime | None = None,
) -> QuerySet[AuditEvent]:
    """Filters: `action` exact, or a prefix ending in '.' (`job.`); `actor` a label (`api-key:ab12…`,
    `user:alice`, `system:worker`) or `kind:id` (`api_key:12`); time range [since, until)."""
    events = AuditEvent.objects.for_tenant(tenant)
    if action:
        events = events.filter(action__startswith=action) if action.endswith(".") else events.filter(action=action)
    if actor:
        kind, _, ident = actor.partition(":")
        if kind in AuditEvent.ActorKind.values and ident:
            events = events.filter(actor_kind=kind, actor_id=ident)
        else:
            events = events.filter(actor_label=actor)
    if target_type:
        events = events.filter(target_type=target_type)
    if target_id:
        events = events.filter(target_id=target_id)
    if since:
        events = events.filter(created_at__gte=since)
    if until:
        events = events.filter(created_at__lt=until)
    return events


def audit_chain_head(*, tenant: Tenant) -> tuple[int, str]:
    head = AuditChainHead.objects.filter(tenant_id=tenant.pk).first()
    return (head.seq, head.hash) if head else (0, GENESIS_HASH)


def audit_in_transaction(**kwargs: Any) -> AuditEvent:
    """`audit_record` in its own transaction, for callers that record something outside any change."""
    with transaction.atomic():
        return audit_record(**kwargs)
