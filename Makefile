# Quick start: `make demo` (the main job) and `make test` (the test suite).
# Each target creates .venv and installs what it needs on first use.
#
# TORCH_SPEC: set it to pin torch before the project is installed, e.g.
#   make test TORCH_SPEC=torch==2.13.0
# (.ci/run does this: on the build machines only that release is a local CPU build).
# Left empty, pip resolves the project's own torch range as usual.

PYTHON ?= python3
VENV ?= .venv
TORCH_SPEC ?=
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test check lint format bench docs clean
DOCS_OUT := docs/_build/html

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	@if [ -n "$(TORCH_SPEC)" ]; then $(BIN)/python -m pip install --quiet "$(TORCH_SPEC)"; fi
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	@touch $@

demo: $(STAMP)
	$(BIN)/rnn-autograd check

check: $(STAMP)
	$(BIN)/rnn-autograd check

test: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(MAKE) --no-print-directory docs
	$(BIN)/python -m pytest

# Strict and fresh: every case on every page is executed; a wrong declaration fails the build.
docs: $(STAMP)
	rm -rf $(DOCS_OUT)
	$(BIN)/sphinx-build -E -W --keep-going -q -b html docs $(DOCS_OUT)
	@echo "Docs built: open file://$(CURDIR)/$(DOCS_OUT)/index.html"

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: $(STAMP)
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

bench: $(STAMP)
	$(BIN)/python -m pytest tests/benchmarks --benchmark-only

clean:
	rm -rf $(VENV) docs/_build .pytest_cache .benchmarks
