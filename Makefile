# J2A — the two Quick-start commands are `make demo` and `make test`.
VENV ?= .venv
J2A := $(VENV)/bin/j2a

.PHONY: setup demo test test-fast bench
setup:
	@bash scripts/setup.sh

## Set everything up, generate an example clip, analyse, describe and ask about it.
demo: setup
	$(J2A) demo --out demo-output

## Set everything up and run the whole test suite.
test: setup
	$(VENV)/bin/python -m pytest -q

## The tests not marked slow (no real model on real audio in a loop): a quick check while editing.
test-fast: setup
	$(VENV)/bin/python -m pytest -q -m "not slow"

## Run every benchmark and rewrite bench/RESULTS.md.
## (essentia and librosa are benchmark-only peers: installed here, never imported by the j2a package)
bench: setup
	$(VENV)/bin/python -m pip install -q essentia librosa
	$(VENV)/bin/python bench/run_all.py
