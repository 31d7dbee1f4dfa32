"""bench/exports.py --smoke: seeding, the streaming-copy baseline, the export (create + build, in process) and the
in-memory comparison at two sizes, in a database of its own, so a change that breaks the benchmark is seen in CI."""

from __future__ import annotations

import re

import pytest

from tests.support.bench import bench_output

pytestmark = [pytest.mark.integration, pytest.mark.slow]


def test_the_export_benchmark_packs_both_sizes_and_compares_their_peaks():
    out = bench_output("bench/exports.py", "--smoke")
    rows = re.findall(r"^\s+(8|32)\s+[\d.]+ MB\s+([\d.]+) s\s+([\d.]+) s\s", out, flags=re.M)
    assert [files for files, _, _ in rows] == ["8", "32"], out
    assert re.search(r"export peak memory at 32 files is [\d.]+x the peak at 8 files", out), out
