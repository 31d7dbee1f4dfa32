"""bench/plan.py --smoke: the benchmark's whole path (its own stack, gunicorn with the cache off then on, the
emulator's Content Safety endpoints) in a few seconds, so a change that breaks the benchmark is seen in CI."""

from __future__ import annotations

import re

import pytest

from tests.support.bench import bench_output

pytestmark = [pytest.mark.integration, pytest.mark.slow]


def test_the_plan_benchmark_runs_and_the_cache_saves_calls():
    out = bench_output("bench/plan.py", "--smoke")
    row = r"^\s+(cache o\w+)\s+(GET /api/v1/tenant|POST /api/v1/jobs/plan)\s+(\d+) .*200: (\d+)$"
    rows = re.findall(row, out, flags=re.M)
    assert len(rows) == 4, out
    assert all(int(requests) == int(answered) > 0 for _, _, requests, answered in rows), rows
    calls = dict(re.findall(r"^\s+(cache o\w+)\s+plan p50 / tenant p50: .* requests: (\d+)$", out, flags=re.M))
    plans = {run: int(requests) for run, endpoint, requests, _ in rows if endpoint.startswith("POST")}
    # Off: a shield call and two analyses (prompt, German copy) per plan; on: only the first plan of each text.
    assert int(calls["cache off"]) == 3 * plans["cache off"]
    assert int(calls["cache on"]) <= 3 * 2  # two prompts in smoke mode
