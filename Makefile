# polyarb: every target sets itself up. A fresh machine needs Python 3.11, Node 20 and make.
SHELL := /bin/bash
PYTHON ?= python3.11
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
RUN_STAMP := $(VENV)/.installed-runtime
TOOLS_STAMP := tools/node_modules/.installed
SHELL_CLIENT_STAMP := shell_client/node_modules/.installed
PROTOS := $(wildcard proto/polyarb/v1/*.proto)

.PHONY: all run test gen lint bench bench-quick soak clean help venv tools k8s shell-client

help:
	@echo "make run    - the whole pipeline on the local paper venue"
	@echo "make test   - every test, Python then shell_client (creates .venv, installs everything first)"
	@echo "make gen    - regenerate the stubs from proto/ (Python, and TypeScript for shell_client)"
	@echo "make lint   - ruff + buf lint"
	@echo "make bench  - benchmarks (writes bench/results/)"
	@echo "make bench-quick - a 60-second subset of the benchmarks"
	@echo "make soak   - 10 minutes of 10K tokens at 5K frames/s; fails on RSS growth > 5 % (POLYARB_SOAK_S=180 for 3)"
	@echo "make clean  - remove .venv, node_modules and caches"

# The venv is rebuilt only when pyproject.toml changes, so a second `make test` starts at once.
# `make run` needs only the runtime dependencies (a fresh clone is running in about a minute);
# everything else (tests, benchmarks, deploy checks) adds the dev extras on top.
$(RUN_STAMP): pyproject.toml
	@command -v $(PYTHON) >/dev/null || { echo "need $(PYTHON) on PATH"; exit 1; }
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -e .
	touch $@

$(STAMP): $(RUN_STAMP)
	$(PY) -m pip install --quiet --disable-pip-version-check -e '.[dev]'
	touch $@

$(TOOLS_STAMP): tools/package.json tools/package-lock.json
	cd tools && npm ci --no-audit --no-fund --loglevel=error
	touch $@

# shell_client/: the npm package the NestJS shell imports; its ts-proto is also `make gen`'s TypeScript plugin.
$(SHELL_CLIENT_STAMP): shell_client/package.json shell_client/package-lock.json
	cd shell_client && npm ci --no-audit --no-fund --loglevel=error
	touch $@

venv: $(STAMP)
tools: $(TOOLS_STAMP)
shell-client: $(SHELL_CLIENT_STAMP)

# One target regenerates every generated file from proto/. Output is committed; a test checks drift.
gen: $(STAMP) $(SHELL_CLIENT_STAMP)
	$(PY) tools/codegen.py

lint: $(STAMP) $(TOOLS_STAMP)
	$(VENV)/bin/ruff check .
	tools/node_modules/.bin/buf lint

test: $(STAMP) $(TOOLS_STAMP) $(SHELL_CLIENT_STAMP)
	$(PY) -m pytest
	cd shell_client && npm test

run: $(RUN_STAMP)
	$(PY) -m polyarb.run

bench: $(STAMP)
	$(PY) -m bench

bench-quick: $(STAMP)
	$(PY) -m bench --quick

# Bounded memory soak of the paper pipeline under load (soak/__main__.py); POLYARB_SOAK_S shortens it.
soak: $(STAMP)
	$(PY) -m soak

# Render the Kubernetes overlays (kustomize through the pinned kubectl wheel) for review or kubectl apply.
k8s: $(STAMP)
	mkdir -p deploy/k8s/rendered
	for o in paper live; do $(VENV)/bin/kubectl kustomize deploy/k8s/$$o > deploy/k8s/rendered/$$o.yaml; done

clean:
	rm -rf $(VENV) tools/node_modules shell_client/node_modules shell_client/dist .pytest_cache .ruff_cache .hypothesis
	find . -name __pycache__ -type d -prune -exec rm -rf {} +
