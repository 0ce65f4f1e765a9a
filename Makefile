# The two commands of the README's quick start: `make demo` and `make test`.
# Each installs what it needs on first use (venv + pip, npm), then runs.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
BIN := $(VENV)/bin

.PHONY: demo test test-unit lint deps stack-up stack-down clean

deps: $(VENV)/.installed node_modules/.installed

$(VENV)/.installed: pyproject.toml adapters/bitcoin/pyproject.toml adapters/ethereum/pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]' -e adapters/bitcoin -e adapters/ethereum
	touch $@

node_modules/.installed: package.json package-lock.json
	npm ci --ignore-scripts --no-audit --no-fund
	touch $@

demo: deps
	$(BIN)/etm-bridge demo

lint: $(VENV)/.installed
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

test: deps lint
	$(BIN)/pytest

test-unit: $(VENV)/.installed
	$(BIN)/pytest -m unit

stack-up: deps
	$(BIN)/etm-bridge stack up

stack-down: $(VENV)/.installed
	$(BIN)/etm-bridge stack down

clean: stack-down
	rm -rf .etm
