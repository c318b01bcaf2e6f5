# The project's habits. Every target installs what it needs first, so on a fresh machine
# `make demo` and `make test` are the only two commands to know.

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.DEFAULT_GOAL := help
.PHONY: help venv demo test test-prereqs lint bench clean

help: ## List the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | sed -E 's/:.*## /\t/' | expand -t 14

venv: $(STAMP) ## Create .venv and install Conveyor (editable) with its dev, browser, postgres and web extras

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

# Re-install whenever pyproject.toml changes (new dependency, new entry point).
$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[dev,browser,postgres,binary,web]'
	touch $(STAMP)

demo: venv ## Run the demo: an app, workers and jobs on SQLite in a temporary folder
	$(BIN)/conveyor demo

# What the suite needs outside Python (a running PostgreSQL, Debian's Chromium): started or
# installed when this machine allows it, else one line says what is missing and how to get it.
test-prereqs: ## Check (and where possible start or install) PostgreSQL and Chromium
	@scripts/test-prereqs

# Three steps, all always run (scripts/test-layers): the layers that start no processes of
# their own, three at a time, and beside them the tests that start worker processes or
# `conveyor` commands, four at a time; then those marked `exclusive` (they restart PostgreSQL)
# alone. The acceptance tests run with the second group so that both groups end together.
# ARGS="-x -k claim" passes through.
PARALLEL_LAYERS := tests/unit tests/store tests/web
PROCESS_LAYERS  := tests/integration tests/acceptance
test: venv test-prereqs ## Run the whole test suite (both steps, failures of both reported)
	@scripts/test-layers $(BIN)/python "$(PARALLEL_LAYERS)" "$(PROCESS_LAYERS)" $(ARGS)

# The import-layers contract (tests/unit/test_layers.py) is also part of tests/unit, so it runs
# in `make test` too: neither target can be used to skip it.
lint: venv ## ruff, mypy --strict, the import-layers contract, the docs site, the wheel and sdist
	$(BIN)/ruff check conveyor tests examples
	$(BIN)/mypy conveyor examples
	$(BIN)/python -m pytest -q -p no:randomly tests/unit/test_layers.py
	$(BIN)/mkdocs build --strict --quiet --site-dir site
	scripts/check-dist $(BIN)/python

bench: venv ## Benchmark the stores (enqueue, processing, latency); ARGS="--quick" etc.
	$(BIN)/python benchmarks/bench.py $(ARGS)

clean: ## Remove caches and build output (keeps .venv; `rm -rf .venv` for a fresh start)
	rm -rf .pytest_cache .mypy_cache .ruff_cache .hypothesis build dist site test-artifacts
	find . -path ./$(VENV) -prune -o -name __pycache__ -type d -exec rm -rf {} +
