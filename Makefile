# fastapi-live — the two commands a fresh machine needs: `make run` and `make test`.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
HOST ?= 127.0.0.1
PORT ?= 8000
WORKERS ?= 3
REDIS ?= single
PYTEST_ARGS ?=

.PHONY: run run-cluster test test-deps lint bench install install-test clean

$(PY):
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip

$(VENV)/.installed: pyproject.toml | $(PY)
	$(PY) -m pip install --quiet -e .
	touch $@

$(VENV)/.installed-test: pyproject.toml $(VENV)/.installed
	$(PY) -m pip install --quiet -e '.[test]'
	touch $@

$(VENV)/.installed-bench: pyproject.toml $(VENV)/.installed-test
	$(PY) -m pip install --quiet -e '.[test,bench]'
	touch $@

install: $(VENV)/.installed
install-test: $(VENV)/.installed-test

## Serve the example app on embedded defaults (in-memory PubSub, SQLite).
run: install
	$(VENV)/bin/uvicorn examples.app.main:app --host $(HOST) --port $(PORT)

## The example app on several worker processes sharing one local Redis (REDIS=cluster: a local
## Redis Cluster of three masters, sharded pub/sub).
run-cluster: install
	$(PY) -m examples.cluster --host $(HOST) --port $(PORT) --workers $(WORKERS) --redis $(REDIS)

## What the tests need beyond Python: Chromium and redis-server (Debian's, installed when
## missing and run as root; otherwise it stops with the command to run).
test-deps:
	bash scripts/ensure-test-deps

## Lint, type-check, the import map, then the whole suite (unit, integration, Redis, browser).
test: test-deps install-test lint
	$(PY) -m pytest -n 2 --dist loadgroup $(PYTEST_ARGS)

lint: install-test
	$(VENV)/bin/ruff check fastapi_live tests examples bench
	$(VENV)/bin/mypy
	$(VENV)/bin/lint-imports

## Benchmarks: prints a table (never part of the test suite).
bench: $(VENV)/.installed-bench
	$(PY) -m bench

clean:
	rm -rf $(VENV) build dist .pytest_cache .mypy_cache .ruff_cache
