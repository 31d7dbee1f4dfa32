"""The audit trail: one hash chain per tenant, written with the change, append-only, verifiable."""

from __future__ import annotations

import contextlib
import hashlib
import io
import itertools
import json

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import DatabaseError, connection, transaction
from django.test import RequestFactory

from governance.models import GENESIS_HASH, AuditEvent
from governance.services.audit import (
    AuditOutsideTransaction,
    audit_export_lines,
    audit_verify,
    audit_verify_export,
    canonical_bytes,
    canonical_event,
)
from tenants import audit as audit_port
from tenants.audit import Actor, AuditWriterMissing, RequestOrigin, audit
from tenants.services import api_key_revoke, brand_policy_update, placement_create, placement_update
from tests.factories import make_api_key, make_tenant
from tests.support.concurrency import run_concurrently

pytestmark = pytest.mark.django_db


def events(tenant) -> list[AuditEvent]:
    return list(AuditEvent.objects.for_tenant(tenant).order_by("seq"))


def record(tenant, action="thing.done", **payload):
    with transaction.atomic():
        return audit(tenant=tenant, actor=Actor.system("test"), action=action, target=("thing", 1), payload=payload)


def test_events_form_a_hash_chain_starting_at_the_genesis(tenant_a):
    for index in range(3):
        record(tenant_a, index=index)
    chain = events(tenant_a)
    assert [e.seq for e in chain] == list(range(1, len(chain) + 1))
    assert chain[0].action == "tenant.created" and chain[0].prev_hash == GENESIS_HASH
    for previous, event in itertools.pairwise(chain):
        assert event.prev_hash == previous.hash
    for event in chain:
        assert hashlib.sha256(canonical_bytes(canonical_event(event))).hexdigest() == event.hash
    assert audit_verify(tenant=tenant_a).ok


def test_each_tenant_has_its_own_chain(tenant_a, tenant_b):
    record(tenant_a)
    record(tenant_b)
    assert [e.seq for e in events(tenant_b)] == [1, 2]
    assert audit_verify(tenant=tenant_a).ok and audit_verify(tenant=tenant_b).ok


def test_a_deferred_block_of_two_tenants_events_leaves_both_chains_valid(tenant_a, tenant_b):
    # Written in one batch: each tenant's head is locked and moved once, the events inserted together.
    before_a, before_b = len(events(tenant_a)), len(events(tenant_b))
    with transaction.atomic(), audit_port.audit_deferred():
        record(tenant_a, "first.done")
        record(tenant_b, "second.done")
        record(tenant_a, "third.done")
    assert [(e.seq, e.action) for e in events(tenant_a)[before_a:]] == [
        (before_a + 1, "first.done"),
        (before_a + 2, "third.done"),
    ]
    assert [(e.seq, e.action) for e in events(tenant_b)[before_b:]] == [(before_b + 1, "second.done")]
    assert audit_verify(tenant=tenant_a).ok and audit_verify(tenant=tenant_b).ok
    record(tenant_a, "after.done")  # the head moved to the batch's last event: the next one links to it
    assert events(tenant_a)[-1].prev_hash == events(tenant_a)[-2].hash
    assert audit_verify(tenant=tenant_a).ok


def test_deferred_events_are_written_in_order_when_the_block_ends_and_dropped_with_an_error(tenant_a):
    before = len(events(tenant_a))
    with transaction.atomic(), audit_port.audit_deferred():
        record(tenant_a, "first.done")
        with audit_port.audit_deferred():  # nested: the outer block writes
            record(tenant_a, "second.done")
        assert len(events(tenant_a)) == before  # nothing written yet, nothing locked yet
    assert [e.action for e in events(tenant_a)[before:]] == ["first.done", "second.done"]
    with contextlib.suppress(RuntimeError), transaction.atomic(), audit_port.audit_deferred():
        record(tenant_a, "lost.done")
        raise RuntimeError("the change fails")
    assert [e.action for e in events(tenant_a)[before:]] == ["first.done", "second.done"]
    assert audit_verify(tenant=tenant_a).ok


def test_payload_values_are_stored_so_the_hash_survives_the_json_round_trip(tenant_a):
    from decimal import Decimal

    event = record(tenant_a, price=Decimal("0.21072"), ratio=1e20, tags={"b", "a"}, nested={"x": [1, None, True]})
    stored = AuditEvent.objects.for_tenant(tenant_a).get(pk=event.pk)
    assert stored.payload["price"] == "0.21072" and stored.payload["tags"] == ["a", "b"]
    assert audit_verify(tenant=tenant_a).ok


@pytest.mark.django_db(transaction=True)
def test_a_writer_outside_a_transaction_is_refused():
    tenant = make_tenant("autocommit-tenant")
    assert not connection.in_atomic_block
    with pytest.raises(AuditOutsideTransaction):
        audit(tenant=tenant, actor=Actor.system("test"), action="thing.done", target=("t", 1), payload={})
    assert [e.action for e in events(tenant)] == ["tenant.created"]


