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
UPGRADE ?=
UV_VERSION := $(shell sed -n 's/^uv==//p' requirements/uv.in)
UV_READY := $(BIN)/.uv-$(UV_VERSION)

.PHONY: install lock lint format stack-up stack-down stack-status browser test test-celery faults soak unit demo bench clean

install: $(VENV)/.installed

# The environment is requirements/project.lock and nothing else (devstack/envs.py: `uv pip sync
# --require-hashes`, then `uv pip check`); uv itself comes from requirements/uv.txt, hashed. Nothing is
# resolved here: `make lock` does that, on purpose.
$(VENV)/.installed: pyproject.toml requirements/project.lock devstack/envs.py Makefile $(UV_READY)
	$(BIN)/python devstack/envs.py install project $(VENV)
	@touch $@

# The pinned uv, from requirements/uv.txt with its hashes, by the pip that the virtual environment starts with.
$(UV_READY): requirements/uv.txt
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	@$(BIN)/python -m pip --version >/dev/null 2>&1 || $(BIN)/python -m ensurepip >/dev/null
	$(BIN)/python -m pip install -q --disable-pip-version-check --require-hashes -r requirements/uv.txt
	@# pip only brought uv in; it is in no lock, so it leaves (uv pip sync keeps it otherwise).
	$(BIN)/uv pip uninstall -q --python $(BIN)/python pip
	@rm -f $(BIN)/.uv-* && touch $@

# Re-resolve every lock (the project's, uv's, each service's) and say what moved; commit the result.
# Pins stay where the inputs still allow them; `make lock UPGRADE=1` takes the newest of everything.
lock: $(UV_READY)
	$(BIN)/python devstack/envs.py lock $(if $(UPGRADE),--upgrade)

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports
	$(BIN)/mypy

format: install
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

stack-up: install
	$(STACK) up

stack-down:
	@if [ -x $(BIN)/python ]; then $(STACK) down; else $(PYTHON) devstack/stack.py down; fi

stack-status:
	@$(STACK) status

# Debian's Chromium and ChromeDriver for the browser tests (devstack/browser.py): installed when missing,
# their major versions checked against each other, the versions written to .stack/browser.json.
browser: install
	$(STACK) browser

# Lint, then every test against the real servers of the stack (started here if needed), the UI's in Chromium.
test: lint stack-up browser
	$(WITH_ENV) $(BIN)/python -m pytest $(PYTEST_ARGS)

# The end-to-end tests under the real Airflow again, on the Celery executor (Redis and two workers with their
# own hostnames and working folders), as a deployment that outgrew one machine runs it. The stack's Airflow
# is restarted on Celery; `make stack-down` puts it back on LocalExecutor at the next `make stack-up`.
E2E_TESTS := tests/factory/test_live_airflow.py tests/factory/test_live_recovery.py
test-celery: install
	$(STACK) down airflow
	DATALAKE_EXECUTOR=celery $(STACK) up
	$(WITH_ENV) $(BIN)/python -m pytest $(E2E_TESTS) $(PYTEST_ARGS)

# The fault matrix on the stack's executor (DATALAKE_EXECUTOR=celery for Celery); DATALAKE_FAULTS=a,b picks
# faults. Prints one FAULT line per fault: the report.
faults: stack-up
	$(WITH_ENV) $(BIN)/python -m pytest -m faults -s -ra tests/faults $(PYTEST_ARGS)

# The soak (not in CI): 10,000 objects of two campus formats from 8 writers, 2% bad rows, PostgreSQL
# restarted halfway; reports throughput, latency, memory, backpressure and every store's counts
# (docs/performance.md). SOAK_ARGS="--objects 1000" for a shorter one.
soak: stack-up
	$(WITH_ENV) $(BIN)/python -m bench.soak $(SOAK_ARGS)

# Only the tests that need no server and no browser.
unit: install
	$(BIN)/python -m pytest -m "not stack and not faults" $(PYTEST_ARGS)

demo: stack-up
	$(WITH_ENV) $(BIN)/datalake demo

# Each benchmark prints ours vs its natural baseline in the same run, as a ratio (results in bench/results/).
bench: stack-up
	$(WITH_ENV) $(BIN)/python -m bench
	$(WITH_ENV) $(BIN)/python -m bench.ingest_bench
	$(WITH_ENV) $(BIN)/python -m bench.parsing_bench
	$(WITH_ENV) $(BIN)/python -m bench.postgres_bench
	$(WITH_ENV) $(BIN)/python -m bench.influx_bench
	$(WITH_ENV) $(BIN)/python -m bench.mongo_bench
	$(WITH_ENV) $(BIN)/python -m bench.neo4j_bench
	$(WITH_ENV) $(BIN)/python -m bench.factory_bench
	# The stack's FerretDB 1 reads the whole collection for any filter but _id: 50,000 records, not the
	# 1,000,000 a server with indexes is measured at (--mongo-conn-id to point it at one).
	$(WITH_ENV) $(BIN)/python -m bench.catalog_bench --records 50000 --rounds 5 --rest 30
	$(BIN)/python -m bench.inference_bench
	# The REST API on the stack's Airflow API server: upload vs `swift upload`, a catalog page vs pymongo;
	# 20,000 records, not the issue's 100,000: FerretDB 1 reads the whole collection for each page.
	$(WITH_ENV) $(BIN)/python -m bench.api_bench --records 20000 --page-rounds 10
	$(WITH_ENV) $(BIN)/python -m bench.unknown_bench
	# swift upload with and without the proxy's catalogue middleware: 1,000 files of 1 KiB, 1 GiB in SLO.
	$(WITH_ENV) $(BIN)/python -m bench.middleware_bench

clean: stack-down
	rm -rf .stack $(VENV)
