"""The per-request usage export an operator downloads from the provider to reconcile what was billed.

One row per image call that a deployment answered with a billable result: a 2xx, including a call whose caller
had already disconnected when the answer was ready (the service does not cancel a generation when the client
leaves; that is the lost answer a platform must reconcile) and a `malformed` 200 (generated, then the answer was
broken on the way). Refusals before generating (401, 404, 429, 503, input content filter) are not billed; an
output the moderation blocked (400 `moderation_blocked`) is not exported either: the emulator treats it as unbilled,
as it answers no image and no `usage` (the service's billing of blocked outputs is not published).

Field names follow Azure Monitor's RequestResponse log and OpenAI's usage export: time, deployment, region,
operation, request_id (apim-request-id), client_request_id (x-ms-client-request-id), status, input_tokens,
output_tokens, total_tokens, images, quality, size (plus data_zone, deployment_type, client_disconnected).
"""

from __future__ import annotations

import csv
import io
import threading
from collections import deque
from dataclasses import asdict, dataclass, fields
from datetime import UTC, datetime
from typing import Any


@dataclass(frozen=True)
class UsageRow:
    time: str  # ISO 8601, UTC: when the answer was ready
    deployment: str
    region: str | None
    operation: str  # ImageGenerations_Create | ImageEdits_Create
    request_id: str
    client_request_id: str | None
    status: int
    input_tokens: int
    output_tokens: int
    total_tokens: int
    images: int
    quality: str | None
    size: str | None
    data_zone: str | None = None
    deployment_type: str | None = None
    client_disconnected: bool = False


COLUMNS = [f.name for f in fields(UsageRow)]


def iso_time(unix_seconds: float) -> str:
    return datetime.fromtimestamp(unix_seconds, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def parse_since(value: str) -> datetime:
    """An ISO 8601 time (`Z` or an offset; a naive time is UTC). Raises ValueError."""
    text = value.strip().replace("Z", "+00:00")
    if "T" in text:  # an unencoded "+00:00" in a query string arrives as " 00:00"
        text = text.replace(" ", "+")
    moment = datetime.fromisoformat(text)
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


class UsageLog:
    """The newest `limit` rows (memory stays bounded on long benchmark runs). Rendering threads never write it,
    but the lock keeps a snapshot consistent if one ever does."""

    def __init__(self, limit: int = 100_000) -> None:
        self._lock = threading.Lock()
        self._rows: deque[UsageRow] = deque(maxlen=limit or None)
        self.limit = limit
        self.dropped = 0

    def set_limit(self, limit: int) -> None:
        with self._lock:
            kept = list(self._rows)[-limit:] if limit else list(self._rows)
            self.dropped += len(self._rows) - len(kept)
            self._rows = deque(kept, maxlen=limit or None)
            self.limit = limit

    def append(self, row: UsageRow) -> None:
        with self._lock:
            if self._rows.maxlen is not None and len(self._rows) == self._rows.maxlen:
                self.dropped += 1
            self._rows.append(row)

    def clear(self) -> None:
        with self._lock:
            self._rows.clear()
            self.dropped = 0

    def rows(self, *, since: datetime | None = None, deployment: str | None = None) -> list[UsageRow]:
        with self._lock:
            rows = list(self._rows)
        if deployment:
            rows = [row for row in rows if row.deployment == deployment]
        if since is not None:
            rows = [row for row in rows if parse_since(row.time) >= since]
        return rows


def rows_json(rows: list[UsageRow], *, dropped: int) -> dict[str, Any]:
    return {"object": "list", "data": [asdict(row) for row in rows], "count": len(rows), "dropped": dropped}


def rows_csv(rows: list[UsageRow]) -> str:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=COLUMNS, lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow({key: ("" if value is None else value) for key, value in asdict(row).items()})
    return buffer.getvalue()
