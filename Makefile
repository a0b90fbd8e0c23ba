# FedChain: `make demo` and `make test` are the whole quick start. Both install what they need on
# first use (.venv with torch pinned through constraints.txt, node_modules, compiled contracts).
SHELL := /bin/bash
PYTHON ?= python3.11
VENV := .venv
PY := $(VENV)/bin/python
PIP := $(VENV)/bin/pip
SLITHER_VENV := .venv-slither
export HARDHAT_DISABLE_TELEMETRY_PROMPT := true
export NPM_CONFIG_UPDATE_NOTIFIER := false

.PHONY: help install demo test test-fast lint compile check-artifacts slither bench bench-gas clean browser

help:
	@echo "make demo       run the demo (installs everything on first use)"
	@echo "make test       install, check contract artifacts, lint, run the whole test suite"
	@echo "make compile    compile contracts and export ABI + bytecode to fedchain/contracts/"
	@echo "make slither    static analysis of the contracts (own virtualenv)"
	@echo "make bench      run the benchmarks in benchmarks/"

$(VENV)/.installed: pyproject.toml constraints.txt
	@command -v $(PYTHON) >/dev/null || { echo "$(PYTHON) not found: install Python 3.11 or run make PYTHON=python3"; exit 1; }
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PIP) install -q --upgrade pip
	$(PIP) install -q -c constraints.txt -e ".[dev]"
	touch $@

# `npm install` (not `npm ci`): npm 11 records only this platform's optional Anvil binary in the
# lockfile and `npm ci` then refuses the lockfile as out of sync. `npm install` honours the lockfile.
node_modules/.installed: package.json package-lock.json
	npm install --no-audit --no-fund --loglevel=error
	touch $@

install: $(VENV)/.installed node_modules/.installed

# The explorer's browser test drives Debian's Chromium through its chromedriver (Playwright's own
# browser download needs the internet); installed here when missing (root, or through sudo).
browser:
	@command -v chromium >/dev/null && command -v chromedriver >/dev/null || { \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get install -y -q chromium chromium-driver >/dev/null || \
	  { $$SUDO apt-get update -q >/dev/null && $$SUDO apt-get install -y -q chromium chromium-driver >/dev/null; }; }
	@command -v chromium >/dev/null && command -v chromedriver >/dev/null && echo "chromium and chromedriver ready" || { \
	  echo "could not install Debian's chromium and chromium-driver with apt-get: install them for the explorer's browser test"; exit 1; }

compile: node_modules/.installed $(VENV)/.installed
	npx hardhat compile --quiet
	rm -f fedchain/contracts/*.json
	node scripts/export_artifacts.js
	$(PY) scripts/gen_bindings.py

# Recompile into a scratch directory and fail if the committed artifacts (or bindings) differ.
check-artifacts: node_modules/.installed $(VENV)/.installed
	npx hardhat compile --quiet
	rm -rf build/fresh-artifacts
	node scripts/export_artifacts.js build/fresh-artifacts
	@diff -r -q build/fresh-artifacts fedchain/contracts >/dev/null || { \
	  echo "fedchain/contracts/ is stale: run 'make compile' and commit the result"; \
	  diff -r -q build/fresh-artifacts fedchain/contracts; exit 1; }
	$(PY) scripts/gen_bindings.py --check
	@echo "contract artifacts and bindings are fresh"

lint: $(VENV)/.installed
	$(VENV)/bin/ruff check fedchain tests benchmarks scripts
	$(VENV)/bin/ruff format --check fedchain tests benchmarks scripts
	$(VENV)/bin/mypy fedchain

$(SLITHER_VENV)/.installed:
	test -x $(SLITHER_VENV)/bin/python || $(PYTHON) -m venv $(SLITHER_VENV)
	$(SLITHER_VENV)/bin/pip install -q --upgrade pip
	$(SLITHER_VENV)/bin/pip install -q "slither-analyzer==0.11.*"
	touch $@

slither: $(SLITHER_VENV)/.installed node_modules/.installed
	$(PY) scripts/run_slither.py --slither $(SLITHER_VENV)/bin/slither

test: install browser check-artifacts lint $(SLITHER_VENV)/.installed
	rm -f build/test-reports/adversarial.txt
	FEDCHAIN_SLITHER=$(SLITHER_VENV)/bin/slither $(VENV)/bin/pytest -n 2 --dist loadgroup
	@cat build/test-reports/adversarial.txt 2>/dev/null || true

test-fast: install
	$(VENV)/bin/pytest -x -q -m "not slow and not anvil and not slither"

demo: install
	$(VENV)/bin/fedchain demo

bench-gas: install
	$(PY) benchmarks/gas.py

bench: install
	$(PIP) install -q -c constraints.txt -e ".[dev,bench]"
	for b in benchmarks/*.py; do echo "== $$b"; $(PY) $$b || exit 1; done

clean:
	rm -rf build .pytest_cache .ruff_cache .mypy_cache .hypothesis
