"""The emulated Content Safety service's state: configured verdicts, blocklists and call counts.

`ContentSafetyConfig` is what `POST /_emulator/config {"content_safety": {...}}` sets (validated: a bad
value is a `ConfigError` naming the field); `ContentSafetyState` holds it with the blocklists and stats.
"""

from __future__ import annotations

import threading
import time
from collections import Counter, deque
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, fields, replace
from typing import Any

from generation.emulator.config import ConfigError
from governance.safety.categories import CATEGORIES, category_from_provider
from governance.safety.matching import compile_pattern, fold, pattern_occurs, term_occurs


def _severities(name: str, raw: Any) -> dict[str, int]:
    if not isinstance(raw, dict):
        raise ConfigError(f"content_safety.{name}: {raw!r} must be an object of category -> severity 0-7")
    cleaned = {}
    for key, value in raw.items():
        category = category_from_provider(str(key))
        if category is None:
            raise ConfigError(f"content_safety.{name}: {key!r} is not one of {', '.join(CATEGORIES)}")
        if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= 7:
            raise ConfigError(f"content_safety.{name}.{key}: {value!r} is not a severity 0-7")
        cleaned[category] = value
    return cleaned


@dataclass(frozen=True)
class ContentSafetyConfig:
    """The emulator's configurable Content Safety verdicts (validated on construction)."""

    text_severities: dict[str, int] = field(default_factory=dict)  # a floor for every text:analyze
    image_severities: dict[str, int] = field(default_factory=dict)  # every image:analyze
    image_verdict_queue: tuple[dict[str, int], ...] = ()  # the next image:analyze calls, one entry each
    attack_detected: bool = False  # every shieldPrompt reports an attack
    fault_queue: tuple[str, ...] = ()  # "429" | "500" for the next Content Safety calls, one each
    latency_ms: int = 0

    def __post_init__(self) -> None:
        set_ = object.__setattr__
        set_(self, "text_severities", _severities("text_severities", self.text_severities))
        set_(self, "image_severities", _severities("image_severities", self.image_severities))
        queue = self.image_verdict_queue
        if not isinstance(queue, list | tuple):
            raise ConfigError("content_safety.image_verdict_queue: must be a list of category -> severity objects")
        set_(self, "image_verdict_queue", tuple(_severities("image_verdict_queue", entry) for entry in queue))
        if not isinstance(self.attack_detected, bool):
            raise ConfigError("content_safety.attack_detected: must be true or false")
        faults = self.fault_queue
        if not isinstance(faults, list | tuple) or any(str(f) not in ("429", "500") for f in faults):
            raise ConfigError('content_safety.fault_queue: must be a list of "429" or "500"')
        set_(self, "fault_queue", tuple(str(f) for f in faults))
        if isinstance(self.latency_ms, bool) or not isinstance(self.latency_ms, int) or self.latency_ms < 0:
            raise ConfigError("content_safety.latency_ms: must be a non-negative integer")

    def updated(self, changes: Any) -> ContentSafetyConfig:
        if not isinstance(changes, dict):
            raise ConfigError("content_safety: must be an object")
        known = {f.name for f in fields(self)}
        unknown = sorted(set(changes) - known)
        if unknown:
            raise ConfigError(f"content_safety: unknown field(s) {', '.join(unknown)}; known: {', '.join(known)}")
        return replace(self, **changes)

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["image_verdict_queue"] = list(self.image_verdict_queue)
        data["fault_queue"] = list(self.fault_queue)
        return data


@dataclass
class BlocklistItem:
    id: str
    text: str
    is_regex: bool
    description: str

    def to_dict(self) -> dict[str, Any]:
        return {
            "blocklistItemId": self.id,
            "description": self.description,
            "text": self.text,
            "isRegex": self.is_regex,
        }

    def matches(self, text: str) -> bool:
        if self.is_regex:
            return pattern_occurs(compile_pattern(self.text), text)
        return term_occurs(fold(self.text).strip(), fold(text))


@dataclass
class Blocklist:
    name: str
    description: str = ""
    items: dict[str, BlocklistItem] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {"blocklistName": self.name, "description": self.description}


class ContentSafetyState:
    """Blocklists, configured verdicts and call counts of one emulator (locked: handlers may overlap)."""

    def __init__(self, allowed_keys: Callable[[], tuple[str, ...]], config: ContentSafetyConfig | None = None) -> None:
        self.allowed_keys = allowed_keys
        self.start_config = config or ContentSafetyConfig()
        self.config = self.start_config
        self._lock = threading.Lock()
        self.reset(restore_config=True)

    def reset(self, *, restore_config: bool) -> None:
        with self._lock:
            self.blocklists: dict[str, Blocklist] = {}
            self.calls: Counter[str] = Counter()
            self.by_status: Counter[str] = Counter()
            self.recent: deque[dict[str, Any]] = deque(maxlen=200)
            if restore_config:
                self.config = self.start_config

    def configure(self, changes: Any) -> ContentSafetyConfig:
        with self._lock:
            self.config = self.config.updated(changes)
            return self.config

    def next_fault(self) -> str | None:
        with self._lock:
            if not self.config.fault_queue:
                return None
            fault = self.config.fault_queue[0]
            self.config = replace(self.config, fault_queue=self.config.fault_queue[1:])
            return fault

    def next_image_severities(self) -> dict[str, int]:
        with self._lock:
            if self.config.image_verdict_queue:
                head = self.config.image_verdict_queue[0]
                self.config = replace(self.config, image_verdict_queue=self.config.image_verdict_queue[1:])
                return dict(head)
            return dict(self.config.image_severities)

    def record(self, operation: str, status: int, **details: Any) -> None:
        with self._lock:
            self.calls[operation] += 1
            self.by_status[str(status)] += 1
            self.recent.append({"operation": operation, "status": status, "at": time.time(), **details})

    def snapshot(self) -> dict[str, Any]:
        with self._lock:
            return {
                "calls": dict(self.calls),
                "by_status": dict(self.by_status),
                "blocklists": {name: len(blocklist.items) for name, blocklist in self.blocklists.items()},
                "recent": list(self.recent),
            }
