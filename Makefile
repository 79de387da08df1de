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

.PHONY: run test setup setup-test venv venv-test chromium migrate seed admin bench clean help

help:
	@echo "make run    set up and start the app on http://localhost:$(PORT) (SQLite, sandbox upstream)"
	@echo "make test   set up and run the whole test suite"
	@echo "make bench  benchmark the gateway against direct, a bare proxy and LiteLLM"

# Installs are keyed by the requirements' content, not their timestamps
# (Reflex rewrites requirements.txt on start without changing it).
define install_if_changed
	@want=$$(cat $(1) | sha256sum | cut -d' ' -f1); \
	if [ "$$want" != "$$(cat $(2) 2>/dev/null)" ]; then \
	  echo "installing $(1)"; \
	  $(PY) -m pip install --quiet --disable-pip-version-check -r $(1) && echo $$want > $(2); \
	fi
endef

venv:
	@test -x $(PY) || ($(PYTHON) -m venv $(VENV) && $(PY) -m pip install --quiet --upgrade pip)
	$(call install_if_changed,requirements.txt,$(VENV)/.installed)

venv-test: venv
	$(call install_if_changed,requirements-test.txt,$(VENV)/.installed-test)

$(BUN):
	npm install --silent --no-audit --no-fund --prefix .tools bun@$(BUN_VERSION)

setup: venv $(BUN)

setup-test: setup venv-test chromium

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

# wrk is the load generator (Debian's package); LiteLLM installs itself into
# bench/.venv-litellm on the first run, hash-checked (bench/litellm_env.py).
bench: setup
	@command -v wrk >/dev/null 2>&1 || { [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1 && \
	  (apt-get install -y -qq wrk >/dev/null 2>&1 || (apt-get update -qq && apt-get install -y -qq wrk)); } || \
	  { echo "make bench needs wrk (apt-get install wrk)"; exit 1; }
	$(call install_if_changed,requirements-bench.txt,$(VENV)/.installed-bench)
	$(PY) -m bench.run

clean:
	rm -rf .web .states data/test-*
