"""The live plan of the Generate page (`POST /api/v1/jobs/plan`) under 32 clients, beside `GET /api/v1/tenant`.

    .venv/bin/python bench/plan.py [--clients 32] [--seconds 10] [--moderation-latency-ms 0] [--prompts 8]
    .venv/bin/python bench/plan.py --smoke      # a few seconds: the whole path once, for the test suite

What it does, all on this machine (bench/stack.py: its own database and Redis prefix, dropped at the end):
- seeds the demo tenant (`ui.demo.demo_seed`: brand policy, placements, safety configuration, the
  `demo-integration` key with `jobs:write`);
- starts the emulator, whose Content Safety endpoints answer the platform's Azure client (the moderation
  backend of `make run`), optionally with a latency per call (`--moderation-latency-ms`; a real Azure
  resource answers in tens to hundreds of milliseconds);
- starts gunicorn as `make run` does (gthread, 2 x CPUs + 1 workers, 4 threads, production settings) twice:
  first with the moderation cache off (`MODERATION_CACHE_SECONDS=0`, the platform before the cache), then on
  (the default), and in each measures `GET /api/v1/tenant` (the cheapest keyed call: the floor) and the plan;
- the plan's clients cycle through `--prompts` different prompts (each with a German copy), as people editing
  options of a prompt they have typed do: the first plan of each text is checked by Content Safety, repeats
  are answered from the cache;
- prints requests per second, p50 and p99 of each, the Content Safety calls the emulator counted, and the
  plan's p50 as a multiple of the floor's.

The load generator is threads with keep-alive HTTP/1.1 connections in this process, on the same CPUs as the
server: which is why the floor is measured in the same run. Exit status 1 if any request was not answered 200.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import sys
import threading
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.figures import percentile
from bench.stack import EMULATOR_API_KEY, Stack, run_main

TENANT_PATH = "/api/v1/tenant"
PLAN_PATH = "/api/v1/jobs/plan"


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--clients", type=int, default=32, help="concurrent keep-alive clients")
    parser.add_argument("--seconds", type=float, default=10.0, help="length of each measurement")
    parser.add_argument("--warmup-seconds", type=float, default=2.0)
    parser.add_argument("--prompts", type=int, default=8, help="different prompt texts the clients cycle through")
    parser.add_argument("--moderation-latency-ms", type=int, default=0, help="the emulator's Content Safety latency")
    parser.add_argument("--web-workers", type=int, default=2 * (os.cpu_count() or 1) + 1)
    parser.add_argument("--web-threads", type=int, default=4)
    parser.add_argument(
        "--smoke", action="store_true", help="2 clients, 1 s each, 1 web worker: the path, not a figure"
    )
    args = parser.parse_args()
    if args.smoke:
        args.clients, args.seconds, args.warmup_seconds, args.prompts, args.web_workers = 2, 1.0, 0.0, 2, 1
    return args


def _bodies(count: int) -> list[bytes]:
    return [
        json.dumps(
            {
                "prompt": f"A kayak on a misty mountain lake at dawn, variant {index}",
                "quality": "low",
                "placements": ["pdp-square", "hero-desktop"],
                "locales": {"de": f"Sommerverkauf, Variante {index}"},
            }
        ).encode()
        for index in range(count)
    ]


def _measure(port: int, *, path: str, token: str, bodies: list[bytes] | None, clients: int, seconds: float) -> dict:
    """`clients` threads, each on its own keep-alive connection, asking as fast as answers come for `seconds`."""
    latencies: list[float] = []
    statuses: dict[str, int] = {}
    lock = threading.Lock()
    start = threading.Barrier(clients + 1)
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json", "Accept": "application/json"}

    def client(index: int) -> None:
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        mine, seen = [], {}
        start.wait()
        deadline = time.monotonic() + seconds
        count = index
        while time.monotonic() < deadline:
            body = bodies[count % len(bodies)] if bodies else None
            count += clients
            began = time.perf_counter()
            try:
                connection.request("POST" if body else "GET", path, body=body, headers=headers)
                response = connection.getresponse()
                response.read()
                outcome = str(response.status)
            except (OSError, http.client.HTTPException) as exc:
                outcome = type(exc).__name__
                connection.close()
                connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
            mine.append(time.perf_counter() - began)
            seen[outcome] = seen.get(outcome, 0) + 1
        connection.close()
        with lock:
            latencies.extend(mine)
            for outcome, number in seen.items():
                statuses[outcome] = statuses.get(outcome, 0) + number

    threads = [threading.Thread(target=client, args=(i,)) for i in range(clients)]
    for thread in threads:
        thread.start()
    start.wait()
    began = time.monotonic()
    for thread in threads:
        thread.join()
    elapsed = time.monotonic() - began
    return {
        "requests": len(latencies),
        "statuses": statuses,
        "rps": len(latencies) / elapsed,
        "p50": percentile(latencies, 50) * 1000,
        "p99": percentile(latencies, 99) * 1000,
    }


def _content_safety_calls(emulator: Any) -> int:
    calls = emulator.stats()["content_safety"]["calls"]
    return sum(calls.get(name, 0) for name in ("text_analyze", "shield_prompt"))


def main() -> int:
    args = parse_args()
    with Stack("plan") as stack:
        stack.prepare_data_stores()
        stack.setup_django()
        from ui.demo import demo_seed

        token = demo_seed().api_keys["demo-integration"]
        emulator = stack.start_emulator(render="plain")
        emulator.configure(content_safety={"latency_ms": args.moderation_latency_ms})
        moderation_env = {
            "MODERATION_BACKEND": "azure",
            "CONTENT_SAFETY_ENDPOINT": emulator.base_url,
            "CONTENT_SAFETY_KEY": EMULATOR_API_KEY,
        }
        bodies = _bodies(args.prompts)
        results: dict[str, dict[str, dict]] = {}
        for label, cache_seconds in (("cache off", "0"), ("cache on", "3600")):
            web = stack.start_web(
                workers=args.web_workers,
                threads=args.web_threads,
                env={**moderation_env, "MODERATION_CACHE_SECONDS": cache_seconds},
            )
            port = int(web.rsplit(":", 1)[1])
            for path, payload in ((TENANT_PATH, None), (PLAN_PATH, bodies)):  # warm-up: pools, imports
                if args.warmup_seconds:
                    _measure(
                        port, path=path, token=token, bodies=payload, clients=args.clients, seconds=args.warmup_seconds
                    )
            before = _content_safety_calls(emulator)
            measure = {"token": token, "clients": args.clients, "seconds": args.seconds}
            floor = _measure(port, path=TENANT_PATH, bodies=None, **measure)
            plan = _measure(port, path=PLAN_PATH, bodies=bodies, **measure)
            plan["content_safety_calls"] = _content_safety_calls(emulator) - before
            results[label] = {"floor": floor, "plan": plan}
            stack.stop_child("web")
    return _report(args, results)


def _report(args: argparse.Namespace, results: dict[str, dict[str, dict]]) -> int:
    from bench.figures import header

    header(
        "Live plan (POST /api/v1/jobs/plan) beside GET /api/v1/tenant" + (" (smoke)" if args.smoke else ""),
        {
            "web": f"gunicorn gthread {args.web_workers}x{args.web_threads}, DEBUG=0",
            "load": f"{args.clients} keep-alive clients, {args.seconds:.0f} s per endpoint "
            f"(after {args.warmup_seconds:.0f} s of warm-up)",
            "plan body": f"{args.prompts} prompts in turn, each with a German copy, 2 placements",
            "moderation": f"Azure Content Safety client -> emulator, {args.moderation_latency_ms} ms per call",
        },
    )
    print(f"   {'run':<10} {'endpoint':<28} {'requests':>9} {'req/s':>8} {'p50 ms':>8} {'p99 ms':>8}  answers")
    failed = False
    for label, pair in results.items():
        for name, result in (("GET /api/v1/tenant", pair["floor"]), ("POST /api/v1/jobs/plan", pair["plan"])):
            answers = ", ".join(f"{status}: {count}" for status, count in sorted(result["statuses"].items()))
            failed |= set(result["statuses"]) != {"200"}
            print(
                f"   {label:<10} {name:<28} {result['requests']:>9} {result['rps']:>8.1f} "
                f"{result['p50']:>8.1f} {result['p99']:>8.1f}  {answers}"
            )
        plan = pair["plan"]
        print(
            f"   {label:<10} plan p50 / tenant p50: {plan['p50'] / pair['floor']['p50']:.1f}x; Content Safety calls "
            f"during the plan's {plan['requests']} requests: {plan['content_safety_calls']}"
        )
    if failed:
        print("   FAILED: some requests were not answered 200")
    return 1 if failed else 0


if __name__ == "__main__":
    run_main(main)