def test_without_an_installed_writer_audit_raises_and_the_change_rolls_back(tenant_a, monkeypatch):
    monkeypatch.setattr(audit_port, "_writer", None)
    with pytest.raises(AuditWriterMissing):
        placement_create(tenant=tenant_a, slug="hero", width=1920, height=1080)
    from tenants.models import Placement

    assert not Placement.objects.for_tenant(tenant_a).exists()


def test_tenant_services_write_their_events_with_the_actor_and_request(alice):
    request = RequestFactory().post("/x", HTTP_X_REQUEST_ID="req-123", REMOTE_ADDR="203.0.113.9")
    actor = Actor.for_api_key(alice.api_key)
    placement = placement_create(
        tenant=alice.tenant, slug="hero", width=1920, height=1080, actor=actor, origin=RequestOrigin.of(request)
    )
    placement_update(placement=placement, width=1280, actor=actor)
    placement_update(placement=placement, width=1280, actor=actor)  # no change: no event
    brand_policy_update(tenant=alice.tenant, style_guide="calm", created_by=alice.user)
    issued = make_api_key(alice.tenant, "assets:read", name="shop")
    api_key_revoke(api_key=issued.api_key, actor=actor)
    api_key_revoke(api_key=issued.api_key, actor=actor)  # already revoked: no second event

    trail = [e for e in events(alice.tenant) if e.action.split(".")[0] in {"placement", "policy", "api_key"}]
    actions = [e.action for e in trail]
    assert actions[-5:] == [
        "placement.created",
        "placement.updated",
        "policy.updated",
        "api_key.created",
        "api_key.revoked",
    ]
    created, updated, policy, _, revoked = trail[-5:]
    assert (created.actor_kind, created.actor_label) == ("api_key", f"api-key:{alice.api_key.prefix}")
    assert (created.request_id, created.ip) == ("req-123", "203.0.113.9")
    assert updated.payload == {"slug": "hero", "before": {"width": 1920}, "after": {"width": 1280}}
    assert policy.actor_label == "user:alice" and policy.payload["after"]["style_guide"] == "calm"
    assert revoked.target_id == str(issued.api_key.pk) and "secret" not in json.dumps(revoked.payload)


@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE governance_auditevent SET action = 'forged' WHERE tenant_id = %s",
        "DELETE FROM governance_auditevent WHERE tenant_id = %s",
    ],
)
def test_the_database_refuses_to_rewrite_the_trail(tenant_a, statement):
    record(tenant_a)
    with pytest.raises(DatabaseError, match="append-only"), transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(statement, [tenant_a.pk] if "%s" in statement else None)
    assert audit_verify(tenant=tenant_a).ok


@pytest.mark.django_db(transaction=True)
def test_truncating_the_trail_is_refused_but_a_whole_platform_flush_is_not():
    tenant = make_tenant("truncated-tenant")
    with pytest.raises(DatabaseError, match="append-only: TRUNCATE refused"), connection.cursor() as cursor:
        cursor.execute("TRUNCATE governance_auditevent")
    assert audit_verify(tenant=tenant).ok
    # Django's flush (the test runner's reset between transactional tests) empties tenants_tenant in the
    # same statement: allowed, and what ends this test.


def _as_superuser(sql: str, params=()) -> None:
    """What an attacker with the database superuser would do: bypass the trigger, then write."""
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL session_replication_role = replica")
        cursor.execute(sql, params)
        cursor.execute("SET LOCAL session_replication_role = origin")


def _verify_command(slug: str) -> str:
    out = io.StringIO()
    with contextlib.suppress(CommandError):
        call_command("audit_verify", tenant=slug, stdout=out)
    return out.getvalue()


@pytest.fixture
def chain(tenant_a):
    for index in range(6):
        record(tenant_a, index=index)
    return events(tenant_a)


def test_tamper_drill_a_changed_field_is_named(tenant_a, chain):
    assert "ok, 7 events" in _verify_command(tenant_a.slug)
    _as_superuser("UPDATE governance_auditevent SET payload = '{\"index\": 99}' WHERE id = %s", [chain[3].pk])
    report = audit_verify(tenant=tenant_a)
    assert (report.first_break.seq, report.first_break.event_id) == (4, chain[3].pk)
    assert "content does not match its hash" in report.first_break.reason
    assert "BROKEN at event #4" in _verify_command(tenant_a.slug)


def test_tamper_drill_a_rehashed_change_breaks_the_next_link(tenant_a, chain):
    forged = canonical_event(chain[2]) | {"action": "forged.action"}
    digest = hashlib.sha256(canonical_bytes(forged)).hexdigest()
    _as_superuser(
        "UPDATE governance_auditevent SET action = 'forged.action', hash = %s WHERE id = %s", [digest, chain[2].pk]
    )
    report = audit_verify(tenant=tenant_a)
    assert report.first_break.seq == 4 and "prev_hash" in report.first_break.reason


