"""audit_verify streams its rows in keyset batches, hashes them through a precomputed canonical template (same bytes
as the writer's), and can start from a pinned checkpoint; tampering is found in both modes where each can see it."""

from __future__ import annotations

import datetime as dt
import hashlib
import io
import json

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import DatabaseError, connection, transaction
from hypothesis import given, settings
from hypothesis import strategies as st

from governance.models import AuditCheckpoint, AuditEvent
from governance.services.audit import (
    AT_TEXT,
    audit_verify,
    canonical_bytes,
    canonical_event,
    format_time,
    row_encoder,
)
from governance.services.audit_checkpoints import CheckpointRefused, audit_checkpoint_pin
from tenants.audit import Actor, audit

text = st.text(st.characters(blacklist_categories=["Cs"]), max_size=12)
json_values = st.recursive(
    st.none() | st.booleans() | st.integers(min_value=-(2**63), max_value=2**63) | text,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(text, inner, max_size=3),
    max_leaves=8,
)


@settings(max_examples=300, deadline=None)
@given(
    fields=st.fixed_dictionaries(
        dict.fromkeys(
            ("actor_kind", "actor_id", "actor_label", "action", "target_type", "target_id", "request_id", "ip"), text
        )
        | {"prev_hash": text}
    ),
    payload=json_values,
    seq=st.integers(min_value=1, max_value=2**62),
    tenant=st.integers(min_value=1, max_value=2**31),
    at=st.datetimes(min_value=dt.datetime(2000, 1, 1), timezones=st.just(dt.UTC)),
)
def test_the_row_template_gives_the_writers_canonical_bytes(fields, payload, seq, tenant, at):
    event = AuditEvent(tenant_id=tenant, seq=seq, payload=payload, created_at=at, **fields)
    stored_payload = json.dumps(payload, indent=1)  # any JSON text: the database's own spacing is not the canonical
    row = (
        1,
        fields["action"],
        fields["actor_id"],
        fields["actor_kind"],
        fields["actor_label"],
        format_time(at),  # as PostgreSQL formats it (next test)
        fields["ip"],
        stored_payload,
        fields["prev_hash"],
        fields["request_id"],
        seq,
        fields["target_id"],
        fields["target_type"],
        "hash",
    )
    assert row_encoder(tenant)(row) == canonical_bytes(canonical_event(event))


@pytest.mark.django_db
def test_postgres_formats_event_times_as_the_writer_does(tenant_a):
    moments = [
        dt.datetime(2026, 12, 7, 4, 13, 4, 0, tzinfo=dt.UTC),  # no microseconds: still six digits
        dt.datetime(2026, 3, 29, 1, 59, 59, 999999, tzinfo=dt.timezone(dt.timedelta(hours=2))),
        dt.datetime(2000, 1, 1, 0, 0, 0, 1, tzinfo=dt.UTC),
        dt.datetime(9999, 12, 31, 23, 59, 59, 123456, tzinfo=dt.UTC),
    ]
    for moment in moments:
        with transaction.atomic():
            event = audit(tenant=tenant_a, actor=Actor.system("t"), action="thing.done", target=("t", 1), payload={})
        _as_superuser("UPDATE governance_auditevent SET created_at = %s WHERE id = %s", [moment, event.pk])
        stored = AuditEvent.objects.for_tenant(tenant_a).annotate(at=AT_TEXT).get(pk=event.pk)
        assert stored.at == format_time(moment) == format_time(stored.created_at)


def record(tenant, index, **extra):
    with transaction.atomic():
        return audit(
            tenant=tenant,
            actor=Actor.system("test"),
            action="thing.done",
            target=("thing", index),
            payload={"index": index, "title": '夏のキャンペーン "hero"\n', **extra},
        )


def events(tenant) -> list[AuditEvent]:
    return list(AuditEvent.objects.for_tenant(tenant).order_by("seq"))


def _as_superuser(sql: str, params=()) -> None:
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL session_replication_role = replica")
        cursor.execute(sql, params)
        cursor.execute("SET LOCAL session_replication_role = origin")


def pin(tenant):
    report = audit_verify(tenant=tenant, batch=3)
    assert report.ok, report.first_break
    return audit_checkpoint_pin(report=report)


