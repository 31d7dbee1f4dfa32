"""Run a command with each line of its output labelled `name | `, for supervisord's programs in one terminal.

Usage: labelled.py NAME COMMAND [ARG...]

supervisord copies every program's output to its own stdout unlabelled (scripts/supervisord.conf); this sits
between the two and is the process supervisord watches, so it must behave as the command would:
- the command's exit is its exit (same status; killed by a signal N: 128 + N), so supervisord sees a crash
  and restarts the program;
- SIGTERM, SIGINT, SIGQUIT and SIGHUP are passed on to the command, and its last words are still labelled;
- nothing outlives it: the command gets SIGTERM if this process dies (PR_SET_PDEATHSIG, Linux), and when the
  command exits, whatever it left behind in the process group (a killed Celery master's pool processes,
  holding the output pipe) is killed before this process exits.
Standard library only: it runs before anything else is known to work.
"""

from __future__ import annotations

import ctypes
import os
import signal
import subprocess
import sys
import threading
from pathlib import Path

PR_SET_PDEATHSIG = 1
FORWARDED = (signal.SIGTERM, signal.SIGINT, signal.SIGQUIT, signal.SIGHUP)


def _die_with_parent(parent: int) -> None:
    try:
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)
    except (OSError, AttributeError):  # not Linux: supervisord's killasgroup still stops the group
        return
    if os.getppid() != parent:  # the parent died before the request took effect
        os._exit(1)


def _copy(source, label: bytes) -> None:
    out = sys.stdout.buffer
    for line in iter(source.readline, b""):
        out.write(label + line if line.endswith(b"\n") else label + line + b"\n")
        out.flush()


def _kill_leftovers() -> None:
    """SIGKILL the rest of this process group (the command's children that outlived it)."""
    me, group = os.getpid(), os.getpgrp()
    proc = Path("/proc")
    if not proc.is_dir():
        return
    for entry in proc.iterdir():
        if not entry.name.isdigit() or int(entry.name) == me:
            continue
        try:
            if os.getpgid(int(entry.name)) == group:
                os.kill(int(entry.name), signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            continue


def main(argv: list[str]) -> int:
    if len(argv) < 3:
        print(__doc__, file=sys.stderr)
        return 2
    name, command = argv[1], argv[2:]
    label = f"{name:<10} | ".encode()
    parent = os.getpid()
    # No thread exists yet (the copier starts after), so a preexec_fn is safe here.
    child = subprocess.Popen(
        command,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        preexec_fn=lambda: _die_with_parent(parent),  # noqa: PLW1509
    )
    for signum in FORWARDED:
        signal.signal(signum, lambda signum, frame: child.send_signal(signum))
    copier = threading.Thread(target=_copy, args=(child.stdout, label), daemon=True)
    copier.start()
    status = child.wait()
    # Children the command left behind keep the pipe open; give its last lines a moment, then end them.
    copier.join(timeout=1)
    if os.getpgrp() == os.getpid():  # only when this process leads its own group (supervisord's setpgrp)
        _kill_leftovers()
    return 128 - status if status < 0 else status


if __name__ == "__main__":
    sys.exit(main(sys.argv))
