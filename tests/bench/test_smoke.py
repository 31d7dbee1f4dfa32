"""Every benchmark's smoke mode (tiny sizes, the same code path as the full run), so a change that breaks a benchmark
fails the suite instead of the next person who measures something. bench/plan.py and bench/ledger_reports.py have
files of their own (test_plan_smoke.py, test_ledger_reports_smoke.py); bench/all.py's list is checked against
the scripts in bench/ so a new benchmark cannot be left out."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.support.bench import bench_output

REPO = Path(__file__).resolve().parents[2]


def _row(stdout: str, label: str) -> list[str]:
    """The cells after `label` in one of the figures tables (columns are two or more spaces apart)."""
    match = re.search(rf"^\s+{re.escape(label)}\s+(.*)$", stdout, flags=re.M)
    assert match, stdout
    return re.split(r"\s{2,}", match[1].strip())


@pytest.mark.integration
@pytest.mark.slow
def test_throughput_smoke_runs_every_job_through_the_worker_node():
    out = bench_output("bench/throughput.py", "--smoke")
    assert "job states: {'succeeded': 8}" in out, out
    assert _row(out, "baseline: direct calls, 4 in flight")[0] == "8"
    platform = _row(out, "platform: queued jobs -> succeeded")
    assert platform[0] == "8" and int(platform[-1]) <= 4  # never more calls out than the node may have


@pytest.mark.integration
@pytest.mark.slow
def test_overhead_smoke_measures_each_job_and_its_split():
    out = bench_output("bench/overhead.py", "--smoke")
    assert _row(out, "baseline: call + decode + write file")[0] == "3"
    assert _row(out, "platform: API submit -> succeeded")[0] == "3"
    for part in ("API: request sent -> job row inserted", "dispatch: job row -> claimed by the worker"):
        assert re.search(rf"{re.escape(part)}\s+[\d.]+ ms /\s+[\d.]+ ms", out), out


@pytest.mark.integration
@pytest.mark.slow
def test_quota_smoke_stays_in_the_quota_and_traces_every_call():
    out = bench_output("bench/quota.py", "--smoke")
    assert "job states: {'succeeded': 6}" in out, out
    calls, four_twenty_nines = _row(out, "platform: jobs through the worker")[:2]
    assert (calls, four_twenty_nines) == ("6", "0")
    assert "6 of 6 calls traced" in out, out


@pytest.mark.integration
@pytest.mark.slow
def test_renditions_smoke_compares_the_engines_and_the_pipelines():
    out = bench_output("bench/renditions.py", "--smoke")
    assert "source 1920x1080" in out, out
    for label in ("all Pillow (baseline)", "all pyvips", "measured choice", "application table"):
        assert re.search(rf"^\s+{re.escape(label)}\s+\d+ ms$", out, flags=re.M), out
    assert re.search(r"the table (matches|differs from) this run's measurement", out), out


@pytest.mark.integration
@pytest.mark.slow
def test_storefront_smoke_serves_the_list_and_its_baseline_and_drops_its_database():
    out = bench_output("bench/storefront.py", "--smoke")
    counts = dict(re.findall(r"(\d+): (\d+)", re.search(r"by page size: (.*) \(", out)[1]))
    assert set(counts) == {"1", "24"} and len(set(counts.values())) == 1, out  # one count whatever the page size
    for label in ("baseline: same JSON from memory (round 1)", "GET storefront list, 24 per page (round 1)"):
        assert int(_row(out, label)[0]) > 0
    database = re.search(r"database (dam_bench_storefront_\w+)", out)[1]
    assert not _database_exists(database)


@pytest.mark.integration
@pytest.mark.slow
def test_job_sql_smoke_counts_the_statements_of_one_job():
    out = bench_output("bench/job_sql.py", "--smoke")
    match = re.search(r"job 2: state succeeded; (\d+) statements", out)
    assert match and int(match[1]) > 0, out
    assert re.search(r"by kind: .*UPDATE \d+", out), out


def test_stacks_summarises_a_collapsed_profile(tmp_path):
    profile = tmp_path / "worker.collapsed.txt"
    profile.write_text(
        "main (celery.py:1);job_run (generation/services/execution.py:10);post (httpx.py:5) 30\n"
        "main (celery.py:1);idle (threading.py:2) 10\n"
    )
    out = bench_output("bench/stacks.py", str(profile), "--only", "generation/")
    assert out.startswith("30 samples"), out
    assert "job_run (generation/services/execution.py)" in out and "idle" not in out, out


def test_bench_all_lists_every_benchmark_in_the_folder():
    from bench.all import BENCHMARKS

    # A benchmark is a script (it runs as __main__); the modules it imports are not. Tools that are scripts too:
    tools = {"all", "stacks", "storefront_seed"}
    scripts = {path.stem for path in (REPO / "bench").glob("*.py") if "__main__" in path.read_text()} - tools
    assert scripts == set(BENCHMARKS)


def _database_exists(name: str) -> bool:
    import psycopg

    from bench.stack import BENCH_POSTGRES_URL

    with psycopg.connect(BENCH_POSTGRES_URL) as connection:
        return connection.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone() is not None


@pytest.mark.integration
def test_dispatch_smoke_fills_the_pool_and_keeps_the_interactive_lane_first():
    out = bench_output("bench/dispatch_smoke.py", "--smoke")
    busiest = re.search(r"busiest window: (\d+) \(limit (\d+)\)", out)
    assert busiest and int(busiest[1]) <= int(busiest[2]), out  # never over the pool's quota
    assert "bulk calls granted while one waited: max 0" in out, out
    assert re.search(r"Redis commands per granted call: acquire [0-9.]+", out), out
