"""Storefront list endpoint under concurrent load, beside a minimal in-memory Django view.

    .venv/bin/python bench/storefront.py [--assets 200] [--concurrency 16] [--seconds 8] [--rounds 2]
    .venv/bin/python bench/storefront.py --smoke    # a few seconds: the whole path, for the test suite

What it does, all on this machine:
- creates a database of its own, `dam_bench_storefront_<run id>`, dropped at the end (or drops and
  re-creates the one BENCH_STOREFRONT_DATABASE_URL names, which must start with `dam_bench` and is
  kept), migrates it and seeds one tenant with N approved
  assets, each with its original and 4 renditions (placements and widths), and a storefront key;
- starts gunicorn (gthread) with production settings (DEBUG=0) on a free port of 127.0.0.1;
- counts the SQL queries of an uncached list page for page sizes 1, 24, 100 and 200 (the same
  count whatever the size; sizes above N are left out);
- checks that the list's bytes are the reference serializer's (the page is built from rows,
  `dam.api.storefront_page`; the reference is `storefront_asset_data` over model instances);
- measures `GET /api/v1/storefront/assets?page_size=24` (API key, DRF, the per-process caches that
  the change feed keeps honest: `docs/storefront.md`) and `GET /bench/baseline`, a plain Django
  view returning the same bytes from memory, alternating rounds so both see the same machine state;
- prints requests per second, p50 and p99 for each, and the storefront's share of the baseline.

The load generator is a few processes of keep-alive HTTP/1.1 clients; it runs on the same two
cores as the server, which is why the baseline is measured in the same run.
"""

from __future__ import annotations

import argparse
import http.client
import json
import math
import multiprocessing
import os
import platform
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from urllib.parse import urlparse

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

# A database per run unless one is named: two runs (a CI job's smoke beside someone's full run) never meet.
DATABASE_URL = os.environ.get(
    "BENCH_STOREFRONT_DATABASE_URL", f"postgres://postgres@127.0.0.1:5432/dam_bench_storefront_{uuid.uuid4().hex[:8]}"
)
KEEP_DATABASE = "BENCH_STOREFRONT_DATABASE_URL" in os.environ
PAGE_SIZES = (1, 24, 100, 200)
LIST_PATH = "/api/v1/storefront/assets?page_size=24"
BASELINE_PATH = "/bench/baseline"
# The cheapest authenticated API call: the floor any keyed endpoint stands on (auth, DRF, JSON).
FLOOR_PATH = "/api/v1/tenant"
# The same page under a query string never seen before, each request: every one is rendered.
UNCACHED_PATH = LIST_PATH + "&tag=sneakers&request={n}"


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    rank = (len(ordered) - 1) * q / 100
    low, high = math.floor(rank), math.ceil(rank)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _env(media_root: str, baseline_json: str) -> dict[str, str]:
    from cryptography.fernet import Fernet

    env = dict(os.environ)
    env.update(
        DATABASE_URL=DATABASE_URL,
        DJANGO_SETTINGS_MODULE="bench.storefront_settings",
        DEBUG="0",
        SECRET_KEY="bench-storefront-" + "x" * 40,
        FIELD_ENCRYPTION_KEY=Fernet.generate_key().decode(),
        ALLOWED_HOSTS="127.0.0.1",
        SECURE_SSL_REDIRECT="0",
        MEDIA_ROOT=media_root,
        LOG_LEVEL="warning",
        BENCH_BASELINE_JSON=baseline_json,
        REDIS_URL=os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/7"),
    )
    return env


def _recreate_database(*, create: bool = True) -> None:
    import psycopg

    parsed = urlparse(DATABASE_URL)
    name = parsed.path.lstrip("/")
    if not name.startswith("dam_bench"):
        raise SystemExit(f"BENCH_STOREFRONT_DATABASE_URL must name a dam_bench* database (got {name!r})")
    admin = parsed._replace(path="/postgres").geturl()
    with psycopg.connect(admin, autocommit=True) as connection:
        connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        if create:
            connection.execute(f'CREATE DATABASE "{name}"')


def _seed(env: dict[str, str], assets: int) -> str:
    command = [sys.executable, "-m", "bench.storefront_seed", str(assets)]
    result = subprocess.run(command, cwd=REPO, env=env, capture_output=True, text=True, check=False)
    if result.returncode:
        raise SystemExit(f"seeding failed:\n{result.stderr[-3000:]}")
    return result.stdout.strip().splitlines()[-1]


