# APIAny developer entry points. `make run` and `make test` work on a fresh
# machine: they create .venv, install pinned requirements, install bun from the
# npm registry (Reflex cannot download it here), migrate and seed.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
BUN_VERSION := 1.4.5
BUN := .tools/node_modules/.bin/bun
PORT ?= $(or $(APIANY_PORT),3000)
export PATH := $(CURDIR)/.tools/node_modules/.bin:$(PATH)
export REFLEX_USE_SYSTEM_BUN := 1
export PYTHONUNBUFFERED := 1

.PHONY: run test setup setup-test chromium migrate seed admin bench clean help

help:
	@echo "make run    set up and start the app on http://localhost:$(PORT) (SQLite, sandbox upstream)"
	@echo "make test   set up and run the whole test suite"
	@echo "make bench  benchmark the gateway against direct, a bare proxy and LiteLLM"

$(VENV)/.installed: requirements.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements.txt
	touch $@

$(VENV)/.installed-test: $(VENV)/.installed requirements-test.txt
	$(PY) -m pip install --quiet -r requirements-test.txt
	touch $@

$(BUN):
	npm install --silent --no-audit --no-fund --prefix .tools bun@$(BUN_VERSION)

setup: $(VENV)/.installed $(BUN)

setup-test: setup $(VENV)/.installed-test chromium

# Playwright cannot download its browser here: use Debian's Chromium when we
# are root, Playwright's installer otherwise.
chromium:
	@if command -v chromium >/dev/null 2>&1; then :; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	  (apt-get install -y -qq chromium >/dev/null 2>&1 || (apt-get update -qq && apt-get install -y -qq chromium)); \
	else $(PY) -m playwright install chromium; fi

migrate: setup
	$(PY) -m apiany migrate

seed: migrate
	$(PY) -m apiany seed

admin: seed
	$(PY) -m apiany users ensure-admin

run: admin
	APIANY_SANDBOX=$${APIANY_SANDBOX:-1} APIANY_PORT=$(PORT) \
	  $(VENV)/bin/reflex run --env prod --frontend-port $(PORT) --backend-port $(PORT)

test: setup-test
	$(PY) -m pytest -q $(PYTEST_ARGS)

bench: setup
	$(PY) -m bench.run

clean:
	rm -rf .web .states data/test-*
