"""The baseline: a LiteLLM-router-like dispatcher, written here, driving the same emulator with the same calls.

What it does is what LiteLLM's Router does by default with `routing_strategy="simple-shuffle"` over deployments
that declare an `rpm` (docs.litellm.ai, "Retries, fallbacks and cooldowns"):

- each request picks a deployment at random, weighted by its rpm, among those not cooling down;
- a 429 puts the deployment in cooldown for `cooldown_seconds` (5 s, LiteLLM's DEFAULT_COOLDOWN_TIME_SECONDS); a
  5xx, a timeout or a connection error does too (its default failure threshold is a share of the minute's calls,
  which a down deployment passes at once);
- the router retries the request `num_retries` times (2) on 429, 5xx and timeouts, honouring Retry-After, each
  retry picked again (it may land elsewhere); when every deployment is cooling down it waits for the first to
  come back;
- after the retries the application submits the job again (the platform's jobs also run until they succeed), so
  every job ends with one image and the figures compare the same work.

No shared limiter, no idempotency: a timed-out call is sent again, and paid again if the provider generated it.
The calls carry `x-ms-client-request-id: base-<job>-<n>` so the usage export tells which job each bill was for.
"""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import httpx
from stack import API_VERSION, EMULATOR_API_KEY


@dataclass(frozen=True)
class RouterCall:
    job: int
    deployment: str
    at: float  # unix time it left
    status: int  # 0: timeout or connection error


class LiteLLMLikeRouter:
    def __init__(
        self,
        *,
        base_url: str,
        rpms: dict[str, int],
        cooldown_seconds: float = 5.0,
        num_retries: int = 2,
        read_timeout: float = 60.0,
        seed: int = 7,
    ) -> None:
        self.base_url = base_url
        self.rpms = rpms
        self.cooldown_seconds = cooldown_seconds
        self.num_retries = num_retries
        self.read_timeout = read_timeout
        self._cooling: dict[str, float] = {}
        self._lock = threading.Lock()
        self._random = random.Random(seed)
        self.calls: list[RouterCall] = []

    def _pick(self) -> str | None:
        now = time.monotonic()
        with self._lock:
            ready = [name for name in self.rpms if self._cooling.get(name, 0) <= now]
            if not ready:
                return None
            return self._random.choices(ready, weights=[self.rpms[name] for name in ready])[0]

    def _cool(self, name: str) -> None:
        with self._lock:
            self._cooling[name] = time.monotonic() + self.cooldown_seconds

    def _wait_for_any(self) -> None:
        with self._lock:
            soonest = min(self._cooling.values(), default=time.monotonic())
        time.sleep(max(0.05, soonest - time.monotonic()))

    def _send(self, client: httpx.Client, job: int, attempt: int, name: str, body: dict) -> httpx.Response | None:
        url = f"{self.base_url}/openai/deployments/{name}/images/generations?api-version={API_VERSION}"
        at = time.time()
        try:
            response = client.post(url, json=body, headers={"x-ms-client-request-id": f"base-{job}-{attempt}"})
        except httpx.HTTPError:
            response = None
        with self._lock:
            self.calls.append(RouterCall(job, name, at, response.status_code if response is not None else 0))
        return response

    def run_job(self, client: httpx.Client, job: int, body: dict) -> int:
        """Until the job has its image (router retries, then the application's); returns the calls it made."""
        sent = 0
        while True:
            for retry in range(self.num_retries + 1):
                name = self._pick()
                while name is None:
                    self._wait_for_any()
                    name = self._pick()
                response = self._send(client, job, sent, name, body)
                sent += 1
                if response is not None and response.status_code == 200:
                    return sent
                self._cool(name)
                if retry < self.num_retries:
                    after = response.headers.get("retry-after-ms") if response is not None else None
                    time.sleep(float(after) / 1000 if after else 0.5 * 2**retry)
            time.sleep(1.0)  # the application's resubmission after the router gave up

    def run(self, bodies: list[dict], *, concurrency: int, on_start: Callable[[], None] | None = None) -> float:
        """Every body once (job = its index), `concurrency` at a time; returns the seconds it took."""
        headers = {"api-key": EMULATOR_API_KEY}
        local = threading.local()

        def one(indexed: tuple[int, dict]) -> int:
            client = getattr(local, "client", None)
            if client is None:
                client = local.client = httpx.Client(headers=headers, timeout=httpx.Timeout(self.read_timeout))
            return self.run_job(client, *indexed)

        if on_start is not None:
            on_start()
        started = time.monotonic()
        with ThreadPoolExecutor(max_workers=concurrency, thread_name_prefix="router") as pool:
            list(pool.map(one, enumerate(bodies)))
        return time.monotonic() - started
