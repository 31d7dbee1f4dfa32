"""Summarise a py-spy collapsed-stack file (from `--profile`): the functions that hold the most samples.

    .venv/bin/python bench/stacks.py var/bench/throughput/worker-cpu.collapsed.txt [--top 40] [--only generation/]

`inclusive` counts samples with the function anywhere on the stack, `self` those with it on top. `--only` keeps
stacks that pass through a frame whose file contains the given text (e.g. `generation/` for the job code).
"""

from __future__ import annotations

import argparse
import re
from collections import Counter
from pathlib import Path

# py-spy frame: "function (path/to/file.py:123)"; the line number is dropped so a function counts once.
_FRAME = re.compile(r"^(?P<function>.*?) \((?P<file>[^():]+)(?::\d+)?\)$")


def _function(frame: str) -> str:
    match = _FRAME.match(frame)
    return f"{match['function']} ({match['file']})" if match else frame


def summarise(path: Path, *, only: str | None) -> tuple[int, Counter, Counter]:
    total, inclusive, self_ = 0, Counter(), Counter()
    for line in path.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack or not count.isdigit():
            continue
        frames = [_function(f) for f in stack.split(";")]
        if only and not any(only in f for f in frames):
            continue
        samples = int(count)
        total += samples
        self_[frames[-1]] += samples
        for name in set(frames):
            inclusive[name] += samples
    return total, inclusive, self_


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("path", type=Path)
    parser.add_argument("--top", type=int, default=40)
    parser.add_argument("--only", help="keep stacks through a file containing this text")
    args = parser.parse_args()
    total, inclusive, self_ = summarise(args.path, only=args.only)
    print(f"{total} samples")
    for title, counter in (("inclusive", inclusive), ("self", self_)):
        print(f"\n{title}:")
        for name, samples in counter.most_common(args.top):
            print(f"  {samples:7d} {100 * samples / max(1, total):5.1f}%  {name}")


if __name__ == "__main__":
    main()
