"""bench/audit_verify.py --smoke: the seeding by COPY of a real chain, both baselines, the full walk at two sizes,
the pinned checkpoint and the incremental walk over the events after it, in a database of its own."""

from __future__ import annotations

import re

import pytest

from tests.support.bench import bench_output

pytestmark = [pytest.mark.integration, pytest.mark.slow]


def test_the_audit_verify_benchmark_walks_full_and_from_a_checkpoint():
    out = bench_output("bench/audit_verify.py", "--smoke")
    for size in ("1,000", "3,000"):
        for label in (
            "baseline: plain SELECT, same batches",
            "baseline: previous implementation",
            "audit_verify, full",
        ):
            assert re.search(rf"^\s+{re.escape(label)} @ {size}\s+{size}\s+[\d.]+ s\s+[\d,]+/s", out, flags=re.M), out
    # The incremental run walks the 100 events written after the checkpoint and the pin's own event, no more.
    assert re.search(r"audit_verify --since-checkpoint \(#3000 \+ 101\)\s+101\s", out), out
    assert re.search(r"full run's peak memory at 3,000 events is [\d.]+x the peak at 1,000", out), out
