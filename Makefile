# The project's habits. Every target installs what it needs first, so on a fresh machine
# `make demo` and `make test` are the only two commands to know.

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.DEFAULT_GOAL := help
.PHONY: help venv demo test lint bench clean

help: ## List the targets
	@grep -E '^[a-z]+:.*## ' $(MAKEFILE_LIST) | sed -E 's/:.*## /\t/' | expand -t 10

venv: $(STAMP) ## Create .venv and install Conveyor (editable) with its dev extras

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

# Re-install whenever pyproject.toml changes (new dependency, new entry point).
$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[dev,postgres,web]'
	touch $(STAMP)

demo: venv ## Run the demo: an app, workers and jobs on SQLite in a temporary folder
	$(BIN)/conveyor demo

# The layers that start no worker processes of their own run two at a time; the worker-process
# tests (kills, restarts of PostgreSQL, timing windows) run alone, so they keep the box to
# themselves.
test: venv ## Run the whole test suite
	$(BIN)/python -m pytest -n 2 tests/unit tests/store tests/web tests/acceptance
	$(BIN)/python -m pytest tests/integration

lint: venv ## ruff and mypy --strict
	$(BIN)/ruff check conveyor tests
	$(BIN)/mypy conveyor

bench: venv ## Benchmark the stores (enqueue, processing, latency); ARGS="--quick" etc.
	$(BIN)/python benchmarks/bench.py $(ARGS)

clean: ## Remove caches and build output (keeps .venv; `rm -rf .venv` for a fresh start)
	rm -rf .pytest_cache .mypy_cache .ruff_cache .hypothesis build dist site test-artifacts
	find . -path ./$(VENV) -prune -o -name __pycache__ -type d -exec rm -rf {} +
