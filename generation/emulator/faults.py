"""Which fault, if any, an image call suffers: from its headers, the queued faults, the config, or chance.

Per-request headers (they win over the config):
- `x-emulator-latency-ms: 2000` or `500-1500` (uniform in the range)
- `x-emulator-fault: 429 | 500 | hang | malformed | content_filter_input | content_filter_output`
- `x-emulator-rate-429: 0.3`, `x-emulator-rate-500: 0.1` (probabilities)
- `x-emulator-retry-after-ms: 250` (the retry hint of an injected 429)
- `x-emulator-text-fault: substitute | drop | conjunct | crop_cut | tiny | off_palette` (the copy drawn wrong)
Precedence for the fault: header, then the head of `fault_queue`, then `fault`, then the 429/500 rates.
The text fault: header, then `text_fault`; it changes a successful picture, never the response's protocol.
"""

from __future__ import annotations

import random
from collections.abc import Mapping
from dataclasses import dataclass

from generation.emulator.config import ConfigError, EmulatorConfig, Fault, parse_block_term
from generation.emulator.errors import EmulatorError, invalid_request
from generation.emulator.text_faults import TextFault

HEADER_LATENCY = "x-emulator-latency-ms"
HEADER_FAULT = "x-emulator-fault"
HEADER_RATE_429 = "x-emulator-rate-429"
HEADER_RATE_500 = "x-emulator-rate-500"
HEADER_RETRY_AFTER = "x-emulator-retry-after-ms"
HEADER_TEXT_FAULT = "x-emulator-text-fault"
_TUNING_HEADERS = (
    (HEADER_LATENCY, "latency_ms"),
    (HEADER_RATE_429, "rate_429"),
    (HEADER_RATE_500, "rate_500"),
    (HEADER_RETRY_AFTER, "retry_after_ms"),
)


@dataclass(frozen=True)
class FaultPlan:
    latency_seconds: float
    fault: Fault | None
    retry_after_ms: int
    text_fault: TextFault | None = None


def _header_error(header: str, problem: object) -> EmulatorError:
    return invalid_request(f"header {header}: {problem}", param=header, code="invalid_emulator_header")


def plan_faults(
    *, config: EmulatorConfig, headers: Mapping[str, str], rng: random.Random, queued: Fault | None
) -> FaultPlan:
    """`queued` is the fault taken off the config's queue for this call (the caller owns the queue)."""
    overrides: dict[str, str] = {}
    for header, name in _TUNING_HEADERS:
        if header in headers:
            try:
                config.updated(**{name: headers[header]})
            except ConfigError as exc:
                raise _header_error(header, exc) from None
            overrides[name] = headers[header]
    effective = config.updated(**overrides)

    fault: Fault | None
    if HEADER_FAULT in headers:
        try:
            fault = Fault(headers[HEADER_FAULT].strip().lower())
        except ValueError:
            choices = ", ".join(f.value for f in Fault)
            raise _header_error(HEADER_FAULT, f"{headers[HEADER_FAULT]!r} is not one of {choices}") from None
    else:
        fault = queued or config.fault
    text_fault = config.text_fault
    if HEADER_TEXT_FAULT in headers:
        value = headers[HEADER_TEXT_FAULT].strip().lower()
        try:
            text_fault = TextFault(value) if value not in ("", "none") else None
        except ValueError:
            choices = ", ".join(f.value for f in TextFault)
            raise _header_error(HEADER_TEXT_FAULT, f"{headers[HEADER_TEXT_FAULT]!r} is not one of {choices}") from None
    # Draw all three numbers on every call so one seed gives the same sequence whatever the rates are.
    draw_429, draw_500, draw_latency = rng.random(), rng.random(), rng.random()
    if fault is None and draw_429 < effective.rate_429:
        fault = Fault.RATE_LIMIT
    elif fault is None and draw_500 < effective.rate_500:
        fault = Fault.SERVER_ERROR
    low, high = effective.latency_ms
    latency_ms = low + (high - low) * draw_latency
    return FaultPlan(
        latency_seconds=latency_ms / 1000,
        fault=fault,
        retry_after_ms=effective.retry_after_ms,
        text_fault=text_fault,
    )


def blocked_category(prompt: str, terms: tuple[str, ...]) -> str | None:
    """The content category of the first configured term found in the prompt (case-insensitive)."""
    lowered = prompt.lower()
    for entry in terms:
        category, term = parse_block_term(entry)
        if term and term in lowered:
            return category
    return None
