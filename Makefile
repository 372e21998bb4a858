# Huying: the single entry point. `make run` and `make test` are all a newcomer needs.
SHELL := /bin/bash
UV_VERSION := 0.13.9
TOOLS := .local/tools
UV := $(TOOLS)/bin/uv
PY := .venv/bin/python
INFRA := $(PY) deploy/local/infra.py

.PHONY: help install infra-fetch infra-start infra-stop infra-status run test test-unit test-integration test-e2e bench docs lint fmt clean

help:
	@echo "make run    start Kafka, the database and the five services with demo data (Ctrl-C stops all)"
	@echo "make test   install what the tests need and run them all (unit, integration, e2e)"
	@echo "make bench  print this machine's raw limits and the benchmarks"
	@echo "make docs   write the AsyncAPI document of every service to docs/asyncapi/"
	@echo "make lint   ruff"

$(UV):
	@command -v python3 >/dev/null || { echo "huying: python3 (3.11) is required" >&2; exit 2; }
	python3 -m venv $(TOOLS)
	$(TOOLS)/bin/pip install -q uv==$(UV_VERSION)

.venv/.synced: $(UV) uv.lock pyproject.toml shared/pyproject.toml services/*/pyproject.toml
	$(UV) sync --frozen --python python3.11
	@touch $@

install: .venv/.synced

infra-fetch: install
	$(INFRA) fetch

infra-start: install
	$(INFRA) start

infra-stop:
	@if [ -x $(PY) ]; then $(INFRA) stop; else python3 deploy/local/infra.py stop; fi

infra-status:
	$(INFRA) status

run: install
	$(PY) deploy/local/run.py

# pytest exits 5 when it collected no test (e.g. a tier with no tests yet): say so loudly, don't fail the build.
PYTEST = $(PY) -m pytest tests -q $(1); rc=$$?; if [ $$rc -eq 5 ]; then echo "pytest: NO TESTS COLLECTED"; exit 0; fi; exit $$rc

test: install infra-fetch
	$(call PYTEST)

test-unit: install
	$(call PYTEST,-m unit)

test-integration: install infra-fetch
	$(call PYTEST,-m integration)

test-e2e: install infra-fetch
	$(call PYTEST,-m e2e)

bench: install infra-fetch
	$(PY) tests/bench/run.py

docs: install
	$(PY) -m huying.docs docs/asyncapi

lint: install
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .

fmt: install
	$(PY) -m ruff check --fix .
	$(PY) -m ruff format .

clean:
	-$(INFRA) stop
	rm -rf .venv .pytest_cache .ruff_cache
