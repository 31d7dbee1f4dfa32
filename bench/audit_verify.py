"""`audit_verify` of one tenant's chain: events per second and peak memory, full and from a checkpoint.

    .venv/bin/python bench/audit_verify.py                    # 10,000 then 200,000 events, a day of 2,000 more
    .venv/bin/python bench/audit_verify.py --events 2000000   # the issue's size (seeding takes a few minutes)
    .venv/bin/python bench/audit_verify.py --smoke            # 1,000 and 3,000 events: the path, not a figure

A database of its own (the bench stack). One tenant's chain is seeded fast and real: each event is built and hashed
by the writer's own functions (`canonical_event`, `event_hash`), its payload one of a few realistic shapes (job
outputs with costs, review decisions, before/after updates, Japanese and German titles), and the rows are written
with COPY, the chain head moved to the last one. At the small size (`--small`) and at `--events`, in this process:

- baseline, plain SELECT: the same rows, the same keyset batches, no hashing (the floor of any verifier);
- baseline, previous implementation: model instances from the ORM's iterator, a dict per event, json.dumps with
  sorted keys per event (`verify_records`), as `audit_verify` was until this benchmark;
- full: `audit_verify(tenant=...)`, from the genesis;

then a checkpoint is pinned, `--day-events` more are written (a day of a busy tenant), and the incremental run
`audit_verify(tenant=..., since_checkpoint=True)` walks only those (plus the pin's own event).

Time is the best of `--repeat` runs without tracing; memory is tracemalloc's peak over one more run. Targets: the
full run >= 50,000 events/s at `--events`, and its traced peak at `--events` under 1.5x the peak at `--small`.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import sys
import time
import tracemalloc
from collections.abc import Callable
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))  # run as `python bench/audit_verify.py`

from bench.figures import MISSED_TARGET, header, table, verdict  # noqa: E402
from bench.stack import Stack, run_main  # noqa: E402

RATE_TARGET = 50_000  # events/s of a full run at --events
FLAT_TARGET = 1.5  # traced peak at --events / at --small
COPY_COLUMNS = (
    "tenant_id, seq, actor_kind, actor_id, actor_label, action, target_type, target_id, payload, request_id, ip, "
    "created_at, prev_hash, hash"
)


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=200_000, help="events in the chain at the large size")
    parser.add_argument("--small", type=int, default=10_000, help="events in the chain at the small size")
    parser.add_argument("--day-events", type=int, default=2_000, help="events written after the checkpoint")
    parser.add_argument("--repeat", type=int, default=2, help="timed runs per figure (the best is shown)")
    parser.add_argument("--smoke", action="store_true", help="1,000 and 3,000 events, 100 after the checkpoint")
    args = parser.parse_args()
    if args.smoke:
        args.events, args.small, args.day_events, args.repeat = 3_000, 1_000, 100, 1
    if not 0 < args.small < args.events:
        parser.error("--small must be between 0 and --events")
    return args


def payload_of(index: int) -> tuple[str, str, str, dict]:
    """(action, target type, target id, payload): a few shapes that real chains are made of, in turn."""
    shape = index % 5
    if shape == 0:
        outputs = [
            {"version": index * 4 + n, "size": "1536x1024", "sha256": f"{index * 7919 + n:064x}"} for n in range(2)
        ]
        return "job.succeeded", "job", str(index), {"outputs": outputs, "cost_usd": "0.21072", "attempts": 1}
    if shape == 1:
        return "review.approve", "asset_version", str(index), {"asset": index // 3, "comment": "ok für Markt de-DE"}
    if shape == 2:
        before, after = {"title": f"Sommer / Motiv {index}"}, {"title": f"夏のキャンペーン {index}", "locale": "ja-JP"}
        return "asset.updated", "asset", str(index // 3), {"before": before, "after": after}
    if shape == 3:
        return "job.submitted", "job", str(index), {"placements": ["pdp-square", "hero-wide"], "estimate_usd": "0.84"}
    return "webhook.updated", "webhook", "12", {"before": {"active": True}, "after": {"active": False}}


def seed(tenant_id: int, count: int) -> float:
    """Append `count` events to the tenant's chain, hashed by the writer's functions, by COPY; seconds taken."""
    from django.db import connection, transaction
    from django.utils import timezone

    from governance.models import AuditChainHead, AuditEvent
    from governance.services.audit import canonical_event, event_hash

    started = time.perf_counter()
    with transaction.atomic():
        head = AuditChainHead.objects.select_for_update().get(tenant_id=tenant_id)
        seq, prev_hash = head.seq, head.hash
        moment = timezone.now() - dt.timedelta(days=365)
        raw = connection.connection  # psycopg's connection, for COPY
        with raw.cursor() as cursor, cursor.copy(f"COPY governance_auditevent ({COPY_COLUMNS}) FROM STDIN") as copy:
            for index in range(seq, seq + count):
                action, target_type, target_id, payload = payload_of(index)
                seq += 1
                moment += dt.timedelta(milliseconds=137)
                event = AuditEvent(
                    tenant_id=tenant_id,
                    seq=seq,
                    actor_kind="api_key" if index % 3 else "system",
                    actor_id=str(index % 20) if index % 3 else "worker",
                    actor_label=f"api-key:dk_{index % 20:04d}" if index % 3 else "system:worker",
                    action=action,
                    target_type=target_type,
                    target_id=target_id,
                    payload=payload,
                    request_id=f"{index:032x}" if index % 3 else "",
                    ip="203.0.113.9" if index % 3 else "",
                    created_at=moment,
                    prev_hash=prev_hash,
                )
                event.hash = prev_hash = event_hash(canonical_event(event))
                copy.write_row(
                    (
                        tenant_id, seq, event.actor_kind, event.actor_id, event.actor_label, action, target_type,
                        target_id, json.dumps(payload, ensure_ascii=False), event.request_id, event.ip, moment,
                        event.prev_hash, event.hash,
                    )
                )  # fmt: skip
        AuditChainHead.objects.filter(tenant_id=tenant_id).update(seq=seq, hash=prev_hash)
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE governance_auditevent")
    return time.perf_counter() - started


def previous_implementation(tenant_id: int) -> int:
    """audit_verify before streaming rows: model instances, a dict per event, json.dumps(sort_keys) per event."""
    from governance.models import AuditEvent
    from governance.services.audit import canonical_event, verify_records

    def records():
        for event in AuditEvent.objects.for_tenant(tenant_id).order_by("seq").iterator(chunk_size=2000):
            yield {**canonical_event(event), "hash": event.hash, "id": event.pk}

    count, _, _, broken = verify_records(records(), expected_tenant=tenant_id)
    assert broken is None, broken
    return count


def plain_select(tenant_id: int) -> int:
    """The verifier's own reads (same query, same batches), nothing hashed."""
    from governance.models import AuditChainHead
    from governance.services.audit import VERIFY_BATCH, _stored_rows

    head = AuditChainHead.objects.get(tenant_id=tenant_id)
    return sum(len(rows) for rows in _stored_rows(tenant_id, after_seq=0, until_seq=head.seq, batch=VERIFY_BATCH))