def _query_counts(env: dict[str, str], token: str, sizes: list[int]) -> dict[int, int]:
    command = [sys.executable, "-m", "bench.storefront_seed", "--queries", token, *map(str, sizes)]
    result = subprocess.run(command, cwd=REPO, env=env, capture_output=True, text=True, check=False)
    if result.returncode:
        raise SystemExit(f"counting queries failed:\n{result.stderr[-3000:]}")
    return {int(size): count for size, count in json.loads(result.stdout.strip().splitlines()[-1]).items()}


def _check_reference(env: dict[str, str], body: bytes, *, origin: str, workdir: Path) -> None:
    """The list builds its page from rows (dam.api.storefront_page): its bytes must be the reference serializer's."""
    answered = workdir / "answered.json"
    answered.write_bytes(body)
    command = [sys.executable, "-m", "bench.storefront_seed", "--reference", str(answered), origin]
    result = subprocess.run(command, cwd=REPO, env=env, capture_output=True, text=True, check=False)
    if result.returncode:
        raise SystemExit(f"the list's bytes are not the reference serializer's:\n{result.stderr[-3000:]}")


def _client(args: tuple[int, str, str, float, int]) -> list[float]:
    """One load process: `threads` keep-alive connections, each sending requests back to back."""
    import threading

    port, path, token, seconds, threads = args
    latencies: list[float] = []
    lock = threading.Lock()
    deadline = time.monotonic() + seconds
    headers = {"Authorization": f"Bearer {token}", "Accept": "application/json"}

    def run() -> None:
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        mine = []
        while time.monotonic() < deadline:
            started = time.perf_counter()
            connection.request(
                "GET", path.format(n=f"{os.getpid()}-{threading.get_ident()}-{len(mine)}"), headers=headers
            )
            response = connection.getresponse()
            response.read()
            if response.status != 200:
                raise RuntimeError(f"{path}: HTTP {response.status}")
            mine.append(time.perf_counter() - started)
        connection.close()
        with lock:
            latencies.extend(mine)

    workers = [threading.Thread(target=run) for _ in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    return latencies


def _measure(port: int, path: str, token: str, *, seconds: float, concurrency: int, processes: int) -> dict:
    per_process = max(1, concurrency // processes)
    with multiprocessing.get_context("spawn").Pool(processes) as pool:
        started = time.monotonic()
        results = pool.map(_client, [(port, path, token, seconds, per_process)] * processes)
        elapsed = time.monotonic() - started
    latencies = [value for chunk in results for value in chunk]
    return {
        "requests": len(latencies),
        "rps": len(latencies) / elapsed,
        "p50": _percentile(latencies, 50) * 1000,
        "p99": _percentile(latencies, 99) * 1000,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--assets", type=int, default=200)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--processes", type=int, default=2, help="load generator processes")
    parser.add_argument("--seconds", type=float, default=8.0)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--workers", type=int, default=3, help="gunicorn workers")
    parser.add_argument("--threads", type=int, default=4, help="gunicorn threads per worker")
    parser.add_argument("--warmup-seconds", type=float, default=2.0)
    parser.add_argument(
        "--smoke", action="store_true", help="30 assets, 2 clients, 0.5 s per endpoint, 1 web worker: the path only"
    )
    options = parser.parse_args()
    if options.smoke:
        options.assets, options.concurrency, options.processes = 30, 2, 1
        options.seconds, options.rounds, options.warmup_seconds, options.workers, options.threads = 0.5, 1, 0.5, 1, 2
    if options.assets < 24:
        raise SystemExit("--assets must be at least 24: the measured page holds 24")

    workdir = Path(tempfile.mkdtemp(prefix="bench-storefront-"))
    try:
        _run(options, workdir)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
        if not KEEP_DATABASE:
            _recreate_database(create=False)


def _run(options: argparse.Namespace, workdir: Path) -> None:
    baseline_json = workdir / "baseline.json"
    baseline_json.write_bytes(b"{}")
    env = _env(str(workdir / "media"), str(baseline_json))
    _recreate_database()
    token = _seed(env, options.assets)
    queries = _query_counts(env, token, [size for size in PAGE_SIZES if size <= options.assets])

    port = _free_port()
    server = subprocess.Popen(
        [
            *(sys.executable, "-m", "gunicorn", "config.wsgi:application", "--bind", f"127.0.0.1:{port}"),
            *("--workers", str(options.workers), "--threads", str(options.threads), "--worker-class", "gthread"),
            *("--keep-alive", "30", "--log-level", "warning"),
        ],
        cwd=REPO,
        env=env,
        start_new_session=True,
    )
    try:
        _wait_for(port)
        # Capture the real answer, hand it to the baseline view, restart the workers to load it.
        body = _get(port, LIST_PATH, token)
        assert len(json.loads(body)["results"]) == 24
        _check_reference(env, body, origin=f"http://127.0.0.1:{port}", workdir=workdir)
        baseline_json.write_bytes(body)
        os.kill(server.pid, signal.SIGHUP)  # gunicorn reloads its workers, which re-read the file
        time.sleep(3)
        _wait_for(port)
        if _get(port, BASELINE_PATH, token) != body:
            raise SystemExit("the baseline view does not answer the same bytes")
        for path in (LIST_PATH, BASELINE_PATH):  # warm-up: connection pools, imports, caches
            _measure(
                port,
                path,
                token,
                seconds=options.warmup_seconds,
                concurrency=options.concurrency,
                processes=options.processes,
            )
        rounds: dict[str, list[dict]] = {LIST_PATH: [], BASELINE_PATH: [], FLOOR_PATH: [], UNCACHED_PATH: []}
        for _ in range(options.rounds):
            for path in (BASELINE_PATH, FLOOR_PATH, LIST_PATH, UNCACHED_PATH):
                rounds[path].append(
                    _measure(
                        port,
                        path,
                        token,
                        seconds=options.seconds,
                        concurrency=options.concurrency,
                        processes=options.processes,
                    )
                )
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=20)

    _report(options, body=body, queries=queries, rounds=rounds)


def _report(options: argparse.Namespace, *, body: bytes, queries: dict[int, int], rounds: dict) -> None:
    from bench.storefront_seed import RENDITIONS

    print("\n== Storefront list: page of 24 assets with renditions ==")
    print(f"   machine: {platform.node()}, {os.cpu_count()} CPUs, Python {platform.python_version()}")
    print(
        f"   gunicorn gthread {options.workers}x{options.threads}, DEBUG=0; load: {options.concurrency} "
        f"keep-alive clients in {options.processes} processes; {options.rounds} rounds of {options.seconds:g} s"
    )
    print(f"   response: {len(body):,} bytes; {options.assets} approved assets, {len(RENDITIONS)} renditions each")
    database = urlparse(DATABASE_URL).path.lstrip("/")
    kept = "kept: BENCH_STOREFRONT_DATABASE_URL" if KEEP_DATABASE else "dropped at the end"
    print(f"   database {database} ({kept})")
    counts = ", ".join(f"{size}: {count}" for size, count in queries.items())
    constant = "constant" if len(set(queries.values())) == 1 else "NOT constant"
    print(f"   SQL queries of an uncached page, by page size: {counts} ({constant})")
    print(f"   {'endpoint':<44} {'requests':>9} {'req/s':>8} {'p50 ms':>8} {'p99 ms':>8}")
    print(f"   (list: GET {LIST_PATH})")
    summary = {}
    labels = (
        (BASELINE_PATH, "baseline: same JSON from memory"),
        (FLOOR_PATH, "GET /api/v1/tenant (auth floor)"),
        (LIST_PATH, "GET storefront list, 24 per page"),
        (UNCACHED_PATH, "the same, a new query string each time"),
    )
    for path, label in labels:
        for index, result in enumerate(rounds[path], 1):
            print(
                f"   {label + f' (round {index})':<44} {result['requests']:>9} {result['rps']:>8.0f} "
                f"{result['p50']:>8.1f} {result['p99']:>8.1f}"
            )
        summary[path] = statistics.median(r["rps"] for r in rounds[path])
    share = summary[LIST_PATH] / summary[BASELINE_PATH]
    print(f"   storefront / baseline (median req/s): {share:.0%}  (target >= 50%)")
    print(f"   auth floor / baseline (median req/s): {summary[FLOOR_PATH] / summary[BASELINE_PATH]:.0%}")
    print(f"   never-cached list / baseline (median req/s): {summary[UNCACHED_PATH] / summary[BASELINE_PATH]:.0%}")


def _get(port: int, path: str, token: str) -> bytes:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    connection.request("GET", path, headers={"Authorization": f"Bearer {token}", "Accept": "application/json"})
    response = connection.getresponse()
    body = response.read()
    if response.status != 200:
        raise SystemExit(f"{path}: HTTP {response.status}: {body[:500]!r}")
    return body


def _wait_for(port: int, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            connection.request("GET", "/healthz")
            if connection.getresponse().status in (200, 503):
                return
        except OSError:
            time.sleep(0.2)
    raise SystemExit(f"gunicorn did not answer on port {port}")


if __name__ == "__main__":
    main()
