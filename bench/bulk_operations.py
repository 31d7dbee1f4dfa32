"""Bulk operations: tagging N assets in the background, against the same tagging in the request.

    .venv/bin/python bench/bulk_operations.py             # 1000 assets
    .venv/bin/python bench/bulk_operations.py --smoke     # 150 assets: the path, not a figure

A database of its own (the bench stack), production settings. N assets are stored through the library's service,
then tagged three ways:

- in the request, as before bulk operations: `assets_bulk_update` in this process (one transaction and one audit
  event per asset), timed: what a request would have waited for;
- background, by ids: `POST /api/v1/assets/bulk` over HTTP to gunicorn (an API key with assets:write), answered
  202; the request's time, then the operation's run on a Celery worker (default queue, 2 threads) until done;
- background, by filter ("select all matching"): the same with `filter: {}`.

Checked after each: every asset carries the tag, and each asset has exactly one `asset.updated` event for it.
The target: the 202 answers in under 200 ms.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import httpx

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))  # run as `python bench/bulk_operations.py`

from bench.figures import MISSED_TARGET, header, table, verdict  # noqa: E402
from bench.stack import Stack, run_main  # noqa: E402

REQUEST_TARGET_MS = 200.0


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--assets", type=int, default=1000)
    parser.add_argument("--worker-threads", type=int, default=2)
    parser.add_argument("--smoke", action="store_true", help="150 assets")
    args = parser.parse_args()
    if args.smoke:
        args.assets = 150
    return args


def seed(count: int) -> tuple[object, str, list[int]]:
    from dam.services.assets import asset_create
    from tenants.models import Scope
    from tenants.services import api_key_create, tenant_create

    tenant = tenant_create(slug="bench-bulk", name="Bench bulk")
    token = api_key_create(tenant=tenant, name="bench", scopes=[Scope.ASSETS_WRITE, Scope.ASSETS_READ]).token
    ids = [asset_create(tenant=tenant, title=f"Creative {n}", source="uploaded").pk for n in range(count)]
    return tenant, token, ids


def updates_per_asset(tenant, ids: list[int], since_seq: int) -> set[int]:
    """How many `asset.updated` events each asset got after `since_seq` (as a set of counts: {1} is right)."""
    from django.db.models import Count

    from governance.models.audit import AuditEvent

    rows = (
        AuditEvent.objects.for_tenant(tenant)
        .filter(action="asset.updated", seq__gt=since_seq, target_id__in=[str(i) for i in ids])
        .values("target_id")
        .annotate(n=Count("id"))
    )
    counts = {row["target_id"]: row["n"] for row in rows}
    return {counts.get(str(i), 0) for i in ids}


def audit_head(tenant) -> int:
    from governance.models.audit import AuditEvent

    return AuditEvent.objects.for_tenant(tenant).order_by("-seq").values_list("seq", flat=True).first() or 0


def all_tagged(tenant, ids: list[int], tag: str) -> bool:
    from dam.models import Asset

    return Asset.objects.for_tenant(tenant).filter(pk__in=ids, tags__contains=[tag]).count() == len(ids)


def inline_run(tenant, ids: list[int]) -> tuple[float, set[int]]:
    from dam.services.bulk import BulkChange, assets_bulk_update

    head = audit_head(tenant)
    started = time.perf_counter()
    result = assets_bulk_update(tenant=tenant, asset_ids=ids, change=BulkChange(action="tag", tags=["inline"]))
    elapsed = time.perf_counter() - started
    if len(result.done) != len(ids) or not all_tagged(tenant, ids, "inline"):
        raise RuntimeError(f"inline tagging did {len(result.done)} of {len(ids)}")
    return elapsed, updates_per_asset(tenant, ids, head)


def background_run(client: httpx.Client, tenant, ids: list[int], body: dict) -> dict:
    from dam.models import BulkOperation

    head = audit_head(tenant)
    started = time.perf_counter()
    response = client.post("/api/v1/assets/bulk", json=body)
    request_ms = (time.perf_counter() - started) * 1000
    if response.status_code != 202:
        raise RuntimeError(f"expected 202, got {response.status_code}: {response.text[:500]}")
    location, polls = response.headers["Location"], 0
    deadline = time.monotonic() + 600
    while time.monotonic() < deadline:
        state = client.get(location).json()
        polls += 1
        if state["state"] in ("done", "failed"):
            break
        time.sleep(0.1)
    wall = time.perf_counter() - started
    if state["state"] != "done" or state["done"] != len(ids):
        raise RuntimeError(f"operation ended {state['state']} with {state['done']} of {len(ids)}: {state['error']}")
    row = BulkOperation.objects.for_tenant(tenant).get(pk=state["id"])
    run_s = (row.finished_at - row.started_at).total_seconds()
    return {
        "request_ms": request_ms,
        "run_s": run_s,
        "wall_s": wall,
        "polls": polls,
        "tagged": all_tagged(tenant, ids, body["tags"][0]),
        "updates": updates_per_asset(tenant, ids, head),
    }


def main() -> int:
    args = parse_args()
    with Stack("bulk_operations") as stack:
        stack.prepare_data_stores()
        stack.setup_django()
        header(
            "bulk operations: tagging N assets in the request vs in the background",
            {
                "assets": args.assets,
                "settings": stack.settings_label,
                "web": "gunicorn, 1 process x 2 threads, over loopback HTTP",
                "worker": f"Celery, default queue, {args.worker_threads} threads",
                "BULK_INLINE_MAX": "100 (default)",
            },
        )
        tenant, token, ids = seed(args.assets)
        inline_s, inline_updates = inline_run(tenant, ids)
        stack.start_worker(concurrency=args.worker_threads, env={}, queues="default")
        base_url = stack.start_web(workers=1, threads=2)
        headers = {"Authorization": f"Bearer {token}", "Accept": "application/json"}
        with httpx.Client(base_url=base_url, headers=headers, timeout=60) as client:
            # A warm process, as in service: one small (inline, 200) bulk request first.
            client.get("/api/v1/bulk-operations").raise_for_status()
            client.post(
                "/api/v1/assets/bulk", json={"action": "tag", "ids": ids[:1], "tags": ["warm"]}
            ).raise_for_status()
            runs = {
                # The web process's first bulk operation also opens its broker connection (the enqueue).
                "background, ids (first)": background_run(
                    client, tenant, ids, {"action": "tag", "ids": ids, "tags": ["by-ids-first"]}
                ),
                "background, ids": background_run(
                    client, tenant, ids, {"action": "tag", "ids": ids, "tags": ["by-ids"]}
                ),
                "background, filter": background_run(
                    client, tenant, ids, {"action": "tag", "filter": {}, "tags": ["by-filter"]}
                ),
            }
        print()
        rows = [
            ("in the request (before)", f"{inline_s * 1000:.0f} ms", f"{inline_s:.2f} s", "-", "yes", inline_updates)
        ]
        for name, run in runs.items():
            rows.append(
                (
                    name,
                    f"{run['request_ms']:.0f} ms",
                    f"{run['run_s']:.2f} s",
                    f"{args.assets / run['run_s']:.0f}/s",
                    "yes" if run["tagged"] else "NO",
                    run["updates"],
                )
            )
        table(rows, heading=("path", "request answered in", "tagging took", "assets/s", "all tagged", "events/asset"))
        exact = all(run["tagged"] and run["updates"] == {1} for run in runs.values())
        print(f"\n   every asset tagged, one asset.updated event each: {'yes' if exact else 'NO'}")
        slowest = max(run["request_ms"] for name, run in runs.items() if "first" not in name)
        met = verdict("slowest 202", slowest, target=REQUEST_TARGET_MS, higher_is_better=False, unit=" ms")
    if not exact:
        raise RuntimeError("an asset was not tagged, or audited other than once")
    return 0 if met or args.smoke else MISSED_TARGET


if __name__ == "__main__":
    run_main(main)
