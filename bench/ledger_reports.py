"""Spend reports at a million ledger entries per tenant: daily roll-ups against a full ledger scan.

    .venv/bin/python -m bench.ledger_reports [--entries 1000000] [--writes 2000] [--reuse]
    .venv/bin/python -m bench.ledger_reports --smoke     # a few seconds: the whole path, for the test suite

Runs against a database of its own, never the development or test database: by default a fresh one per run
(bench/stack.py: `dam_bench_jobs_<run id>` on the server of BENCH_POSTGRES_URL, migrated, dropped at the end, so
runs never meet); with `--reuse`, `dam_bench_ledger` on the server of DATABASE_URL (or BENCH_DATABASE_URL), kept
between runs so a loaded million entries can be measured again without reloading them. It loads one tenant
(Europe/Berlin) with N charges spread over a year (20 API keys, 50 users, 200 collections, 2 models) by one SQL
INSERT ... SELECT, builds the roll-ups with `daily_spend_rebuild`, then times each report:

- baseline: `spend_report_from_ledger`, the same report aggregated from the ledger (what a naive
  implementation does, with the ledger's indexes);
- platform: `spend_report`, from the daily roll-ups.

Both must return identical rows (checked). Each figure is the median of 5 runs after one warm-up.
Then the write path: `--writes` charges through `ledger_charge_response` (counters, hold, roll-up,
alerts; one transaction each) against bare ledger INSERTs of the same rows (the baseline without
roll-ups or counters), on a second tenant so the report tenant stays consistent.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
import uuid
from urllib.parse import urlsplit, urlunsplit

BENCH_DB = "dam_bench_ledger"
TENANT = "bench-ledger"
WRITE_TENANT = "bench-ledger-writes"
RUNS = 5

# Two statements, sent one at a time: with server-side binding (the settings' default) a statement with
# parameters is prepared, and PostgreSQL cannot prepare several commands in one
# ("cannot insert multiple commands into a prepared statement"). Same connection, so the seed holds for random().
SEED = "SELECT setseed(0.42)"
GENERATE = """
INSERT INTO governance_ledgerentry (
    tenant_id, kind, amount_usd, job_id, api_key_id, user_id, collection_id, provider_request_id, model,
    deployment_tier, size, quality, operation, images, text_input_tokens, cached_text_input_tokens,
    image_input_tokens, cached_image_input_tokens, output_tokens, usage_estimated, breakdown, note,
    occurred_at, day, period, created_at)
SELECT %(tenant)s, 'charge', (sizes.output * 30 + r.text * 5)::numeric / 1000000, r.g / 3 + 1, r.api_key, r.usr,
       r.collection, 'bench-' || %(tenant)s || '-' || r.g, r.model, 'standard-global', sizes.size, 'high',
       'generate', 1, r.text, 0, 0, 0, sizes.output, false, '{}'::jsonb, '', r.ts,
       (r.ts AT TIME ZONE %(zone)s)::date, date_trunc('month', r.ts AT TIME ZONE %(zone)s)::date, now()
FROM (
    SELECT g,
           %(start)s::timestamptz + random() * interval '365 days' AS ts,
           1 + floor(random() * 5)::int AS size_index,
           100 + floor(random() * 400)::int AS text,
           1 + floor(random() * 20)::int AS api_key,
           CASE WHEN random() < 0.3 THEN NULL ELSE 1 + floor(random() * 50)::int END AS usr,
           CASE WHEN random() < 0.2 THEN NULL ELSE 1 + floor(random() * 200)::int END AS collection,
           (ARRAY['gpt-image-2', 'gpt-image-2-batch'])[1 + floor(random() * 2)::int] AS model
    FROM generate_series(1, %(entries)s) AS g
) AS r
JOIN (VALUES (1, '1024x1024', 7024), (2, '1536x1024', 5488), (3, '2048x2048', 8592),
             (4, '3840x2160', 10976), (5, '1024x1024-low', 272)) AS sizes(size_index, size, output)
  ON sizes.size_index = r.size_index
