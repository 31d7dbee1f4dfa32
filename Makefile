.PHONY: run test lint lock bench

# Set everything up and run the platform under supervisord (web UI + API on gunicorn, workers, beat,
# emulator, demo tenant); a process that dies is restarted. ROTATE_DEMO_KEYS=1 issues new demo API keys.
run:
	bash scripts/run.sh

# Run the whole test suite.
test:
	bash scripts/test.sh $(ARGS)

lint:
	.venv/bin/ruff check . && .venv/bin/ruff format --check . && .venv/bin/lint-imports

# Benchmarks: each script prints its figures next to a baseline measured in the same run (bench/all.py runs every
# one to its end, then fails only if one broke; a missed target is reported). `make bench ARGS=--smoke`: each one's
# smoke mode, a few minutes; `ARGS="--only quota,plan"`.
bench:
	bash scripts/bootstrap.sh
	.venv/bin/python bench/all.py $(ARGS)

# Recompile the lock after editing requirements.in.
lock:
	.venv/bin/pip-compile -q --strip-extras --no-header --no-emit-index-url --no-emit-find-links \
		--output-file requirements.txt requirements.in
