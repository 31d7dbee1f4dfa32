#!/usr/bin/env bash
# Runs the whole test suite against real Postgres, Redis, Celery workers and the emulator.
# Extra arguments go to pytest (e.g. `make test ARGS="-k isolation"`).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/bootstrap.sh
exec .venv/bin/python -m pytest "$@"
