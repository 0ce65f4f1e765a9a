# The two commands of the README's quick start: `make demo` and `make test`.
# Each installs what it needs on first use (venv + pip, npm), then runs.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
BIN := $(VENV)/bin

.PHONY: demo test test-unit test-bitcoin-core lint deps stack-up stack-down clean

deps: $(VENV)/.installed node_modules/.installed

$(VENV)/.installed: pyproject.toml adapters/bitcoin/pyproject.toml adapters/ethereum/pyproject.toml \
		adapters/handshake/pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]' -e adapters/bitcoin -e adapters/ethereum \
		-e adapters/handshake
	touch $@

# hsd (Handshake) runs with NODE_BACKEND=js, but bdb's LevelDB binding is native: build it with
# the machine's compiler (~1 min, no download; install scripts stay off for everything else).
node_modules/.installed: package.json package-lock.json
	npm ci --ignore-scripts --no-audit --no-fund
	npm rebuild bdb
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

# The tests that touch a Bitcoin node (pytest marker `bitcoin`) once more, against Bitcoin Core:
# `make test-bitcoin-core BITCOIND=/path/to/bitcoind`. CI (.ci/run, with
# ../shared/bitcoin-core/bitcoind) passes CORE_TESTS='bitcoin and not bitcoin_long'.
CORE_TESTS ?= bitcoin
test-bitcoin-core: deps
	@test -x "$(BITCOIND)" || { echo "set BITCOIND to Bitcoin Core's bitcoind (got '$(BITCOIND)')" >&2; exit 2; }
	BITCOIND="$(BITCOIND)" $(BIN)/pytest -m "$(CORE_TESTS)"

stack-up: deps
	$(BIN)/etm-bridge stack up

stack-down: $(VENV)/.installed
	$(BIN)/etm-bridge stack down

clean: stack-down
	rm -rf .etm