def verify_full(tenant_id: int) -> int:
    from governance.services.audit import audit_verify

    report = audit_verify(tenant=tenant_id)
    assert report.ok, report.first_break
    return report.events


def measure(action: Callable[[], int], repeat: int) -> tuple[float, int, float]:
    """(best seconds, events walked, traced peak MB)."""
    timings, count = [], 0
    for _ in range(repeat):
        started = time.perf_counter()
        count = action()
        timings.append(time.perf_counter() - started)
    tracemalloc.start()
    try:
        action()
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return min(timings), count, peak / 1e6


def row(label: str, seconds: float, count: int, peak: float) -> tuple[object, ...]:
    return (label, f"{count:,}", f"{seconds:.2f} s", f"{count / seconds:,.0f}/s", f"{peak:.2f} MB")


def main() -> int:
    args = parse_args()
    with Stack("audit_verify") as stack:
        stack.prepare_data_stores()
        stack.setup_django()
        from governance.services.audit import audit_verify
        from governance.services.audit_checkpoints import audit_checkpoint_pin
        from tenants.services import tenant_create

        header(
            "audit_verify: events/s and peak memory, full and from a checkpoint" + (" (smoke)" if args.smoke else ""),
            {
                "database": f"{stack.database} (this run's, dropped at the end)",
                "chain sizes": f"{args.small:,} then {args.events:,} events (one tenant)",
                "after the checkpoint": f"{args.day_events:,} events",
                "timing": f"best of {args.repeat}; memory: one more run under tracemalloc",
            },
        )
        tenant = tenant_create(slug="bench-audit", name="Audit benchmark")
        rows, peaks, rates = [], {}, {}
        have = 1  # tenant.created
        for size in (args.small, args.events):
            seconds = seed(tenant.pk, size - have)
            print(f"   seeded {size - have:,} events in {seconds:.1f} s ({(size - have) / seconds:,.0f}/s)", flush=True)
            have = size
            cases = (
                ("baseline: plain SELECT, same batches", plain_select),
                ("baseline: previous implementation", previous_implementation),
                ("audit_verify, full", verify_full),
            )
            for label, action in cases:
                seconds, count, peak = measure(lambda action=action: action(tenant.pk), args.repeat)
                assert count == size, (label, count, size)
                rows.append(row(f"{label} @ {size:,}", seconds, count, peak))
                if action is verify_full:
                    peaks[size], rates[size] = peak, count / seconds
        checkpoint = audit_checkpoint_pin(report=audit_verify(tenant=tenant.pk))
        seed(tenant.pk, args.day_events)

        def incremental() -> int:
            report = audit_verify(tenant=tenant.pk, since_checkpoint=True)
            assert report.ok and report.checkpoint == checkpoint, report.first_break
            return report.events

        seconds, count, peak = measure(incremental, args.repeat)
        assert count == args.day_events + 1, count  # the day's events and the pin's own event
        rows.append(row(f"audit_verify --since-checkpoint (#{checkpoint.seq} + {count:,})", seconds, count, peak))
        full_seconds, full_count, _ = measure(lambda: verify_full(tenant.pk), 1)
        rows.append(row(f"audit_verify, full @ {full_count:,} (same chain)", full_seconds, full_count, float("nan")))
        print()
        table(rows, heading=("run", "events", "time", "events/s", "traced peak"))
        ratio = peaks[args.events] / peaks[args.small]
        print(
            f"\n   full run's peak memory at {args.events:,} events is {ratio:.2f}x the peak at {args.small:,} "
            f"({peaks[args.events]:.2f} MB vs {peaks[args.small]:.2f} MB traced)"
        )
        print(f"   incremental run: {seconds / full_seconds:.1%} of the full run's time on the same chain")
        rate_met = verdict(
            f"full run at {args.events:,} events", rates[args.events], target=RATE_TARGET, unit=" events/s"
        )
        flat_met = verdict(
            f"peak ratio {args.events:,}/{args.small:,}", ratio, target=FLAT_TARGET, higher_is_better=False, unit="x"
        )
    # A smoke run's figures mean nothing (tiny chains): it shows the path works and judges no target.
    return 0 if (rate_met and flat_met) or args.smoke else MISSED_TARGET


if __name__ == "__main__":
    run_main(main)
