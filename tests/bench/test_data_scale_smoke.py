"""bench/data_scale.py --smoke: seeding 100 tenants by set-based SQL (the big one at 1,000 then 2,000 assets) in
databases of their own, every figure at both sizes with its SQL count and main query's plan, the storefront over
HTTP beside its baseline, and the curve with a verdict per figure; so a change that breaks it is seen."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.support.bench import REPO, bench_output

pytestmark = [pytest.mark.integration, pytest.mark.slow]

IN_PROCESS = (
    "storefront: first page",
    "storefront: deep cursor page (90%)",
    "storefront: filter collection",
    "storefront: filter tag (common)",
    "storefront: filter tag (rare)",
    "storefront: filter locale",
    "storefront: filter placement",
    "storefront: filter created between",
    "storefront: search 1 term (common)",
    "storefront: search 1 term (rare)",
    "storefront: search 2 terms",
    "storefront: search 3 terms",
    "storefront: asset detail",
    "UI: asset browser",
    "UI: asset browser, collection filter",
    "UI: search (ranked)",
    "UI: review board",
    "spend report by user, one year",
    "spend report by collection, one year",
    "spend report by API key, one year",
    "spend report by day, one month",
    "backlog: webhook deliveries due (sweep)",
    "backlog: versions with stale checks (renditions sweep)",
)
OVER_HTTP = (
    "HTTP: first page, never cached",
    "HTTP: deep cursor page (90%), never cached",
    "HTTP: search 1 term (common), never cached",
)
NUMBER = r"[\d,]+(?:\.\d+)?"


def test_the_data_scale_benchmark_seeds_measures_every_figure_and_draws_the_curve():
    out = bench_output("bench/data_scale.py", "--smoke", timeout=600)
    for size in ("1,000", "2,000"):
        assert f"== Data scale: {size} assets in the big tenant (smoke) ==" in out, out
    # Seeding reports its pace per table.
    for step in ("versions", "assets", "renditions", "ledger entries", "webhook deliveries"):
        assert re.search(rf"^\s+{step}: {NUMBER} rows \({NUMBER} rows/s\)", out, flags=re.M), (step, out)
    assert re.search(r"audit events: 4,000 hashed and copied in", out), out

    size_tables = out.split("== Data scale: the curve ==")[0]
    for name in IN_PROCESS:
        # name, p50, p95, req/s, [share], SQL queries, the main query's ms and plan node: at both sizes.
        rows = re.findall(
            rf"^\s+{re.escape(name)}\s+{NUMBER}\s+{NUMBER}\s+{NUMBER}\s+(?:\d+%\s+)?(\d+)\s+{NUMBER}\s+\S",
            size_tables,
            flags=re.M,
        )
        assert len(rows) == 2 and all(int(queries) > 0 for queries in rows), (name, rows, out)
    for name in ("baseline: the same JSON from memory", "audit_verify, full walk", "HTTP: baseline", *OVER_HTTP):
        assert len(re.findall(rf"^\s+{re.escape(name)}\s+{NUMBER}\s", size_tables, flags=re.M)) == 2, (name, out)

    curve = out.split("== Data scale: the curve ==")[1]
    for name in (*IN_PROCESS, *OVER_HTTP, "audit_verify, full walk"):
        match = re.search(
            rf"^\s+{re.escape(name)}\s+{NUMBER}\s+{NUMBER}\s+{NUMBER}x\s+(\d+)/(\d+)\s+(MET|MISSED: .+)$",
            curve,
            flags=re.M,
        )
        assert match, (name, out)
    # The storefront's queries do not depend on the library's size: the same count at both sizes.
    for name in ("storefront: first page", "storefront: deep cursor page (90%)", "storefront: search 2 terms"):
        counts = re.search(rf"^\s+{re.escape(name)}\s.*\s(\d+)/(\d+)\s", curve, flags=re.M)
        assert counts and counts.group(1) == counts.group(2), (name, out)

    # Every figure's plans are kept: the main query with the EXPLAIN (ANALYZE, BUFFERS) of the plan it runs with,
    # and each statement's custom and generic plans (prepared statements may run the generic one).
    plans = Path(REPO) / "artifacts" / "data_scale" / "2000"
    first_page = (plans / "storefront-first-page.txt").read_text()
    assert "== EXPLAIN (ANALYZE, BUFFERS) of the plan it runs with ==" in first_page, first_page
    assert "Execution Time:" in first_page and "Buffers: shared hit=" in first_page
    assert "-- custom plan:" in first_page and "-- generic plan:" in first_page
    assert len(list(plans.glob("*.txt"))) >= len(IN_PROCESS)
