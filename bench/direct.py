"""Baselines without the platform: call the emulator directly and write the image file, nothing else.

What is left of a platform figure after subtracting these is what the platform itself costs.
"""

from __future__ import annotations

import base64
import ssl
import threading
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import certifi
import httpx
from stack import EMULATOR_API_KEY, Emulator


@dataclass(frozen=True)
class DirectCall:
    started_at: float  # unix time
    emulator_seconds: float  # the HTTP call, sent to response read (as the platform's Foundry client measures it)
    total_seconds: float  # the call plus decoding and writing the file
    status: int

    @property
    def overhead(self) -> float:
        return self.total_seconds - self.emulator_seconds


def call_and_write(client: httpx.Client, url: str, body: dict[str, Any], path: Path) -> DirectCall:
    started_at, started = time.time(), time.perf_counter()
    response = client.post(url, json=body)
    answered = time.perf_counter()
    if response.status_code == 200:
        data = base64.b64decode(response.json()["data"][0]["b64_json"])
        path.write_bytes(data)
    return DirectCall(started_at, answered - started, time.perf_counter() - started, response.status_code)


def direct_calls(
    *, emulator: Emulator, bodies: Sequence[dict[str, Any]], concurrency: int, out_dir: Path
) -> list[DirectCall]:
    """Each body once, `concurrency` at a time, one fresh connection per call (as the platform opens one per job).

    The TLS context is made once and shared, as the platform's Foundry client does: building one loads the CA
    bundle (~20 ms of CPU), which 50 clients made at once would otherwise charge to the baseline."""
    out_dir.mkdir(parents=True, exist_ok=True)
    headers = {"api-key": EMULATOR_API_KEY}
    tls = ssl.create_default_context(cafile=certifi.where())

    def one(indexed: tuple[int, dict[str, Any]]) -> DirectCall:
        index, body = indexed
        with httpx.Client(headers=headers, timeout=120, verify=tls) as client:
            return call_and_write(client, emulator.generations_url, body, out_dir / f"direct-{index}.img")

    with ThreadPoolExecutor(max_workers=concurrency, thread_name_prefix="direct") as pool:
        return list(pool.map(one, enumerate(bodies)))


@dataclass(frozen=True)
class NaiveAttempt:
    at: float
    status: int


def naive_quota_client(
    *, emulator: Emulator, body: dict[str, Any], concurrency: int, seconds: float
) -> list[NaiveAttempt]:
    """`concurrency` callers without any shared limiter, each honouring the 429's retry-after, for `seconds`."""
    headers = {"api-key": EMULATOR_API_KEY}
    attempts: list[NaiveAttempt] = []
    lock = threading.Lock()
    deadline = time.monotonic() + seconds

    def caller(_: int) -> None:
        with httpx.Client(headers=headers, timeout=120) as client:
            while time.monotonic() < deadline:
                at = time.time()
                response = client.post(emulator.generations_url, json=body)
                with lock:
                    attempts.append(NaiveAttempt(at, response.status_code))
                if response.status_code == 429:
                    wait = float(response.headers.get("retry-after-ms", 1000)) / 1000
                    time.sleep(min(wait, max(0.0, deadline - time.monotonic())))

    with ThreadPoolExecutor(max_workers=concurrency, thread_name_prefix="naive") as pool:
        list(pool.map(caller, range(concurrency)))
    return attempts
