"""A pool of named deployments, each with its own quota, region, latency, faults, outages and timed plan.

With no deployments configured the emulator serves any deployment name under one global quota (the original
single-deployment mode). Once `deployments` is non-empty, only those names are served, each with:

- `rpm`, `tpm`: its own sliding 60 s window (generation.emulator.quota); 0 is unlimited
- `region`, `data_zone` (eu | us | null), `deployment_type` (global | data_zone | standard): echoed in stats,
  the usage export and the `x-ms-region` answer header
- `latency`: null (the global `latency_ms`), "published" (generation.emulator.latency, scaled by
  `time_scale`), or milliseconds `2000` / `"500-1500"` (real milliseconds, like `latency_ms`)
- `slow_factor`: multiplies its latency, whichever model
- `down`: false | "503" | "404" | "401": refused at once, before anything is generated or charged
- `throttle_burst`: `{"at_call": N | "at_seconds": S, "count": K}`: K calls get 429 though the window has room
- `schedule`: `[{"after_seconds": S, "set": {...fields...}}, ...]`: changes applied S emulated seconds after
  the schedule was posted (S x time_scale real seconds), so a benchmark scripts an outage up front
- `rate_429`, `rate_500`, `fault`, `retry_after_ms`: override the global fault fields for this deployment
- `bill_disconnected` (default true): a call whose caller left while it was being generated is still
  generated, billed and exported, as the service does (false: the caller leaving stops it, unbilled)

All of it runs on the event loop's thread: no locks.
"""

from __future__ import annotations

import dataclasses
import time
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from generation.emulator import errors
from generation.emulator.config import (
    ConfigError,
    Fault,
    fault_value,
    non_negative_int,
    parse_latency,
    probability,
)
from generation.emulator.errors import EmulatorError
from generation.emulator.latency import PUBLISHED_LATENCY_MODEL
from generation.emulator.quota import QuotaWindow

DOWN_MODES = ("503", "404", "401")
DATA_ZONES = ("eu", "us")
DEPLOYMENT_TYPES = ("global", "data_zone", "standard")


def _down(name: str, value: Any) -> str | None:
    if value in (None, False, "", "false", 0):
        return None
    text = str(value).strip().lower()
    if text not in DOWN_MODES:
        raise ConfigError(f"{name}: {value!r} is not false or one of {', '.join(DOWN_MODES)}")
    return text


def _choice(name: str, value: Any, choices: tuple[str, ...], *, allow_none: bool) -> str | None:
    if value is None and allow_none:
        return None
    text = str(value).strip().lower()
    if text not in choices:
        raise ConfigError(f"{name}: {value!r} is not one of {', '.join(choices)}{' or null' if allow_none else ''}")
    return text


def _positive_float(name: str, value: Any) -> float:
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise ConfigError(f"{name}: {value!r} is not a number") from None
    if isinstance(value, bool) or not number > 0:
        raise ConfigError(f"{name}: {value!r} must be a number above 0")
    return number


def _non_negative_float(name: str, value: Any) -> float:
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise ConfigError(f"{name}: {value!r} is not a number") from None
    if isinstance(value, bool) or number < 0:
        raise ConfigError(f"{name}: {value!r} must be a non-negative number")
    return number


@dataclass(frozen=True)
class ThrottleBurst:
    """K calls answered 429 from the `at_call`-th call (1-based) or the first call `at_seconds` after posting."""

    count: int
    at_call: int | None = None
    at_seconds: float | None = None

    @classmethod
    def parse(cls, name: str, value: Any) -> ThrottleBurst | None:
        if value in (None, False):
            return None
        if isinstance(value, ThrottleBurst):
            return value
        if not isinstance(value, Mapping):
            raise ConfigError(f"{name}: {value!r} must be {{'at_call': N or 'at_seconds': S, 'count': K}}")
        unknown = sorted(set(value) - {"at_call", "at_seconds", "count"})
        if unknown:
            raise ConfigError(f"{name}: unknown field(s) {', '.join(unknown)}")
        if ("at_call" in value) == ("at_seconds" in value):
            raise ConfigError(f"{name}: give exactly one of at_call, at_seconds")
        count = non_negative_int(f"{name}.count", value.get("count", 1))
        if "at_call" in value:
            at_call = non_negative_int(f"{name}.at_call", value["at_call"])
            if not at_call:
                raise ConfigError(f"{name}.at_call: calls are counted from 1")
            return cls(count=count, at_call=at_call)
        return cls(count=count, at_seconds=_non_negative_float(f"{name}.at_seconds", value["at_seconds"]))

    def to_dict(self) -> dict[str, Any]:
        start = {"at_call": self.at_call} if self.at_call is not None else {"at_seconds": self.at_seconds}
        return {**start, "count": self.count}


