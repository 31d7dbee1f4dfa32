"""bench/pool.py --smoke: the five runs of the Capacity benchmarks at toy sizes (their own database, the emulator's
pool of deployments, real workers killed with SIGKILL, reconciliation with the usage export), each printing its
figures beside its baseline and a verdict per target, so a change that breaks one is seen."""

from __future__ import annotations

import re

import pytest

from tests.support.bench import bench_output

pytestmark = [pytest.mark.integration, pytest.mark.slow]

VERDICTS = (
    "run 1 utilisation of the combined quota",
    "run 1 429 share",
    "run 1 jobs not run exactly once",
    "run 2 jobs lost",
    "run 2 jobs doubled",
    "run 2 utilisation of the deployments that stayed up, during the outage",
    "run 2 calls to the down deployment beyond its probes",
    "run 3 B p95 wait per queued B call (emulated)",
    "run 3 A throughput loss",
    "run 4 answers neither confirmed nor provisional before reconciliation",
    "run 4 confirmed charges unlike the provider's answers after reconciliation",
    "run 4 provisional charges left after reconciliation",
    "run 5 throughput of two nodes / one node",
)


def _cells(out: str, label: str) -> list[str]:
    match = re.search(rf"^\s+{re.escape(label)}\s+(.*)$", out, flags=re.M)
    assert match, f"no row {label!r} in:\n{out}"
    return re.split(r"\s{2,}", match[1].strip())


def test_every_run_prints_its_figures_beside_its_baseline_and_its_verdicts():
    out = bench_output("bench/pool.py", "--smoke", timeout=300)
    for name in VERDICTS:
        assert re.search(rf"^   {re.escape(name)}: .* -> (MET|MISSED)$", out, flags=re.M), f"{name!r} missing:\n{out}"

    # Run 1: both dispatchers made every call; every platform job ran once.
    assert _cells(out, "baseline: LiteLLM-like router")[0] == "12"
    assert _cells(out, "platform: pool dispatcher")[:2] == ["12", "0"]
    assert "'succeeded': 12, 'lost': 0, 'one response': 12, 'billed once': 12" in out, out

    # Run 3: B's waits beside the FIFO baseline, and A's throughput both ways.
    assert len(_cells(out, "baseline: one FIFO queue (computed)")) == 4
    assert _cells(out, "platform: interactive lane")[-1].endswith("(A with B)")

    # Run 4: the drill killed a worker with calls out; the ledger held every answer, then matched the export.
    before = _cells(out, "platform before reconciliation")
    after = _cells(out, "platform after reconciliation")
    answers = int(before[0])
    assert answers >= 8 and int(before[3]) == 0, out
    assert after == [str(answers), str(answers), "0", "0"], out
    confirmed_alone = _cells(out, "baseline: confirmed charges alone")
    assert int(confirmed_alone[1]) + int(before[2]) == answers

    # Run 5: jobs/s of each layout.
    assert float(_cells(out, "baseline: one node")[0]) > 0 and float(_cells(out, "platform: two nodes")[0]) > 0
    assert re.search(r"^   pool\s+\d of 3 targets met$", out, flags=re.M), out
