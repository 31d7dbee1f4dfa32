"""Percentiles, utilisation windows and the plain-text tables the benchmarks print."""

from __future__ import annotations

import math
import platform
from collections.abc import Sequence


def percentile(values: Sequence[float], q: float) -> float:
    """Linear interpolation between closest ranks (numpy's default); q in 0..100."""
    if not values:
        return math.nan
    ordered = sorted(values)
    rank = (len(ordered) - 1) * q / 100
    low, high = math.floor(rank), math.ceil(rank)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


def ms(seconds: float) -> str:
    return f"{seconds * 1000:8.1f} ms"


def share(part: float, whole: float) -> str:
    return f"{100 * part / whole:5.1f}%" if whole else "  n/a"


def trailing_window_utilisation(arrivals: Sequence[float], *, rpm: int, window: float = 60.0) -> float | None:
    """Mean share of the quota used, over every second from one window after the first request to the last.

    Each sample counts the requests that arrived in the trailing window, as the quota itself does, so a burst
    at each window's start and an even pace both read 100% when the quota is kept full. None when the run is
    shorter than one window (the first window's burst alone says nothing about sustained use).
    """
    if not arrivals:
        return None
    ordered = sorted(arrivals)
    start, end = ordered[0] + window, ordered[-1]
    if end < start:
        return None
    samples, moment, low, high = [], start, 0, 0
    while moment <= end:
        while high < len(ordered) and ordered[high] <= moment:
            high += 1
        while low < high and ordered[low] <= moment - window:
            low += 1
        samples.append((high - low) / rpm)
        moment += 1.0
    return sum(samples) / len(samples)


def header(title: str, settings: dict[str, object]) -> None:
    print(f"\n== {title} ==")
    print(f"   machine: {platform.node()}, {_cpus()} CPUs, Python {platform.python_version()}")
    for key, value in settings.items():
        print(f"   {key}: {value}")


def table(rows: Sequence[Sequence[object]], *, heading: Sequence[str]) -> None:
    cells = [[str(c) for c in heading], *[[str(c) for c in row] for row in rows]]
    widths = [max(len(row[i]) for row in cells) for i in range(len(heading))]
    for index, row in enumerate(cells):
        print(
            "   " + "  ".join(cell.ljust(widths[i]) if i == 0 else cell.rjust(widths[i]) for i, cell in enumerate(row))
        )
        if index == 0:
            print("   " + "  ".join("-" * w for w in widths))


# The exit status of a run that completed but missed its target: `make bench` (bench/all.py) reports it and goes on,
# where any other failure (a crash, jobs left unfinished) stops the run's verdict at "broken".
MISSED_TARGET = 3


def verdict(name: str, value: float, *, target: float, higher_is_better: bool = True, unit: str = "%") -> bool:
    met = value >= target if higher_is_better else value < target
    sign = ">=" if higher_is_better else "<"
    print(f"   {name}: {value:.1f}{unit} (target {sign} {target:g}{unit}) -> {'MET' if met else 'MISSED'}")
    return met


def _cpus() -> int:
    import os

    return len(os.sched_getaffinity(0))
