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

.PHONY: demo test check lint format bench docs translations clean
DOCS_OUT := docs/_build/html

# System packages: graphviz draws the autograd graphs in the docs (text fallback without it);
# chromium + chromium-driver run the browser test of the built site (skipped without them).
# Installed with apt-get where we are root on Debian/Ubuntu; elsewhere a note says what is missing.
define apt_install
	@missing=""; for pair in $(1); do cmd=$${pair%%:*}; pkg=$${pair#*:}; \
	  command -v $$cmd >/dev/null 2>&1 || missing="$$missing $$pkg"; done; \
	if [ -z "$$missing" ]; then :; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	  echo "installing system packages:$$missing"; \
	  apt-get update -qq >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null; \
	else echo "note: not installed:$$missing (graph pictures fall back to text; browser tests skip)"; fi
endef

$(VENV)/.sys-docs:
	$(call apt_install,dot:graphviz)
	@mkdir -p $(VENV) && touch $@

$(VENV)/.sys-test: $(VENV)/.sys-docs
	$(call apt_install,chromium:chromium chromedriver:chromium-driver)
	@touch $@

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	@if [ -n "$(TORCH_SPEC)" ]; then $(BIN)/python -m pip install --quiet "$(TORCH_SPEC)"; fi
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	@touch $@

# The main job: the docs site, every case executed while it builds.
demo: docs

check: $(STAMP)
	$(BIN)/rnn-autograd check

test: $(STAMP) $(VENV)/.sys-test
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(MAKE) --no-print-directory docs
	$(BIN)/python -m pytest

# Strict and fresh: every case on every page is executed; a wrong declaration fails the build.
# Two editions from the same sources: English, and Chinese (zh_CN) inside it.
docs: $(STAMP) $(VENV)/.sys-docs
	rm -rf $(DOCS_OUT)
	$(BIN)/sphinx-build -E -W --keep-going -q -b html docs $(DOCS_OUT)
	$(BIN)/sphinx-build -E -W --keep-going -q -b html -D language=zh_CN docs $(DOCS_OUT)/zh_CN
	@echo "Docs built: open file://$(CURDIR)/$(DOCS_OUT)/index.html (中文: $(DOCS_OUT)/zh_CN/index.html)"

# Refresh the Chinese catalogues from the sources (new or changed text becomes an untranslated
# or fuzzy entry to translate): Sphinx's gettext builder, then sphinx-intl.
translations: $(STAMP)
	$(BIN)/sphinx-build -E -q -b gettext docs docs/_build/gettext
	$(BIN)/sphinx-intl update -p docs/_build/gettext -l zh_CN -d docs/locale

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: $(STAMP)
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

bench: $(STAMP)
	$(BIN)/python -m pytest tests/benchmarks --benchmark-only

clean:
	rm -rf $(VENV) docs/_build docs/_generated .pytest_cache .benchmarks
