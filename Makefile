.PHONY: run test lint lock bench

# Set everything up and run the platform (web UI + API + worker + emulator, demo tenant).
run:
	bash scripts/run.sh

# Run the whole test suite.
test:
	bash scripts/test.sh $(ARGS)

lint:
	.venv/bin/ruff check . && .venv/bin/ruff format --check .

# Recompile the lock after editing requirements.in.
lock:
	.venv/bin/pip-compile -q --strip-extras --no-header --no-emit-index-url --no-emit-find-links \
		--output-file requirements.txt requirements.in