@pytest.fixture
def pinned(tenant_a):
    """Seven events, a checkpoint at #7 (its pin is event #8), then four more: #9-#12."""
    for index in range(6):
        record(tenant_a, index)
    checkpoint = pin(tenant_a)
    for index in range(6, 10):
        record(tenant_a, index)
    return checkpoint


@pytest.mark.django_db
def test_a_walk_in_small_batches_verifies_the_whole_chain(tenant_a, pinned):
    report = audit_verify(tenant=tenant_a, batch=2)
    assert report.ok and (report.events, report.head_seq, report.start_seq) == (12, 12, 1)
    assert report.head_event_id == events(tenant_a)[-1].pk


@pytest.mark.django_db
def test_incremental_verifies_only_the_events_after_the_checkpoint(tenant_a, pinned):
    assert pinned.seq == 7 and events(tenant_a)[7].action == "audit.checkpoint_pinned"
    assert events(tenant_a)[7].payload == {"seq": 7, "hash": pinned.hash, "from_seq": 1, "events_verified": 7}
    report = audit_verify(tenant=tenant_a, since_checkpoint=True, batch=3)
    assert report.ok and report.checkpoint == pinned
    assert (report.start_seq, report.events, report.head_seq) == (8, 5, 12)  # the pin's own event and 4 more
    checkpoint = audit_checkpoint_pin(report=report)
    again = audit_verify(tenant=tenant_a, since_checkpoint=True)
    assert again.ok and again.checkpoint == checkpoint and (again.start_seq, again.events) == (13, 1)


@pytest.mark.django_db
def test_without_a_checkpoint_incremental_walks_from_the_genesis(tenant_a):
    record(tenant_a, 1)
    report = audit_verify(tenant=tenant_a, since_checkpoint=True)
    assert report.ok and report.checkpoint is None and (report.start_seq, report.events) == (1, 2)


@pytest.mark.django_db
@pytest.mark.parametrize("since_checkpoint", [False, True])
def test_a_changed_payload_after_the_checkpoint_is_found_in_both_modes(tenant_a, pinned, since_checkpoint):
    target = events(tenant_a)[9]
    _as_superuser("UPDATE governance_auditevent SET payload = '{\"index\": 99}' WHERE id = %s", [target.pk])
    report = audit_verify(tenant=tenant_a, since_checkpoint=since_checkpoint, batch=3)
    assert (report.first_break.seq, report.first_break.event_id) == (10, target.pk)
    assert "content does not match its hash" in report.first_break.reason


@pytest.mark.django_db
@pytest.mark.parametrize("since_checkpoint", [False, True])
def test_a_deleted_event_after_the_checkpoint_is_found_in_both_modes(tenant_a, pinned, since_checkpoint):
    _as_superuser("DELETE FROM governance_auditevent WHERE id = %s", [events(tenant_a)[9].pk])
    report = audit_verify(tenant=tenant_a, since_checkpoint=since_checkpoint, batch=3)
    assert report.first_break.seq == 10 and "missing" in report.first_break.reason


@pytest.mark.django_db
@pytest.mark.parametrize("since_checkpoint", [False, True])
def test_reordered_events_after_the_checkpoint_are_found_in_both_modes(tenant_a, pinned, since_checkpoint):
    first, second = events(tenant_a)[9], events(tenant_a)[10]
    _as_superuser(
        "UPDATE governance_auditevent SET seq = CASE id WHEN %s THEN %s ELSE %s END + 1000000 WHERE id IN (%s, %s)",
        [first.pk, second.seq, first.seq, first.pk, second.pk],
    )
    _as_superuser("UPDATE governance_auditevent SET seq = seq - 1000000 WHERE seq > 1000000")
    report = audit_verify(tenant=tenant_a, since_checkpoint=since_checkpoint, batch=3)
    assert (report.first_break.seq, report.first_break.event_id) == (10, second.pk)


@pytest.mark.django_db
def test_a_change_before_the_checkpoint_is_found_by_a_full_run_only(tenant_a, pinned):
    # The documented trade-off: an incremental run does not re-read what lies before its checkpoint.
    target = events(tenant_a)[3]
    _as_superuser("UPDATE governance_auditevent SET payload = '{\"index\": 99}' WHERE id = %s", [target.pk])
    assert audit_verify(tenant=tenant_a, since_checkpoint=True).ok
    report = audit_verify(tenant=tenant_a)
    assert (report.first_break.seq, report.first_break.event_id) == (4, target.pk)


