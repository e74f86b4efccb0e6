# Two commands on a fresh machine:
#   make run    install the service and start it on SQLite (http://127.0.0.1:8000)
#   make test   install everything and run the whole test suite (lint, types, tests)

PYTHON ?= python3.11
VENV   ?= .venv
BIN    := $(VENV)/bin
PIP    := $(BIN)/python -m pip

.PHONY: run test install-service install-all lint typecheck pytest bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV) || python3 -m venv $(VENV)
	$(PIP) install --quiet --upgrade pip

$(VENV)/.service: pyproject.toml | $(BIN)/python
	$(PIP) install --quiet -e '.[service]'
	touch $@

$(VENV)/.all: pyproject.toml | $(BIN)/python
	$(PIP) install --quiet -e '.[service,trainer,dev]'
	touch $@ $(VENV)/.service

install-service: $(VENV)/.service
install-all: $(VENV)/.all

run: $(VENV)/.service
	$(BIN)/pasture serve

lint: $(VENV)/.all
	$(BIN)/ruff check app tests bench migrations
	$(BIN)/ruff format --check app tests bench migrations

typecheck: $(VENV)/.all
	$(BIN)/mypy

pytest: $(VENV)/.all
	bash scripts/test-services.sh
	$(BIN)/pytest --cov=app --cov-report=term:skip-covered --cov-fail-under=75 $(PYTEST_ARGS)

test: lint typecheck pytest

bench: $(VENV)/.all
	$(BIN)/python bench/dedupe_bench.py
	$(BIN)/python bench/ratelimit_bench.py
	$(BIN)/python bench/full_job_bench.py
	$(BIN)/python bench/records_page_bench.py
	$(BIN)/python bench/export_bench.py
	$(BIN)/python bench/train_bench.py --tiny

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache .coverage
