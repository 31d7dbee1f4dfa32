"""The emulator's runtime configuration: the same fields as the command's start options and `/_emulator/config`."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from generation.emulator.text_faults import TextFault


class Fault(StrEnum):
    """Faults that can be forced per request (`x-emulator-fault`), per config (`fault`) or queued (`fault_queue`)."""

    RATE_LIMIT = "429"
    SERVER_ERROR = "500"
    HANG = "hang"
    MALFORMED = "malformed"
    CONTENT_FILTER_INPUT = "content_filter_input"
    CONTENT_FILTER_OUTPUT = "content_filter_output"


# Azure AI Content Safety's harm categories, as named in `content_filter_results`.
CONTENT_CATEGORIES = ("hate", "sexual", "violence", "self_harm")
DEFAULT_CATEGORY = "violence"

# Documented triggers, on by default, so a test can ask for a refusal with nothing but a prompt.
DEFAULT_INPUT_BLOCK_TERM = "emulator-block-input"
DEFAULT_OUTPUT_BLOCK_TERM = "emulator-block-output"


class ConfigError(ValueError):
    """A configuration value that cannot be used; the message names the field."""


def parse_latency(value: Any) -> tuple[int, int]:
    """`2000` or `"2000"` -> (2000, 2000); `"500-1500"` or `[500, 1500]` -> (500, 1500) milliseconds."""
    if isinstance(value, bool):
        raise ConfigError(f"latency_ms: {value!r} is not a number of milliseconds or a range LOW-HIGH")
    if isinstance(value, int | float):
        low = high = int(value)
    elif isinstance(value, list | tuple) and len(value) == 2:
        low, high = (int(v) for v in value)
    elif isinstance(value, str):
        parts = value.strip().split("-")
        if len(parts) not in (1, 2) or not all(p.strip().isdigit() for p in parts):
            raise ConfigError(f"latency_ms: {value!r} must be milliseconds (2000) or a range (500-1500)")
        low, high = int(parts[0]), int(parts[-1])
    else:
        raise ConfigError(f"latency_ms: {value!r} is not a number of milliseconds or a range LOW-HIGH")
    if low < 0 or high < low:
        raise ConfigError(f"latency_ms: range {low}-{high} must be non-negative and ordered")
    return low, high


def parse_block_term(entry: str) -> tuple[str, str]:
    """`"gore"` -> ("violence", "gore"); `"hate:slur"` -> ("hate", "slur"). The category names the filter that fires."""
    category, sep, term = entry.partition(":")
    if sep and category.strip().lower() in CONTENT_CATEGORIES:
        return category.strip().lower(), term.strip().lower()
    return DEFAULT_CATEGORY, entry.strip().lower()


def _probability(name: str, value: Any) -> float:
    try:
        rate = float(value)
    except (TypeError, ValueError):
        raise ConfigError(f"{name}: {value!r} is not a probability between 0 and 1") from None
    if not 0.0 <= rate <= 1.0:
        raise ConfigError(f"{name}: {rate} is not a probability between 0 and 1")
    return rate


def _non_negative_int(name: str, value: Any, *, allow_none: bool = False) -> int | None:
    if value is None and allow_none:
        return None
    if isinstance(value, bool):
        raise ConfigError(f"{name}: {value!r} is not a non-negative integer")
    try:
        number = int(value)
    except (TypeError, ValueError):
        raise ConfigError(f"{name}: {value!r} is not a non-negative integer") from None
    if number < 0:
        raise ConfigError(f"{name}: {number} is not a non-negative integer")
    return number


def _string_list(name: str, value: Any) -> tuple[str, ...]:
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list | tuple) or not all(isinstance(v, str) for v in value):
        raise ConfigError(f"{name}: {value!r} must be a list of strings")
    return tuple(v for v in value if v.strip())


def _fault(name: str, value: Any) -> Fault:
    try:
        return Fault(str(value).strip().lower())
    except ValueError:
        choices = ", ".join(f.value for f in Fault)
        raise ConfigError(f"{name}: {value!r} is not one of {choices}") from None


def _text_fault(name: str, value: Any) -> TextFault:
    try:
        return TextFault(str(value).strip().lower())
    except ValueError:
        choices = ", ".join(f.value for f in TextFault)
        raise ConfigError(f"{name}: {value!r} is not one of {choices}") from None


# Public names for the deployment pool's validation (generation.emulator.deployments).
probability = _probability
non_negative_int = _non_negative_int
fault_value = _fault

RENDER_MODES = ("full", "plain")


@dataclass(frozen=True)
class EmulatorConfig:
    """Every knob of the emulator. Immutable: `updated()` returns a validated copy.

    rpm/tpm of 0 mean unlimited. `fault` forces one fault on every image call; `fault_queue` forces the
    listed faults on the next calls, one each, then calls succeed again (a retry test's script).
    """

    latency_ms: tuple[int, int] = (0, 0)
    rate_429: float = 0.0
    rate_500: float = 0.0
    retry_after_ms: int = 1000
    hang_seconds: float = 300.0
    fault: Fault | None = None
    fault_queue: tuple[Fault, ...] = ()
    blocked_terms: tuple[str, ...] = (DEFAULT_INPUT_BLOCK_TERM,)
    output_blocked_terms: tuple[str, ...] = (DEFAULT_OUTPUT_BLOCK_TERM,)
    rpm: int = 0
    tpm: int = 0
    api_keys: tuple[str, ...] = ()
    seed: int | None = None
    recent_limit: int = 200
    # full: the designed composition with its text. plain: one flat colour per prompt, the mark and
    # nothing else, for load benchmarks whose emulator shares the CPUs of the system it measures.
    render: str = "full"
    # The in-image copy rendered wrong on purpose on every designed picture (generation.emulator.text_faults).
    text_fault: TextFault | None = None
    # The deployment pool at start (generation.emulator.deployments): (name, DeploymentConfig) pairs; empty
    # serves any deployment name under the one global quota above. The live pool is EmulatorState's.
    deployments: tuple = ()
    # Multiplies emulated durations: the published latency model and deployments' schedules and bursts.
    time_scale: float = 1.0
    # Rows the usage export keeps (the newest).
    usage_limit: int = 100_000
    # Single-deployment mode: a caller leaving during latency stops the call unbilled (499), as before the
    # pool existed; configured deployments bill it by default (their own `bill_disconnected`).
    bill_disconnected: bool = False

    def __post_init__(self) -> None:
        # Normalise and validate once, so every construction path (CLI, JSON, tests) is checked alike.
        set_ = object.__setattr__
        set_(self, "latency_ms", parse_latency(self.latency_ms))
        set_(self, "rate_429", _probability("rate_429", self.rate_429))
        set_(self, "rate_500", _probability("rate_500", self.rate_500))
        set_(self, "retry_after_ms", _non_negative_int("retry_after_ms", self.retry_after_ms))
        try:
            hang = float(self.hang_seconds)
        except (TypeError, ValueError):
            raise ConfigError(f"hang_seconds: {self.hang_seconds!r} is not a number of seconds") from None
        if hang < 0:
            raise ConfigError(f"hang_seconds: {hang} must not be negative")
        set_(self, "hang_seconds", hang)
        set_(self, "fault", None if self.fault in (None, "") else _fault("fault", self.fault))
        queue = self.fault_queue
        if isinstance(queue, str):
            queue = [q for q in queue.split(",") if q.strip()]
        set_(self, "fault_queue", tuple(_fault("fault_queue", f) for f in _string_list("fault_queue", list(queue))))
        set_(self, "blocked_terms", _string_list("blocked_terms", self.blocked_terms))
        set_(self, "output_blocked_terms", _string_list("output_blocked_terms", self.output_blocked_terms))
        set_(self, "rpm", _non_negative_int("rpm", self.rpm))
        set_(self, "tpm", _non_negative_int("tpm", self.tpm))
        set_(self, "api_keys", _string_list("api_keys", self.api_keys))
        set_(self, "seed", _non_negative_int("seed", self.seed, allow_none=True))
        set_(self, "recent_limit", _non_negative_int("recent_limit", self.recent_limit))
        set_(self, "text_fault", None if self.text_fault in (None, "") else _text_fault("text_fault", self.text_fault))
        if self.render not in RENDER_MODES:
            raise ConfigError(f"render: {self.render!r} is not one of {', '.join(RENDER_MODES)}")
        from generation.emulator.deployments import parse_deployments  # it validates with this module's helpers

        set_(self, "deployments", parse_deployments(self.deployments))
        try:
            time_scale = float(self.time_scale)
        except (TypeError, ValueError):
            raise ConfigError(f"time_scale: {self.time_scale!r} is not a number") from None
        if isinstance(self.time_scale, bool) or not time_scale > 0:
            raise ConfigError(f"time_scale: {self.time_scale!r} must be a number above 0")
        set_(self, "time_scale", time_scale)
        set_(self, "usage_limit", _non_negative_int("usage_limit", self.usage_limit))
        if not isinstance(self.bill_disconnected, bool):
            raise ConfigError(f"bill_disconnected: {self.bill_disconnected!r} is not true or false")

    @classmethod
    def field_names(cls) -> list[str]:
        return [f.name for f in dataclasses.fields(cls)]

    def updated(self, **changes: Any) -> EmulatorConfig:
        unknown = sorted(set(changes) - set(self.field_names()))
        if unknown:
            raise ConfigError(f"unknown config field(s): {', '.join(unknown)}; known: {', '.join(self.field_names())}")
        return dataclasses.replace(self, **changes)

    def to_dict(self) -> dict[str, Any]:
        return {
            "latency_ms": list(self.latency_ms),
            "rate_429": self.rate_429,
            "rate_500": self.rate_500,
            "retry_after_ms": self.retry_after_ms,
            "hang_seconds": self.hang_seconds,
            "fault": self.fault.value if self.fault else None,
            "fault_queue": [f.value for f in self.fault_queue],
            "blocked_terms": list(self.blocked_terms),
            "output_blocked_terms": list(self.output_blocked_terms),
            "rpm": self.rpm,
            "tpm": self.tpm,
            "render": self.render,
            "text_fault": self.text_fault.value if self.text_fault else None,
            # The keys themselves are secrets of whoever configured them: report only how many.
            "api_keys": f"{len(self.api_keys)} configured" if self.api_keys else "any non-empty key",
            "seed": self.seed,
            "recent_limit": self.recent_limit,
            "deployments": {name: deployment.to_dict() for name, deployment in self.deployments},
            "time_scale": self.time_scale,
            "usage_limit": self.usage_limit,
            "bill_disconnected": self.bill_disconnected,
        }
