"""What the emulator saw: image calls by endpoint kind and status, faults, tokens, and the recent requests.

Tests assert on it ("the job made exactly 2 image calls"); benchmarks read `max_in_flight`.
"""

from __future__ import annotations

import threading
from collections import Counter, deque
from dataclasses import asdict, dataclass
from typing import Any


@dataclass
class CallRecord:
    request_id: str
    at: float  # unix time the call arrived
    kind: str  # generations | edits
    api: str  # azure (deployments URL) | v1
    deployment: str
    client_request_id: str | None = None  # the caller's x-ms-client-request-id
    region: str | None = None  # the pool deployment's region (generation.emulator.deployments)
    # The caller left while the call was generated and the deployment bills that (the answer went nowhere).
    client_disconnected: bool = False
    prompt: str | None = None
    size: str | None = None
    quality: str | None = None
    n: int | None = None
    output_format: str | None = None
    input_images: int = 0
    has_mask: bool = False
    status: int = 0
    error_code: str | None = None
    fault: str | None = None
    text_fault: str | None = None  # the in-image copy drawn wrong on purpose (a TextFault value)
    images: int = 0
    total_tokens: int = 0
    duration_ms: int = 0


class EmulatorStats:
    def __init__(self, recent_limit: int = 200) -> None:
        self._lock = threading.Lock()
        self.recent_limit = recent_limit
        self._in_flight = 0
        self.reset()

    def reset(self) -> None:
        with self._lock:
            self._calls: Counter[str] = Counter()
            self._by_status: Counter[str] = Counter()
            self._by_kind_status: dict[str, Counter[str]] = {}
            self._faults: Counter[str] = Counter()
            self._images = 0
            self._tokens: Counter[str] = Counter()
            self._recent: deque[CallRecord] = deque(maxlen=self.recent_limit or None)
            # Calls in flight across a reset still finish later: keep counting them.
            self._max_in_flight = self._in_flight

    def set_recent_limit(self, limit: int) -> None:
        with self._lock:
            self.recent_limit = limit
            self._recent = deque(list(self._recent)[-limit:] if limit else [], maxlen=limit or None)

    def started(self) -> None:
        with self._lock:
            self._in_flight += 1
            self._max_in_flight = max(self._max_in_flight, self._in_flight)

    def finished(self, record: CallRecord, usage: dict[str, Any] | None) -> None:
        with self._lock:
            self._in_flight -= 1
            self._calls[record.kind] += 1
            self._by_status[str(record.status)] += 1
            self._by_kind_status.setdefault(record.kind, Counter())[str(record.status)] += 1
            if record.fault:
                self._faults[record.fault] += 1
            self._images += record.images
            if usage:
                self._tokens["input"] += usage["input_tokens"]
                self._tokens["text_input"] += usage["input_tokens_details"]["text_tokens"]
                self._tokens["image_input"] += usage["input_tokens_details"]["image_tokens"]
                self._tokens["output"] += usage["output_tokens"]
                self._tokens["total"] += usage["total_tokens"]
            if self.recent_limit:
                self._recent.append(record)

    def snapshot(self) -> dict[str, Any]:
        with self._lock:
            return {
                "image_calls": sum(self._calls.values()),
                "calls": {"generations": self._calls["generations"], "edits": self._calls["edits"]},
                "by_status": dict(self._by_status),
                "by_kind_status": {kind: dict(counts) for kind, counts in self._by_kind_status.items()},
                "faults": dict(self._faults),
                "images_returned": self._images,
                "tokens": {key: self._tokens[key] for key in ("input", "text_input", "image_input", "output", "total")},
                "in_flight": self._in_flight,
                "max_in_flight": self._max_in_flight,
                "recent": [asdict(record) for record in self._recent],
            }
