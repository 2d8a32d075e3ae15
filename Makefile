# airflow-provider-datalake — developer commands. Build caches live in ~/.cache/datalake (outside the checkout).
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
CACHE ?= $(HOME)/.cache/datalake
export UV_CACHE_DIR ?= $(CACHE)/uv
export PIP_CACHE_DIR ?= $(CACHE)/pip
STACK := $(BIN)/python devstack/stack.py
WITH_ENV := set -a && . .stack/env && set +a &&
PYTEST_ARGS ?=

.PHONY: install lint format stack-up stack-down stack-status test unit demo bench clean

install: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml Makefile
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	@test -x $(BIN)/uv || { $(BIN)/python -m pip --version >/dev/null 2>&1 || $(BIN)/python -m ensurepip >/dev/null; \
		$(BIN)/python -m pip install -q --disable-pip-version-check uv; }
	$(BIN)/uv pip install -q --python $(BIN)/python -e '.[dev]'
	@# Bytecode once, at install: where PYTHONDONTWRITEBYTECODE is set (as on CI machines) every interpreter
	@# start (Airflow's task processes, the tests' writer subprocesses) would compile Airflow again, ~7 s.
	$(BIN)/python -m compileall -q -j0 $(VENV)/lib >/dev/null
	@touch $@

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: install
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

stack-up: install
	$(STACK) up

stack-down:
	@if [ -x $(BIN)/python ]; then $(STACK) down; else $(PYTHON) devstack/stack.py down; fi

stack-status:
	@$(STACK) status

# Lint, then every test against the real servers of the stack (started here if needed).
test: lint stack-up
	$(WITH_ENV) $(BIN)/python -m pytest $(PYTEST_ARGS)

# Only the tests that need no server.
unit: install
	$(BIN)/python -m pytest -m "not stack" $(PYTEST_ARGS)

demo: stack-up
	$(WITH_ENV) $(BIN)/datalake demo

# Each benchmark prints ours vs its natural baseline in the same run, as a ratio (results in bench/results/).
bench: stack-up
	$(WITH_ENV) $(BIN)/python -m bench
	$(WITH_ENV) $(BIN)/python -m bench.parsing_bench
	$(WITH_ENV) $(BIN)/python -m bench.postgres_bench
	$(WITH_ENV) $(BIN)/python -m bench.influx_bench
	$(WITH_ENV) $(BIN)/python -m bench.mongo_bench
	$(WITH_ENV) $(BIN)/python -m bench.neo4j_bench
	$(WITH_ENV) $(BIN)/python -m bench.factory_bench
	$(BIN)/python -m bench.inference_bench

clean: stack-down
	rm -rf .stack $(VENV)
