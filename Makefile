# The two entry points of the README. Both create and reuse .venv, so they work on a fresh
# machine that has only Python 3.11 and make.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo demo-serve test lint typecheck check bench clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/provisioner demo

# The demo, then the controller kept running on the emulators with metrics on :9108.
demo-serve: $(STAMP)
	$(BIN)/provisioner demo --serve

test: $(STAMP)
	$(BIN)/pytest

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(STAMP)
	$(BIN)/mypy

check: lint typecheck test

# Benchmarks (not part of test): about 20 minutes on 2 cores; writes bench/RESULTS.md.
# `python -m bench.run change` re-runs one section (planning, cycle, change) alone.
bench: $(STAMP)
	$(BIN)/python -m bench.run

clean:
	rm -rf $(VENV) build *.egg-info
