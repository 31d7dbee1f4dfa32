"""A deployment's RPM/TPM quota over a sliding 60 s window, as Azure enforces it.

TPM is charged with the request's estimated tokens when it is admitted (text + image input + the output
tokens that size, quality and n will cost), as Azure charges estimated tokens up front. Rejected requests
are not charged.
"""

from __future__ import annotations

import bisect
import math
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

WINDOW_SECONDS = 60.0


@dataclass(frozen=True)
class Admission:
    admitted: bool
    retry_after_ms: int = 0
    reason: str = ""  # "call rate limit" or "token rate limit", in Azure's words
    remaining_requests: int | None = None
    remaining_tokens: int | None = None


class QuotaWindow:
    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._entries: deque[tuple[float, int]] = deque()
        self._lock = threading.Lock()

    def reset(self) -> None:
        with self._lock:
            self._entries.clear()

    def now(self) -> float:
        return self._clock()

    def admit(self, *, tokens: int, rpm: int, tpm: int, arrived_at: float | None = None) -> Admission:
        """Charge and admit the request, or say how long until the window has room. 0 means unlimited.

        `arrived_at` (from `now()`): when the request came in. The service counts a call from its arrival;
        reading and pricing the request in between can take a while when this process is busy rendering."""
        with self._lock:
            now = self._clock() if arrived_at is None else min(arrived_at, self._clock())
            while self._entries and self._entries[0][0] <= now - WINDOW_SECONDS:
                self._entries.popleft()
            used_tokens = sum(t for _, t in self._entries)
            if rpm and len(self._entries) >= rpm:
                oldest = self._entries[len(self._entries) - rpm][0]
                return Admission(False, _ms_until(oldest + WINDOW_SECONDS, now), "call rate limit", 0, None)
            if tpm and used_tokens + tokens > tpm:
                return Admission(False, self._ms_until_tokens_free(tokens, tpm, now), "token rate limit")
            bisect.insort(self._entries, (now, tokens))  # arrivals admitted out of order stay sorted
            return Admission(
                True,
                remaining_requests=rpm - len(self._entries) if rpm else None,
                remaining_tokens=tpm - used_tokens - tokens if tpm else None,
            )

    def remaining(self, *, rpm: int, tpm: int) -> tuple[int | None, int | None]:
        """Requests and tokens left in the window now, without charging anything (None: unlimited)."""
        with self._lock:
            now = self._clock()
            while self._entries and self._entries[0][0] <= now - WINDOW_SECONDS:
                self._entries.popleft()
            used_tokens = sum(t for _, t in self._entries)
            return (
                max(0, rpm - len(self._entries)) if rpm else None,
                max(0, tpm - used_tokens) if tpm else None,
            )

    def _ms_until_tokens_free(self, tokens: int, tpm: int, now: float) -> int:
        # A request larger than the whole quota never fits; Azure still answers with a retry hint.
        if tokens > tpm:
            return int(WINDOW_SECONDS * 1000)
        in_window = sum(t for _, t in self._entries)
        for started, charged in self._entries:
            in_window -= charged
            if in_window + tokens <= tpm:
                return _ms_until(started + WINDOW_SECONDS, now)
        return int(WINDOW_SECONDS * 1000)


def _ms_until(moment: float, now: float) -> int:
    return max(1, math.ceil((moment - now) * 1000))