@dataclass(frozen=True)
class ScheduleStep:
    after_seconds: float
    changes: Mapping[str, Any]  # validated deployment fields, as posted (the "set" object)

    def to_dict(self) -> dict[str, Any]:
        return {"after_seconds": self.after_seconds, "set": dict(self.changes)}


@dataclass(frozen=True)
class DeploymentConfig:
    """One deployment's knobs. Immutable: `updated()` returns a validated copy."""

    rpm: int = 0
    tpm: int = 0
    region: str | None = None
    data_zone: str | None = None
    deployment_type: str = "global"
    # None: the global latency_ms; "published": the model in generation.emulator.latency; else (low, high) ms.
    latency: str | tuple[int, int] | None = None
    down: str | None = None
    slow_factor: float = 1.0
    throttle_burst: ThrottleBurst | None = None
    schedule: tuple[ScheduleStep, ...] = ()
    bill_disconnected: bool = True
    rate_429: float | None = None
    rate_500: float | None = None
    fault: Fault | None = None
    retry_after_ms: int | None = None

    def __post_init__(self) -> None:
        set_ = object.__setattr__
        set_(self, "rpm", non_negative_int("rpm", self.rpm))
        set_(self, "tpm", non_negative_int("tpm", self.tpm))
        set_(self, "region", None if self.region in (None, "") else str(self.region))
        set_(self, "data_zone", _choice("data_zone", self.data_zone, DATA_ZONES, allow_none=True))
        deployment_type = _choice("deployment_type", self.deployment_type, DEPLOYMENT_TYPES, allow_none=False)
        set_(self, "deployment_type", deployment_type)
        if self.latency is not None and self.latency != PUBLISHED_LATENCY_MODEL:
            try:
                set_(self, "latency", parse_latency(self.latency))
            except ConfigError as exc:
                raise ConfigError(f"latency: {exc} (or 'published')") from None
        set_(self, "down", _down("down", self.down))
        set_(self, "slow_factor", _positive_float("slow_factor", self.slow_factor))
        set_(self, "throttle_burst", ThrottleBurst.parse("throttle_burst", self.throttle_burst))
        set_(self, "schedule", _parse_schedule(self.schedule))
        if not isinstance(self.bill_disconnected, bool):
            raise ConfigError(f"bill_disconnected: {self.bill_disconnected!r} is not true or false")
        for name in ("rate_429", "rate_500"):
            if getattr(self, name) is not None:
                set_(self, name, probability(name, getattr(self, name)))
        set_(self, "fault", None if self.fault in (None, "") else fault_value("fault", self.fault))
        set_(self, "retry_after_ms", non_negative_int("retry_after_ms", self.retry_after_ms, allow_none=True))

    @classmethod
    def field_names(cls) -> list[str]:
        return [f.name for f in dataclasses.fields(cls)]

    @classmethod
    def from_dict(cls, name: str, data: Any) -> DeploymentConfig:
        return cls().updated_from(f"deployments.{name}", data)

    def updated_from(self, where: str, data: Any) -> DeploymentConfig:
        """This deployment with the posted fields merged in; errors start with `where` (deployments.NAME)."""
        if not isinstance(data, Mapping):
            raise ConfigError(f"{where}: {data!r} must be an object of deployment fields")
        unknown = sorted(set(data) - set(self.field_names()))
        if unknown:
            raise ConfigError(f"{where}: unknown field(s) {', '.join(unknown)}; known: {', '.join(self.field_names())}")
        try:
            return dataclasses.replace(self, **data)
        except ConfigError as exc:
            raise ConfigError(f"{where}.{exc}") from None

    def to_dict(self) -> dict[str, Any]:
        return {
            "rpm": self.rpm,
            "tpm": self.tpm,
            "region": self.region,
            "data_zone": self.data_zone,
            "deployment_type": self.deployment_type,
            "latency": self.latency if self.latency is None or isinstance(self.latency, str) else list(self.latency),
            "down": self.down or False,
            "slow_factor": self.slow_factor,
            "throttle_burst": self.throttle_burst.to_dict() if self.throttle_burst else None,
            "schedule": [step.to_dict() for step in self.schedule],
            "bill_disconnected": self.bill_disconnected,
            "rate_429": self.rate_429,
            "rate_500": self.rate_500,
            "fault": self.fault.value if self.fault else None,
            "retry_after_ms": self.retry_after_ms,
        }


