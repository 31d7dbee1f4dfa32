"""bench/brand_checks.py --smoke: the benchmark's whole path (one 2048x2048 render, every check timed, the logo
sweep) in a few seconds, so a change that breaks the benchmark is seen in CI."""

from __future__ import annotations

import re

import pytest

from tests.support.bench import bench_output

pytestmark = [pytest.mark.slow]


def test_the_brand_checks_benchmark_runs_and_finds_the_logo_only_where_it_is():
    out = bench_output("bench/brand_checks.py", "--smoke")
    rows = re.findall(r"^(palette|legibility \(8 lines\)|logo [\w %]+?|logo evidence PNG)\s+(\d+)\s+(\d+)", out, re.M)
    assert {name for name, _, _ in rows} >= {"palette", "legibility (8 lines)", "logo absent"}, out
    sweep = dict(re.findall(r"(\d+)% (\d)/1", out))
    assert sweep["0"] == "0" and sweep["10"] == "1", out  # nothing found where nothing was pasted
