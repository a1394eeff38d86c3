# hardtech — quick start: `make demo` and `make test` (each sets itself up).
# What they install is pinned by requirements.lock (pip constraints); `make lock` refreshes it.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
DEMO_STAMP := $(VENV)/.installed-demo
LOCK := requirements.lock

.PHONY: setup demo test lint docs docs-serve bench readme readme-full golden conformance lock clean

# make demo: the package and its base dependencies only (no test, docs or lint tools). On a fresh venv
# scripts/check_install.py then lists what was installed and fails if any test-only package is among them.
$(DEMO_STAMP): pyproject.toml $(LOCK)
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet -c $(LOCK) --upgrade pip
	$(BIN)/python -m pip install --quiet -c $(LOCK) -e .
	if [ ! -e $(STAMP) ]; then $(BIN)/python scripts/check_install.py; fi
	touch $(DEMO_STAMP)

# make setup / test: the dev extra (tests, docs, notebooks, lint); it includes everything the demo needs.
$(STAMP): pyproject.toml $(LOCK)
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet -c $(LOCK) --upgrade pip
	$(BIN)/python -m pip install --quiet -c $(LOCK) -e ".[dev]"
	touch $(STAMP) $(DEMO_STAMP)

setup: $(STAMP)

demo: $(DEMO_STAMP)
	$(BIN)/hardtech run hangzhou --seed 7

# The lint checks first (`make lint`: ruff check, ruff format --check, mypy; a finding fails the target),
# then the tests, the docs site built with --strict (tests/test_docs.py) and every notebook in examples/ (nbmake).
test: $(STAMP)
	$(MAKE) lint
	-sh scripts/ensure-chromium.sh
	$(BIN)/python -m pytest

# ruff (lint and format) and mypy, as configured in pyproject.toml; .pre-commit-config.yaml runs the same.
# All three run; the target fails if any of them finds something.
lint: $(STAMP)
	@status=0; \
	$(BIN)/ruff check . || status=1; \
	$(BIN)/ruff format --check . || status=1; \
	$(BIN)/mypy || status=1; \
	exit $$status

# The documentation site (mkdocs.yml): built strictly into site/, or served while you edit.
docs: $(STAMP)
	NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs build --strict
	@echo "open site/index.html"

docs-serve: $(STAMP)
	NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs serve --strict --dev-addr 127.0.0.1:8001

# Benchmarks, results in benchmarks/results.md (see benchmarks/README.md).
# Other benchmarks (e.g. scaling) append their own command lines to this recipe.
bench: $(STAMP)
	$(BIN)/python -m pip install --quiet -c $(LOCK) -e ".[dev,bench]"
	$(BIN)/python benchmarks/peers/run.py --out benchmarks/results.md
	$(BIN)/python benchmarks/scaling.py --out benchmarks/results.md
	$(BIN)/python benchmarks/sweep_bench.py --out benchmarks/results.md
	$(BIN)/python benchmarks/throughput.py --out benchmarks/results.md

# README "real output" blocks (scripts/readme.py): the quick ones (seconds), or all (claims, validate,
# sweeps: about 15 minutes on 2 cores; each long block is stamped with the model version it came from).
readme: $(STAMP)
	$(BIN)/python scripts/readme.py

readme-full: $(STAMP)
	$(BIN)/python scripts/readme.py --all

# After a deliberate change of results: rewrite this platform's digest in tests/golden/digests.json.
golden: $(STAMP)
	HARDTECH_UPDATE_GOLDEN=1 $(BIN)/python -m pytest -q tests/test_reproducibility.py -k golden -rs

# After a deliberate change of results: rewrite tests/golden/conformance.json (53 runs, about a minute), then
# `make readme-full`. A change that keeps every bit (tests/test_conformance.py passes) keeps both (tests/conformance.py).
conformance: $(STAMP)
	HARDTECH_UPDATE_CONFORMANCE=1 $(BIN)/python -m pytest -q tests/test_conformance.py -rs

# Refresh requirements.lock: the newest versions pyproject.toml allows, resolved in a fresh venv
# (review the diff, run `make test`, commit it with any README/golden changes it causes).
lock:
	rm -rf .lock-venv
	$(PYTHON) -m venv .lock-venv
	.lock-venv/bin/python -m pip install --quiet --upgrade pip
	.lock-venv/bin/python -m pip install --quiet -e ".[dev,bench,web,dask,discovery,calibration]"
	{ echo "# Pinned by 'make lock' on $$(date -u +%Y-%m-%d) with $$(.lock-venv/bin/python -V) on $$(uname -m)."; \
	  echo "# pip constraints: make setup/demo/test install exactly these (pip install -c requirements.lock ...)."; \
	  .lock-venv/bin/python -m pip freeze --all --exclude-editable | LC_ALL=C sort -f; } > $(LOCK).tmp
	mv $(LOCK).tmp $(LOCK)
	rm -rf .lock-venv

clean:
	rm -rf $(VENV) results site .pytest_cache .lock-venv
