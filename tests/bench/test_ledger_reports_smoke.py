"""bench/ledger_reports.py --smoke: the load (a seed, then one INSERT ... SELECT: the statement server-side binding
once refused), the roll-up rebuild, every report against its ledger-scan baseline (their rows must agree) and both
write paths, on 3,000 entries in a database of its own."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = [pytest.mark.integration, pytest.mark.slow]

REPO = Path(__file__).resolve().parents[2]


def test_the_ledger_benchmark_loads_reports_and_writes():
    done = subprocess.run(
        [sys.executable, "-m", "bench.ledger_reports", "--smoke"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert re.search(r"loaded 3,000 entries in", done.stdout), done.stdout
    reports = re.findall(
        r"^\s+(day, one month|month, one year|API key, one year|user, one year|collection, one year"
        r"|model, one year)\s+(\d+)\s",
        done.stdout,
        flags=re.M,
    )
    assert len(reports) == 6, done.stdout
    assert all(int(rows) > 0 for _, rows in reports), reports
    writes = re.findall(r"^\s+(bare ledger INSERT \(baseline\)|ledger_charge_response)\s+20\s", done.stdout, flags=re.M)
    assert len(writes) == 2, done.stdout
