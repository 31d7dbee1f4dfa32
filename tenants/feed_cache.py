"""In-process caches that the change feed empties (see tenants.change_feed).

Entries belong to a group, the payload the feed's triggers send (a tenant id); a notification
drops its group, one without payload drops everything. A value built from a read that began
before a notification arrived is refused by `put`: it may predate the change.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from typing import Any

from tenants.change_feed import change_feed


class FeedCache:
    def __init__(self, channel: str, *, max_entries: int) -> None:
        self._entries: OrderedDict[Any, tuple[Any, str, float]] = OrderedDict()
        self._groups: dict[str, set] = {}
        self._lock = threading.Lock()
        self._max_entries = max_entries
        self._generation = 0
        change_feed.subscribe(channel, self._on_change)

    def generation(self) -> int:
        """Take this before reading what `put` will store."""
        return self._generation

    def get(self, key: Any) -> Any | None:
        if not change_feed.live():
            return None
        with self._lock:
            entry = self._entries.get(key)
            if entry is None:
                return None
            value, _group, expires_at = entry
            if expires_at <= time.monotonic():
                self._drop(key)
                return None
            self._entries.move_to_end(key)
            return value

    def get_or_load(self, key: Any, load: Callable[[], Any], *, group: str, seconds: float) -> Any:
        """The cached value, else `load()` (kept for `seconds` unless it is None or seconds is 0)."""
        value = self.get(key)
        if value is None:
            generation = self.generation()
            value = load()
            if value is not None and seconds:
                self.put(key, value, group=group, expires_at=time.monotonic() + seconds, generation=generation)
        return value

    def put(self, key: Any, value: Any, *, group: str, expires_at: float, generation: int) -> bool:
        if not change_feed.live():
            return False
        with self._lock:
            if generation != self._generation:
                return False
            self._drop(key)
            self._entries[key] = (value, group, expires_at)
            self._groups.setdefault(group, set()).add(key)
            while len(self._entries) > self._max_entries:
                self._drop(next(iter(self._entries)))
            return True

    def clear(self) -> None:
        self._on_change(None)

    def __len__(self) -> int:
        return len(self._entries)

    def _on_change(self, group: str | None) -> None:
        with self._lock:
            self._generation += 1
            if group is None:
                self._entries.clear()
                self._groups.clear()
                return
            for key in self._groups.pop(group, ()):
                self._entries.pop(key, None)

    def _drop(self, key: Any) -> None:
        entry = self._entries.pop(key, None)
        if entry is not None:
            keys = self._groups.get(entry[1])
            if keys is not None:
                keys.discard(key)
                if not keys:
                    del self._groups[entry[1]]
