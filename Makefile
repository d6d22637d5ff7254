# The two commands a new machine needs: `make demo` and `make test`.
# Everything else here is what those two are made of.
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
DATA ?=
SECONDS_TO_RUN ?= 60

.PHONY: help venv demo test test-unit test-integration faults lint bench load kafka-start kafka-stop clean

help:
	@echo "make demo    run the whole pipeline on a simulated fleet (DATA=path replays recordings)"
	@echo "make test    set up, start Kafka, lint and run every test, stop Kafka"
	@echo "make lint    ruff, mypy (strict) and the compose file (docker compose config)"
	@echo "make bench   benchmarks, written to bench/results.json"
	@echo "make load    1,000 simulated wearables through the whole pipeline"

venv: $(BIN)/.installed

$(BIN)/.installed: pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11))' \
	  || { echo "Python 3.11 or newer is needed (found $$($(PYTHON) --version))"; exit 1; }
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev,bench]'
	touch $@

lint: venv
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	scripts/compose-config docker-compose.yml

test: venv lint
	scripts/with-kafka scripts/pytest-strict $(BIN)/pytest --durations=15 tests

test-unit: venv
	scripts/pytest-strict $(BIN)/pytest tests/unit

faults: venv
	scripts/with-kafka scripts/pytest-strict $(BIN)/pytest tests/faults

demo: venv
	scripts/with-kafka $(BIN)/python scripts/demo.py --seconds $(SECONDS_TO_RUN) $(if $(DATA),--data "$(DATA)")

bench: venv
	scripts/with-kafka $(BIN)/python -m bench

load: venv
	scripts/with-kafka $(BIN)/python -m bench.load

kafka-start:
	scripts/kafka start

kafka-stop:
	scripts/kafka stop

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache .hypothesis var
