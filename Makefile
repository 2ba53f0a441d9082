# J2A — the two Quick-start commands are `make demo` and `make test`.
VENV ?= .venv
J2A := $(VENV)/bin/j2a

.PHONY: setup demo test test-fast bench
setup:
	@bash scripts/setup.sh

## Set everything up, generate an example clip, analyse, describe and ask about it.
demo: setup
	$(J2A) demo --out demo-output

## Set everything up, lint, and run the whole test suite (what CI runs).
test: setup
	$(VENV)/bin/ruff check . && $(VENV)/bin/ruff format --check .
	$(VENV)/bin/python -m pytest -q

## Lint and run the unit tests: everything not marked slow (slow = real models on real audio in a loop). Under 2 minutes.
test-fast: setup
	$(VENV)/bin/ruff check . && $(VENV)/bin/ruff format --check .
	OMP_NUM_THREADS=1 $(VENV)/bin/python -m pytest -q -m "not slow"  # one BLAS/torch thread: unit tests use small tensors, where a thread pool only contends

## Run every benchmark and rewrite bench/RESULTS.md.
## (essentia and librosa are benchmark-only peers: installed here, never imported by the j2a package)
bench: setup
	$(VENV)/bin/python -m pip install -q essentia librosa
	$(VENV)/bin/python bench/run_all.py