"""


def _header(title: str, settings: dict[str, object]) -> None:
    import platform

    print(f"\n== {title} ==")
    print(f"   machine: {platform.node()}, {len(os.sched_getaffinity(0))} CPUs, Python {platform.python_version()}")
    for key, value in settings.items():
        print(f"   {key}: {value}")


def _table(rows: list[list[object]], *, heading: list[str]) -> None:
    cells = [[str(c) for c in heading], *[[str(c) for c in row] for row in rows]]
    widths = [max(len(row[i]) for row in cells) for i in range(len(heading))]
    for index, row in enumerate(cells):
        print("   " + "  ".join(c.ljust(widths[i]) if i == 0 else c.rjust(widths[i]) for i, c in enumerate(row)))
        if index == 0:
            print("   " + "  ".join("-" * w for w in widths))


def _bench_database_url() -> str:
    explicit = os.environ.get("BENCH_DATABASE_URL")
    if explicit:
        return explicit
    parts = urlsplit(os.environ.get("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/dam"))
    return urlunsplit(parts._replace(path=f"/{BENCH_DB}"))


def _setup_reused() -> None:
    """Django on the long-lived `dam_bench_ledger` database (created and migrated if need be)."""
    os.environ["DATABASE_URL"] = _bench_database_url()
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    os.environ.setdefault("DB_POOL", "0")
    import django

    django.setup()
    from django.core.management import call_command

    call_command("ensure_database", verbosity=0)
    call_command("migrate", verbosity=0)


def _timed(function, runs: int = RUNS) -> tuple[float, object]:
    function()  # warm-up: plans and caches, for both sides alike
    samples, result = [], None
    for _ in range(runs):
        start = time.perf_counter()
        result = function()
        samples.append(time.perf_counter() - start)
    return statistics.median(samples), result


def _load(entries: int, reuse: bool):
    from django.db import connection

    from governance.models import LedgerEntry
    from governance.services.ledger import daily_spend_rebuild
    from tenants.models import Tenant
    from tenants.services import tenant_create

    tenant = Tenant.objects.filter(slug=TENANT).first()
    existing = LedgerEntry.objects.for_tenant(tenant).count() if tenant else 0
    if tenant and reuse and existing >= entries:
        print(f"   reusing {existing:,} entries of {TENANT}")
        return tenant, None, None
    if tenant:
        sys.exit(f"{TENANT} already has {existing:,} entries: drop database {BENCH_DB} or pass --reuse")
    tenant = tenant_create(slug=TENANT, name="Ledger benchmark", time_zone="Europe/Berlin")
    start = time.perf_counter()
    with connection.cursor() as cursor:
        cursor.execute(SEED)
        cursor.execute(
            GENERATE,
            {"tenant": tenant.pk, "zone": tenant.time_zone, "start": "2025-06-01T00:00:00Z", "entries": entries},
        )
        cursor.execute("ANALYZE governance_ledgerentry")
    loaded = time.perf_counter() - start
    start = time.perf_counter()
    cells = daily_spend_rebuild(tenant=tenant)
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE governance_dailyspend")
    rolled = time.perf_counter() - start
    print(f"   loaded {entries:,} entries in {loaded:.1f} s; roll-up rebuild: {cells:,} day cells in {rolled:.1f} s")
    return tenant, loaded, rolled


def _reports(tenant) -> list[list[object]]:
    import datetime as dt

    from governance.selectors.reports import spend_report, spend_report_from_ledger

    month = {"start": dt.date(2026, 3, 1), "end": dt.date(2026, 3, 31)}
    year = {"start": dt.date(2025, 6, 1), "end": dt.date(2026, 5, 31)}
    cases = [
        ("day, one month", "day", month),
        ("month, one year", "month", year),
        ("API key, one year", "api_key", year),
        ("user, one year", "user", year),
        ("collection, one year", "collection", year),
        ("model, one year", "model", year),
    ]
    rows = []
    for label, group_by, window in cases:
        slow, expected = _timed(lambda g=group_by, w=window: spend_report_from_ledger(tenant=tenant, group_by=g, **w))
        fast, got = _timed(lambda g=group_by, w=window: spend_report(tenant=tenant, group_by=g, **w))
        assert got == expected, f"{label}: roll-ups and ledger disagree"
        rows.append([label, len(got), f"{slow * 1000:,.1f} ms", f"{fast * 1000:,.1f} ms", f"x{slow / fast:,.0f}"])
    return rows


def _writes(count: int) -> list[list[object]]:
    from decimal import Decimal

    from django.db import transaction
    from django.utils import timezone

    from governance.models import LedgerEntry
    from governance.periods import local_day
    from governance.services.budgets import budget_set
    from governance.services.ledger import ledger_charge_response
    from tenants.audit import Actor
    from tenants.models import Tenant
    from tenants.services import tenant_create

    tenant = Tenant.objects.filter(slug=WRITE_TENANT).first() or tenant_create(
        slug=WRITE_TENANT, name="Ledger write benchmark", time_zone="Europe/Berlin"
    )
    budget_set(tenant=tenant, actor=Actor.system("bench"), monthly_limit_usd=Decimal("1000000.00"))
    usage = {"text_input_tokens": 300, "output_tokens": 7024}
    run = uuid.uuid4().hex[:8]

    def service_charge(index: int) -> None:
        ledger_charge_response(
            tenant=tenant,
            job_id=index,
            provider_request_id=f"w-{run}-{index}",
            usage=usage,
            occurred_at=timezone.now(),
            api_key_id=index % 20,
            collection_id=index % 200,
        )

    def bare_insert(index: int) -> None:
        now = timezone.now()
        day = local_day(now, tenant.time_zone)
        with transaction.atomic():
            LedgerEntry.objects.for_tenant(tenant).create(
                tenant=tenant,
                kind="charge",
                amount_usd=Decimal("0.21222"),
                job_id=index,
                provider_request_id=f"b-{run}-{index}",
                output_tokens=7024,
                text_input_tokens=300,
                occurred_at=now,
                day=day,
                period=day.replace(day=1),
            )

    rows = []
    for label, write in (("bare ledger INSERT (baseline)", bare_insert), ("ledger_charge_response", service_charge)):
        samples = []
        for index in range(count):
            start = time.perf_counter()
            write(index)
            samples.append(time.perf_counter() - start)
        samples.sort()
        p50, p95 = samples[len(samples) // 2], samples[int(len(samples) * 0.95)]
        rows.append([label, count, f"{p50 * 1000:.2f} ms", f"{p95 * 1000:.2f} ms", f"{count / sum(samples):,.0f}/s"])
    return rows


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--entries", type=int, default=1_000_000)
    parser.add_argument("--writes", type=int, default=2000)
    parser.add_argument(
        "--reuse", action="store_true", help=f"measure in {BENCH_DB}, kept between runs, reusing its loaded tenant"
    )
    parser.add_argument("--smoke", action="store_true", help="3,000 entries, 20 writes: the path, not a figure")
    args = parser.parse_args()
    if args.smoke:
        args.entries, args.writes = 3000, 20
    if args.reuse:
        _setup_reused()
        return _measure(args, database=urlsplit(_bench_database_url()).path.lstrip("/"))
    from bench.stack import Stack

    os.environ.setdefault("DB_POOL", "0")
    with Stack(name="ledger_reports") as stack:
        stack.prepare_data_stores()
        stack.setup_django()
        return _measure(args, database=f"{stack.database} (this run's, dropped at the end)")


def _measure(args: argparse.Namespace, *, database: str) -> int:
    _header(
        "Ledger spend reports" + (" (smoke)" if args.smoke else ""),
        {
            "database": database,
            "entries per tenant": f"{args.entries:,}",
            "runs per figure": f"median of {RUNS}",
        },
    )
    tenant, _, _ = _load(args.entries, args.reuse)
    _table(_reports(tenant), heading=["report", "rows", "ledger scan (baseline)", "daily roll-ups", "speed-up"])
    print(f"\n== Ledger writes ({args.writes:,} charges, one transaction each) ==")
    _table(_writes(args.writes), heading=["write", "count", "p50", "p95", "throughput"])
    return 0


if __name__ == "__main__":
    from bench.stack import run_main

    run_main(main)
