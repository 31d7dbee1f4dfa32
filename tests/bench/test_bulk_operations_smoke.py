"""bench/bulk_operations.py --smoke: 150 assets tagged in the request, then by a bulk operation (by ids and by
filter) over HTTP with a real worker, in a database of its own, so a change that breaks the benchmark is seen in CI."""

from __future__ import annotations

import re

import pytest

from tests.support.bench import bench_output

pytestmark = [pytest.mark.integration, pytest.mark.slow]


def test_the_bulk_operations_benchmark_tags_every_asset_once_in_the_background():
    out = bench_output("bench/bulk_operations.py", "--smoke")
    rows = re.findall(
        r"^\s+(background, (?:ids|filter)[^\d]*?)\s+(\d+) ms\s+[\d.]+ s\s+\d+/s\s+yes\s+\{1\}$", out, re.M
    )
    assert [name.strip() for name, _ in rows] == ["background, ids (first)", "background, ids", "background, filter"], (
        out
    )
    assert "every asset tagged, one asset.updated event each: yes" in out, out
    assert re.search(r"slowest 202: [\d.]+ ms", out), out