def _parse_schedule(value: Any) -> tuple[ScheduleStep, ...]:
    if value in (None, ()):
        return ()
    if not isinstance(value, list | tuple):
        raise ConfigError(f"schedule: {value!r} must be a list of {{'after_seconds': S, 'set': {{...}}}}")
    steps = []
    for index, entry in enumerate(value):
        if isinstance(entry, ScheduleStep):
            steps.append(entry)
            continue
        label = f"schedule[{index}]"
        if not isinstance(entry, Mapping) or set(entry) != {"after_seconds", "set"}:
            raise ConfigError(f"{label}: {entry!r} must be {{'after_seconds': S, 'set': {{...}}}}")
        changes = entry["set"]
        if not isinstance(changes, Mapping) or "schedule" in changes:
            raise ConfigError(f"{label}.set: must be an object of deployment fields other than schedule")
        DeploymentConfig().updated_from(f"{label}.set", changes)  # validates; applied to the then-current config later
        steps.append(ScheduleStep(_non_negative_float(f"{label}.after_seconds", entry["after_seconds"]), dict(changes)))
    return tuple(sorted(steps, key=lambda step: step.after_seconds))


def parse_deployments(value: Any) -> tuple[tuple[str, DeploymentConfig], ...]:
    """`{"name": {...fields...}, ...}` (or `{"deployments": {...}}`) -> validated (name, config) pairs."""
    if value in (None, ()):
        return ()
    if isinstance(value, tuple) and all(isinstance(pair[1], DeploymentConfig) for pair in value):
        return value
    if isinstance(value, Mapping) and set(value) == {"deployments"}:
        value = value["deployments"]
    if not isinstance(value, Mapping):
        raise ConfigError(f"deployments: {value!r} must be an object {{name: {{fields}}}}")
    pairs = []
    for name, data in value.items():
        if not isinstance(name, str) or not name.strip() or "/" in name:
            raise ConfigError(f"deployments: {name!r} is not a deployment name")
        pairs.append((name, DeploymentConfig.from_dict(name, data or {})))
    return tuple(pairs)


@dataclass
class DeploymentRuntime:
    """A served deployment: its current config (schedules change it), quota window, burst and counters."""

    name: str
    config: DeploymentConfig
    posted_at: float  # monotonic seconds: when its schedule was posted
    burst_posted_at: float
    quota: QuotaWindow = field(default_factory=QuotaWindow)
    schedule_done: int = 0
    burst_calls: int = 0  # calls that reached the quota check since the burst was posted
    burst_fired: int = 0
    calls: int = 0
    by_status: Counter[str] = field(default_factory=Counter)
    in_flight: int = 0
    max_in_flight: int = 0

    def advance(self, now: float, time_scale: float) -> None:
        """Apply the schedule's steps that are due (emulated seconds x time_scale = real seconds)."""
        while self.schedule_done < len(self.config.schedule):
            step = self.config.schedule[self.schedule_done]
            if now - self.posted_at < step.after_seconds * time_scale:
                return
            schedule = self.config.schedule
            changed = self.config.updated_from(f"deployments.{self.name}", step.changes)
            self.config = dataclasses.replace(changed, schedule=schedule)
            if "throttle_burst" in step.changes:
                self._restart_burst(now)
            self.schedule_done += 1

    def throttled(self, now: float, time_scale: float) -> bool:
        """Count this call against the burst; true when it is one of the burst's K refused calls."""
        burst = self.config.throttle_burst
        if burst is None:
            return False
        self.burst_calls += 1
        if self.burst_fired >= burst.count:
            return False
        if burst.at_call is not None:
            due = self.burst_calls >= burst.at_call
        else:
            due = now - self.burst_posted_at >= (burst.at_seconds or 0.0) * time_scale
        if due:
            self.burst_fired += 1
        return due

    def refusal(self) -> EmulatorError | None:
        """What a down deployment answers at once, before reading quota or generating anything."""
        down = self.config.down
        if down == "503":
            return errors.service_unavailable(fault="down_503")
        if down == "404":
            return errors.deployment_not_found(fault="down_404")
        if down == "401":
            error = errors.unauthorized(missing=False)
            error.fault = "down_401"
            return error
        return None

    def answer_headers(self) -> dict[str, str]:
        """Azure's region and rate-limit headers, on every answer of this deployment (errors too)."""
        headers = {"x-ms-region": self.config.region} if self.config.region else {}
        requests_left, tokens_left = self.quota.remaining(rpm=self.config.rpm, tpm=self.config.tpm)
        if requests_left is not None:
            headers["x-ratelimit-limit-requests"] = str(self.config.rpm)
            headers["x-ratelimit-remaining-requests"] = str(requests_left)
        if tokens_left is not None:
            headers["x-ratelimit-limit-tokens"] = str(self.config.tpm)
            headers["x-ratelimit-remaining-tokens"] = str(tokens_left)
        return headers

    def fault_overrides(self) -> dict[str, Any]:
        """The global config fields this deployment overrides for fault planning."""
        config = self.config
        overrides: dict[str, Any] = {
            name: getattr(config, name)
            for name in ("rate_429", "rate_500", "fault", "retry_after_ms")
            if getattr(config, name) is not None
        }
        if isinstance(config.latency, tuple):
            overrides["latency_ms"] = config.latency
        return overrides

    def _restart_burst(self, now: float) -> None:
        self.burst_posted_at, self.burst_calls, self.burst_fired = now, 0, 0

    def entered(self) -> None:
        self.in_flight += 1
        self.max_in_flight = max(self.max_in_flight, self.in_flight)

    def left(self, status: int) -> None:
        self.in_flight -= 1
        self.calls += 1
        self.by_status[str(status)] += 1

    def clear_counters(self) -> None:
        self.quota.reset()
        self.calls, self.by_status = 0, Counter()
        self.max_in_flight = self.in_flight  # calls in flight across a reset still finish later

    def describe(self, now: float, time_scale: float) -> dict[str, Any]:
        return {
            **self.config.to_dict(),
            "seconds_since_schedule": round((now - self.posted_at) / time_scale, 3),
            "schedule_done": self.schedule_done,
            "throttle_burst_fired": self.burst_fired,
        }

    def stats(self) -> dict[str, Any]:
        return {
            "calls": self.calls,
            "by_status": dict(self.by_status),
            "in_flight": self.in_flight,
            "max_in_flight": self.max_in_flight,
            "region": self.config.region,
            "data_zone": self.config.data_zone,
            "deployment_type": self.config.deployment_type,
        }


