"""bench/ledger_reports.py --smoke: the load (a seed, then one INSERT ... SELECT: the statement server-side binding
once refused), the roll-up rebuild, every report against its ledger-scan baseline (their rows must agree) and both
write paths, on 3,000 entries in a database of its own."""

from __future__ import annotations

import re

import pytest

from tests.support.bench import bench_output

pytestmark = [pytest.mark.integration, pytest.mark.slow]


def test_the_ledger_benchmark_loads_reports_and_writes():
    out = bench_output("-m", "bench.ledger_reports", "--smoke")
    assert re.search(r"loaded 3,000 entries in", out), out
    reports = re.findall(
        r"^\s+(day, one month|month, one year|API key, one year|user, one year|collection, one year"
        r"|model, one year)\s+(\d+)\s",
        out,
        flags=re.M,
    )
    assert len(reports) == 6, out
    assert all(int(rows) > 0 for _, rows in reports), reports
    writes = re.findall(r"^\s+(bare ledger INSERT \(baseline\)|ledger_charge_response)\s+20\s", out, flags=re.M)
    assert len(writes) == 2, out
