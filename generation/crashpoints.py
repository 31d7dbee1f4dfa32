"""Test-only crash points: a worker that kills itself (SIGKILL) at a named step of a job's run.

The crash tests (tests/generation/test_jobs_crash.py) start a real worker with `JOB_TEST_CRASH_AT=<step>`
and let a fresh worker finish the job, once for each step between the provider's answer and the job's
final state: a machine failure at exactly that moment, without racing a kill from outside.

In production the variable is unset and `crash_point` is one string comparison: inert and cheap. It is
read once at import, like the rest of a worker's configuration.
"""

from __future__ import annotations

import os
import signal

# In the order a run passes them (execution._run_unit).
CRASH_STEPS = (
    "answer_received",  # the answer is in memory only
    "outputs_stored",  # its images are in storage, nothing recorded
    "response_recorded",  # the response, its output refs and its charge are committed
    "output_scanned",  # moderation has answered, its verdicts are not written yet
    "verdicts_recorded",  # the verdicts are written with the output refs
    "renditions_stored",  # the placement renditions are in storage, no version yet
    "versions_created",  # inside the versions' transaction, before the job's terminal transition and the commit
    "unit_stored",  # a unit's versions are committed, the job's next unit not started
)

_STEP = os.environ.get("JOB_TEST_CRASH_AT", "")
if _STEP and _STEP not in CRASH_STEPS:
    raise RuntimeError(f"JOB_TEST_CRASH_AT={_STEP!r} is not one of {', '.join(CRASH_STEPS)}")


def crash_point(step: str) -> None:
    if step == _STEP:
        os.kill(os.getpid(), signal.SIGKILL)
