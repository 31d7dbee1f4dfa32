"""bench/campaign_grid.py --smoke: seeding a campaign's cells with outputs, the grid JSON next to the job JSON of as
many outputs, and the query counts at two sizes, in a database of its own, so a change that breaks it is seen."""

from __future__ import annotations

import re

import pytest

from tests.support.bench import bench_output

pytestmark = [pytest.mark.integration, pytest.mark.slow]


def test_the_grid_benchmark_measures_both_sizes_next_to_the_job_page():
    out = bench_output("bench/campaign_grid.py", "--smoke")
    rows = re.findall(r"^\s+(2x2x1|3x3x2)\s+(\d+)\s+[\d.]+ ms\s+(\d+)\s+\d+ KB\s+[\d.]+ ms\s+(\d+)\s", out, flags=re.M)
    assert [(grid, cells) for grid, cells, _, _ in rows] == [("2x2x1", "4"), ("3x3x2", "18")], out
    assert rows[0][2] == rows[1][2], out  # the grid's queries: constant in the cells
    assert re.search(r"grid queries added from 4 to 18 cells: 0\.0 \(target < 1\) -> MET", out), out
