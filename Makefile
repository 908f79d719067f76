# schoolcx: `make demo` runs the whole pipeline on generated data; `make test` runs the suite.
# Both set up what is missing first (Python env from the lock file, dovecot for IMAP tests,
# redis-server for the Celery stack, chromium and axe-core for the report's browser tests).

SHELL := /bin/bash
PY := .venv/bin/python
UV ?= $(shell command -v uv 2>/dev/null || echo .tools/bin/uv)
UV_VERSION := 0.13.9
export DBT_SEND_ANONYMOUS_USAGE_STATS=False
export GX_ANALYTICS_ENABLED=False
export AIRFLOW__COSMOS__ENABLE_TELEMETRY=False
export DO_NOT_TRACK=1

.PHONY: setup demo test lint bench clean warehouse-down

.venv/.synced: pyproject.toml uv.lock
	@if ! command -v uv >/dev/null 2>&1 && [ ! -x .tools/bin/uv ]; then \
		echo "installing uv $(UV_VERSION) into .tools/"; \
		python3 -m venv .tools && .tools/bin/pip install -q uv==$(UV_VERSION); fi
	$(UV) sync --frozen --python 3.11
	@touch $@

/usr/sbin/dovecot:
	@echo "installing dovecot-imapd (the real IMAP server the tests and demo use)"
	@if [ "$$(id -u)" = 0 ]; then SUDO=""; else SUDO="sudo"; fi; \
	$$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq dovecot-imapd >/dev/null

/usr/bin/redis-server:
	@echo "installing redis-server (the Celery broker of \`schoolcx stack up\` and its test)"
	@if [ "$$(id -u)" = 0 ]; then SUDO=""; else SUDO="sudo"; fi; \
	$$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq redis-server >/dev/null

/usr/bin/chromium:
	@echo "installing chromium (the real browser the report's tests load pages in)"
	@if [ "$$(id -u)" = 0 ]; then SUDO=""; else SUDO="sudo"; fi; \
	$$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq chromium >/dev/null

# axe-core, pinned by tests/browser/package-lock.json, injected into pages by the browser tests
tests/browser/node_modules/.installed: tests/browser/package.json tests/browser/package-lock.json
	@command -v npm >/dev/null 2>&1 || { \
		if [ "$$(id -u)" = 0 ]; then SUDO=""; else SUDO="sudo"; fi; \
		$$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq npm >/dev/null; }
	cd tests/browser && npm ci --no-audit --no-fund --loglevel=error
	@touch $@

setup: .venv/.synced /usr/sbin/dovecot /usr/bin/redis-server /usr/bin/chromium tests/browser/node_modules/.installed

demo: setup
	.venv/bin/schoolcx demo

test: setup
	.venv/bin/pytest -q -n 2 --dist loadfile

lint: setup
	.venv/bin/ruff check .
	.venv/bin/ruff format --check .
	.venv/bin/sqlfluff lint dbt_project/models
	PYTHONPATH=plugins .venv/bin/lint-imports

# The slow-marked tests (memory flatness), then every benchmark beside its ceiling or floor in
# one run (schoolcx.sandbox.bench: extraction of 1M synthetic Zendesk tickets at two volumes, the
# raw writer against a plain COPY, dbt full build and one night for one school year at scale S
# (10,000 students) and M (100,000) against a count(*) scan of raw, business time, the intraday
# cycle, peak RSS, the disk at its peak) into .local/bench/results.json, then docs/benchmarks.md
# from it. A year of M needs about 87 GB of disk while it runs (scales.py: per student-year,
# measured at M:4 and S:2, a quarter more at the peak); without the intraday path's own copies
# (the bench leaves the cycle out when only that fits) it peaked at 64.9 GB here and took about
# two hours. BENCH_SCALES=S,M:12 runs M's last 12 school weeks (about 20 GB), S:4 is quick.
# BENCH_REUSE=M takes M's result from its own earlier run (python -m
# schoolcx.sandbox.bench.dbt --scale M --out .local/bench/dbt-M.json; --resume DATABASE
# finishes a run that kept its landing).
bench: setup
	.venv/bin/pytest -q -m slow -s
	BENCH_RECORDS=$${BENCH_RECORDS:-1000000} BENCH_SCALES=$${BENCH_SCALES:-S,M} \
		.venv/bin/python -m schoolcx.sandbox.bench; status=$$?; \
		.venv/bin/python -m schoolcx.sandbox.bench.docs && exit $$status

warehouse-down:
	.venv/bin/schoolcx warehouse down

clean: warehouse-down
	rm -rf .local dbt_project/target