@pytest.mark.django_db
def test_a_deleted_or_reordered_event_before_the_checkpoint_is_found_by_a_full_run(tenant_a, pinned):
    _as_superuser("DELETE FROM governance_auditevent WHERE id = %s", [events(tenant_a)[2].pk])
    assert audit_verify(tenant=tenant_a, since_checkpoint=True).ok
    report = audit_verify(tenant=tenant_a)
    assert report.first_break.seq == 3 and "missing" in report.first_break.reason


@pytest.mark.django_db
def test_a_history_rehashed_through_the_checkpoint_is_found_incrementally(tenant_a, pinned):
    # Rewriting an early event and re-hashing every later one (so a full walk of the rows alone would pass, but for
    # the head) changes the pinned event's hash.
    chain = events(tenant_a)
    prev = chain[1].hash
    for event in chain[2:]:
        fields = canonical_event(event) | {"prev_hash": prev}
        if event.seq == 3:
            fields["action"] = "forged.action"
        digest = hashlib.sha256(canonical_bytes(fields)).hexdigest()
        _as_superuser(
            "UPDATE governance_auditevent SET action = %s, prev_hash = %s, hash = %s WHERE id = %s",
            [fields["action"], prev, digest, event.pk],
        )
        prev = digest
    _as_superuser("UPDATE governance_auditchainhead SET hash = %s WHERE tenant_id = %s", [prev, tenant_a.pk])
    assert audit_verify(tenant=tenant_a).ok  # nothing left in the database to contradict it, but the pin
    report = audit_verify(tenant=tenant_a, since_checkpoint=True)
    assert report.first_break.seq == 7 and "no longer has the pinned id and hash" in report.first_break.reason


@pytest.mark.django_db
def test_a_tail_deleted_with_its_head_moved_back_is_found_incrementally(tenant_a, pinned):
    chain = events(tenant_a)
    _as_superuser("DELETE FROM governance_auditevent WHERE tenant_id = %s AND seq > 8", [tenant_a.pk])
    _as_superuser(
        "UPDATE governance_auditchainhead SET seq = 5, hash = %s WHERE tenant_id = %s", [chain[4].hash, tenant_a.pk]
    )
    report = audit_verify(tenant=tenant_a, since_checkpoint=True)
    assert "behind the checkpoint at #7" in report.first_break.reason


@pytest.mark.django_db
def test_a_broken_chain_is_never_pinned(tenant_a, pinned):
    _as_superuser("UPDATE governance_auditevent SET payload = '{}' WHERE id = %s", [events(tenant_a)[10].pk])
    report = audit_verify(tenant=tenant_a, since_checkpoint=True)
    with pytest.raises(CheckpointRefused):
        audit_checkpoint_pin(report=report)
    out = io.StringIO()
    with pytest.raises(CommandError, match="1 tenant chain"):
        call_command("audit_verify", tenant=tenant_a.slug, since_checkpoint=True, stdout=out)
    assert "BROKEN at event #11" in out.getvalue()
    assert list(AuditCheckpoint.objects.for_tenant(tenant_a)) == [pinned]
    assert events(tenant_a)[-1].action != "audit.checkpoint_pinned"


@pytest.mark.django_db
def test_the_command_pins_after_a_good_walk_and_starts_from_it(tenant_a):
    record(tenant_a, 1)
    out = io.StringIO()
    call_command("audit_verify", tenant=tenant_a.slug, stdout=out)
    assert "ok, 2 events" in out.getvalue() and "checkpoint pinned at #2" in out.getvalue()
    record(tenant_a, 2)
    out = io.StringIO()
    call_command("audit_verify", tenant=tenant_a.slug, since_checkpoint=True, no_checkpoint=True, stdout=out)
    assert "ok, 2 events after the checkpoint at #2" in out.getvalue() and "pinned" not in out.getvalue()
    assert AuditCheckpoint.objects.for_tenant(tenant_a).count() == 1


@pytest.mark.django_db
def test_checkpoints_are_append_only(tenant_a, pinned):
    with pytest.raises(DatabaseError, match="append-only"), transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("UPDATE governance_auditcheckpoint SET seq = 1 WHERE id = %s", [pinned.pk])
