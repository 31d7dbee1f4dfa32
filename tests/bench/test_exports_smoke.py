"""bench/exports.py --smoke: seeding, the streaming-copy baseline, the export (create + build, in process) and the
in-memory comparison at two sizes, in a database of its own, so a change that breaks the benchmark is seen in CI."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = [pytest.mark.integration, pytest.mark.slow]

REPO = Path(__file__).resolve().parents[2]


def test_the_export_benchmark_packs_both_sizes_and_compares_their_peaks():
    done = subprocess.run(
        [sys.executable, "bench/exports.py", "--smoke"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    rows = re.findall(r"^\s+(8|32)\s+[\d.]+ MB\s+([\d.]+) s\s+([\d.]+) s\s", done.stdout, flags=re.M)
    assert [files for files, _, _ in rows] == ["8", "32"], done.stdout
    assert re.search(r"export peak memory at 32 files is [\d.]+x the peak at 8 files", done.stdout), done.stdout