def test_tamper_drill_a_deleted_row_is_named(tenant_a, chain):
    _as_superuser("DELETE FROM governance_auditevent WHERE id = %s", [chain[4].pk])
    report = audit_verify(tenant=tenant_a)
    assert report.first_break.seq == 5 and "missing" in report.first_break.reason
    assert "BROKEN at event #5" in _verify_command(tenant_a.slug)


def test_tamper_drill_deleting_the_newest_event_is_caught_by_the_head(tenant_a, chain):
    _as_superuser("DELETE FROM governance_auditevent WHERE id = %s", [chain[-1].pk])
    report = audit_verify(tenant=tenant_a)
    assert report.first_break.seq == 7 and "head records #7" in report.first_break.reason


def test_tamper_drill_two_swapped_rows_are_named(tenant_a, chain):
    first, second = chain[2], chain[3]
    _as_superuser(
        "UPDATE governance_auditevent SET seq = CASE id WHEN %s THEN %s ELSE %s END + 1000000 WHERE id IN (%s, %s)",
        [first.pk, second.seq, first.seq, first.pk, second.pk],
    )
    _as_superuser("UPDATE governance_auditevent SET seq = seq - 1000000 WHERE seq > 1000000")
    report = audit_verify(tenant=tenant_a)
    assert report.first_break.seq == 3 and report.first_break.event_id == second.pk


def test_export_carries_the_head_and_is_verifiable_on_its_own(tenant_a, chain):
    lines = list(audit_export_lines(tenant=tenant_a))
    header, trailer = json.loads(lines[0]), json.loads(lines[-1])
    assert header["format"] == "dam-audit/1" and header["tenant"]["slug"] == tenant_a.slug
    assert (trailer["seq"], trailer["hash"]) == (chain[-1].seq, chain[-1].hash)
    assert audit_verify_export(lines).ok
    pinned = (trailer["seq"], trailer["hash"])

    record(tenant_a, later=True)
    later = list(audit_export_lines(tenant=tenant_a))
    assert audit_verify_export(later, pinned_head=pinned).ok
    # An outside party's pinned head catches a history rewritten and re-hashed from the genesis.
    assert not audit_verify_export(later, pinned_head=(pinned[0], "f" * 64)).ok
    edited = [line.replace('"index":2', '"index":7') for line in later]
    report = audit_verify_export(edited)
    assert not report.ok and report.first_break.seq == 4


def test_export_and_verify_commands_round_trip(tenant_a, chain, tmp_path):
    target = tmp_path / "audit.jsonl"
    call_command("audit_export", tenant=tenant_a.slug, output=str(target), stderr=io.StringIO())
    out = io.StringIO()
    call_command("audit_verify", file=str(target), pin=f"{chain[-1].seq}:{chain[-1].hash}", stdout=out)
    assert f"ok, {len(chain)} events" in out.getvalue()
    target.write_text(target.read_text().replace('"index":3', '"index":4'))
    with pytest.raises(CommandError, match="BROKEN at event #5"):
        call_command("audit_verify", file=str(target), stdout=io.StringIO())


@pytest.mark.django_db(transaction=True)
def test_fifty_concurrent_writers_leave_one_valid_chain():
    tenant = make_tenant("busy-tenant")

    def write(index: int) -> int:
        with transaction.atomic():
            event = audit(
                tenant=tenant.pk,
                actor=Actor.system(f"writer-{index}"),
                action="load.tested",
                target=("writer", index),
                payload={"index": index},
            )
        return event.seq

    results = run_concurrently(50, write)
    assert not [r for r in results if isinstance(r, Exception)], results
    report = audit_verify(tenant=tenant)
    assert report.ok and report.events == 51 and report.head_seq == 51
    assert sorted(results) == list(range(2, 52))


@pytest.mark.parametrize(
    ("hops", "forwarded", "expected"),
    [
        (0, "198.51.100.1", "10.0.0.9"),  # no proxy of ours: the header is the client's word, ignored
        (1, "6.6.6.6, 198.51.100.1", "198.51.100.1"),  # our proxy appended the real client; the first is forged
        (2, "198.51.100.1, 10.0.0.2", "198.51.100.1"),
        (2, "garbage", "10.0.0.9"),
    ],
)
def test_the_client_ip_trusts_only_our_own_proxies(settings, hops, forwarded, expected):
    from tenants.audit import client_ip_of

    settings.TRUSTED_PROXY_COUNT = hops
    request = RequestFactory().get("/", HTTP_X_FORWARDED_FOR=forwarded, REMOTE_ADDR="10.0.0.9")
    assert client_ip_of(request) == expected


def test_a_malformed_request_id_is_replaced(client):
    response = client.get("/healthz", HTTP_X_REQUEST_ID="bad id with spaces")
    assert response["X-Request-Id"] != "bad id with spaces" and len(response["X-Request-Id"]) == 32
