#!/usr/bin/env bash
# Runs the whole test suite against real Postgres, Redis, Celery workers and the emulator.
# Extra arguments go to pytest (e.g. `make test ARGS="-k isolation"`; `ARGS="-n 0"` runs in one process).
# In parallel with pytest-xdist: each worker has its own database, Redis prefix, media dir, Celery worker and
# emulator (tests/settings.py, tests/fixtures/), so the workers never see each other's data or tasks. Work
# stealing keeps both CPUs busy through the slow tail (the crash drills, the fuzzer, the run-stack test).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/bootstrap.sh
exec .venv/bin/python -m pytest -n "${TEST_WORKERS:-auto}" --dist worksteal "$@"