class DeploymentPool:
    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._runtimes: dict[str, DeploymentRuntime] = {}

    def __bool__(self) -> bool:
        return bool(self._runtimes)

    def now(self) -> float:
        return self._clock()

    def replace(self, pairs: tuple[tuple[str, DeploymentConfig], ...]) -> None:
        """Serve exactly these deployments, with fresh windows, counters and schedule clocks."""
        now = self._clock()
        self._runtimes = {
            name: DeploymentRuntime(name, config, posted_at=now, burst_posted_at=now) for name, config in pairs
        }

    def validate_patch(self, patch: Any) -> dict[str, DeploymentConfig | None] | None:
        """The configs a POSTed `deployments` value leads to (None: remove), checked before anything changes.

        `null` clears the pool (back to the single-deployment mode); `{"name": null}` removes one; a known
        name's fields merge into its current config; a new name starts from the defaults."""
        if patch is None:
            return None
        if isinstance(patch, Mapping) and set(patch) == {"deployments"}:
            patch = patch["deployments"]
        if not isinstance(patch, Mapping):
            raise ConfigError(f"deployments: {patch!r} must be an object {{name: {{fields}} or null}} or null")
        merged: dict[str, DeploymentConfig | None] = {}
        for name, data in patch.items():
            if data is None:
                merged[name] = None
            elif name in self._runtimes:
                merged[name] = self._runtimes[name].config.updated_from(f"deployments.{name}", data)
            else:
                merged.update(dict(parse_deployments({name: data})))
        return merged

    def apply_patch(self, merged: dict[str, DeploymentConfig | None] | None, patch: Any) -> None:
        if merged is None:
            self._runtimes = {}
            return
        if isinstance(patch, Mapping) and set(patch) == {"deployments"}:
            patch = patch["deployments"]
        now = self._clock()
        for name, config in merged.items():
            if config is None:
                self._runtimes.pop(name, None)
                continue
            runtime = self._runtimes.get(name)
            if runtime is None:
                self._runtimes[name] = DeploymentRuntime(name, config, posted_at=now, burst_posted_at=now)
                continue
            runtime.config = config
            posted = patch.get(name) or {}
            if "schedule" in posted:
                runtime.posted_at, runtime.schedule_done = now, 0
            if "throttle_burst" in posted:
                runtime._restart_burst(now)

    def get(self, name: str, time_scale: float) -> DeploymentRuntime | None:
        runtime = self._runtimes.get(name)
        if runtime is not None:
            runtime.advance(self._clock(), time_scale)
        return runtime

    def clear_counters(self) -> None:
        for runtime in self._runtimes.values():
            runtime.clear_counters()

    def describe(self, time_scale: float) -> dict[str, Any]:
        now = self._clock()
        for runtime in self._runtimes.values():
            runtime.advance(now, time_scale)
        return {name: runtime.describe(now, time_scale) for name, runtime in self._runtimes.items()}

    def stats(self, time_scale: float) -> dict[str, Any]:
        now = self._clock()
        for runtime in self._runtimes.values():
            runtime.advance(now, time_scale)
        return {name: runtime.stats() for name, runtime in self._runtimes.items()}
