"""Running a benchmark script the way a person does, from the repository's root, for its smoke tests."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def bench_output(*argv: str, timeout: float = 300) -> str:
    """Run `python <argv>` in the repository; fail with its last output unless it exits 0; return its stdout."""
    done = subprocess.run(
        [sys.executable, *argv], cwd=REPO, capture_output=True, text=True, timeout=timeout, check=False
    )
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-4000:]
    return done.stdout
