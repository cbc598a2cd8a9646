# Chasqui. `make run` serves the app (setting everything up first); `make test` runs the whole suite.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
DATA_DIR ?= data/demo
ORDERS ?= 200000
SUDO := $(shell [ "$$(id -u)" -eq 0 ] || echo sudo)
PYTEST_ARGS ?=
# Every Python package (and app.py) is type-checked; `make test` runs this after ruff.
TYPED := app.py analytics callbacks components ledger_client pages web

.PHONY: run test bench lint typecheck setup setup-dev system-deps data clean-data

$(VENV)/.installed: requirements.txt
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements.txt
	@touch $@

$(VENV)/.installed-dev: requirements-dev.txt $(VENV)/.installed
	$(PY) -m pip install --quiet -r requirements-dev.txt
	@touch $@

setup: $(VENV)/.installed

setup-dev: $(VENV)/.installed-dev

# Debian packages the tests need: Chromium + its driver (browser tests), a Java runtime (Spark).
system-deps:
	@if ! command -v chromium >/dev/null || ! command -v chromedriver >/dev/null || ! command -v java >/dev/null; then \
		echo "installing chromium, chromium-driver and a Java runtime (Debian packages)"; \
		$(SUDO) apt-get update -qq && \
		$(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver default-jre-headless >/dev/null; \
	fi

data: $(VENV)/.installed
	$(PY) app.py prepare --data-dir $(DATA_DIR) --orders $(ORDERS)

run: data
	$(PY) app.py serve --data-dir $(DATA_DIR)

lint: $(VENV)/.installed-dev
	$(VENV)/bin/ruff check .

typecheck: $(VENV)/.installed-dev
	$(VENV)/bin/mypy $(TYPED)

test: $(VENV)/.installed-dev system-deps
	$(VENV)/bin/ruff check .
	$(VENV)/bin/mypy $(TYPED)
	$(VENV)/bin/pytest -q -p no:cacheprovider $(PYTEST_ARGS)

bench: $(VENV)/.installed-dev
	$(PY) app.py bench

clean-data:
	rm -rf $(DATA_DIR)
