# Chasqui. `make run` serves the app (setting everything up first); `make test` runs the whole suite.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
DATA_DIR ?= data/demo
ORDERS ?= 200000
SUDO := $(shell [ "$$(id -u)" -eq 0 ] || echo sudo)
# The suite runs on every core (pytest-xdist); `make test PYTEST_ARGS="-n 0"` runs it in one process.
# It includes the Spark tests (on a Spark Connect server started once per run, and marker `cluster` again on a
# standalone master + worker, all on loopback, on one xdist worker) and the three-seed scenario backtests (marker
# `backtest`: ~35 CPU-seconds on one worker, see the suite-time section of benchmarks/RESULTS.md).
PYTEST_ARGS ?= -n auto
# make loadtest: Locust users against gunicorn workers (benchmarks/loadtest.py); reports under benchmarks/out/
USERS ?= 50
DURATION ?= 60
WORKERS ?= 4
# LOADTEST_ARGS=--warm: gunicorn's warm-up watcher fills the result cache before the users arrive (default: cold)
LOADTEST_ARGS ?=
# Every Python package (and app.py) is type-checked; `make test` runs this after ruff.
TYPED := app.py analytics callbacks components ledger_client pages web

.PHONY: run test bench loadtest lint typecheck setup setup-dev system-deps data clean-data screenshots
.PHONY: prometheus-deps stack stack-down stack-smoke

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

# Debian's Prometheus and promtool (alert-rule tests, `make stack`). The package's own services are stopped and
# disabled: the stack runs its own Prometheus on a free loopback port.
prometheus-deps:
	@if ! command -v prometheus >/dev/null || ! command -v promtool >/dev/null; then \
		echo "installing prometheus (Debian package)"; \
		$(SUDO) apt-get update -qq && \
		$(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends prometheus >/dev/null \
			|| exit 1; \
		for s in prometheus prometheus-node-exporter; do \
			$(SUDO) systemctl disable $$s >/dev/null 2>&1; \
			$(SUDO) systemctl stop $$s >/dev/null 2>&1 || $(SUDO) service $$s stop >/dev/null 2>&1 || true; \
		done; \
	fi

data: $(VENV)/.installed
	$(PY) app.py prepare --data-dir $(DATA_DIR) --orders $(ORDERS)

run: data
	$(PY) app.py serve --data-dir $(DATA_DIR)

lint: $(VENV)/.installed-dev
	$(VENV)/bin/ruff check .

typecheck: $(VENV)/.installed-dev
	$(VENV)/bin/mypy $(TYPED)

# mypy runs beside the suite (one core for ~35 s, at a lower priority: it fills the moments the suite leaves a core
# idle); its report is printed after the suite's, and either failing fails `make test`.
# The suite writes bytecode even where PYTHONDONTWRITEBYTECODE is set (as in some CI images): every pytest worker
# and every Python process the tests start (CLI commands, gunicorn workers, Spark's Python workers) would otherwise
# compile Chasqui's modules, and pytest would rewrite every test module, again in each process.
test: $(VENV)/.installed-dev system-deps prometheus-deps
	$(VENV)/bin/ruff check .
	@types_log=$$(mktemp); echo "mypy $(TYPED) (beside the suite; its report follows the suite's)"; \
	nice -n 10 $(VENV)/bin/mypy $(TYPED) > $$types_log 2>&1 & types=$$!; \
	env -u PYTHONDONTWRITEBYTECODE $(VENV)/bin/pytest -q -rs -p no:cacheprovider $(PYTEST_ARGS); suite=$$?; \
	wait $$types; typed=$$?; echo "mypy:"; cat $$types_log; rm -f $$types_log; \
	if [ $$suite -ne 0 ]; then exit $$suite; fi; exit $$typed

bench: $(VENV)/.installed-dev
	$(PY) app.py bench

# docs/screenshots/<page>-<light|dark>.png in Spanish from the demo data (headless Chromium; fails if a page
# sends a request off the app's host). The demo data is built once under data/cache/screenshots.
screenshots: $(VENV)/.installed-dev system-deps
	$(PY) -m benchmarks.screenshots --out docs/screenshots

loadtest: $(VENV)/.installed-dev
	$(PY) benchmarks/loadtest.py --users $(USERS) --duration $(DURATION) --workers $(WORKERS) --orders $(ORDERS) $(LOADTEST_ARGS)

clean-data:
	rm -rf $(DATA_DIR)

# The compose topology natively on loopback (deploy/stack.py): data, broker + topics, app, demo feed, Prometheus
# (+ Spark with CHASQUI_ENGINE=spark). Pids, logs and configs in $(STACK_DIR).
STACK_DIR ?= .stack
SMOKE_DIR ?= .stack-smoke
SMOKE_DATA_DIR ?= data/stack
SMOKE_ORDERS ?= 3000
SMOKE_FOR ?=

stack: $(VENV)/.installed-dev prometheus-deps
	$(PY) -m deploy.stack up --state-dir $(STACK_DIR) --data-dir $(DATA_DIR) --orders $(ORDERS)

stack-down:
	$(PY) -m deploy.stack down --state-dir $(STACK_DIR)

# Up, both alerts made to fire, down. SMOKE_FOR=10s runs on a copy of alerts.yml with every for: shortened.
stack-smoke: $(VENV)/.installed-dev prometheus-deps
	$(PY) -m deploy.stack smoke --state-dir $(SMOKE_DIR) --data-dir $(SMOKE_DATA_DIR) --orders $(SMOKE_ORDERS) \
		$(if $(SMOKE_FOR),--for $(SMOKE_FOR))
