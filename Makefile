# hardtech — quick start: `make demo` and `make test` (each sets itself up).
# What they install is pinned by requirements.lock (pip constraints); `make lock` refreshes it.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
LOCK := requirements.lock

.PHONY: setup demo test bench readme readme-full golden lock clean

$(STAMP): pyproject.toml $(LOCK)
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet -c $(LOCK) --upgrade pip
	$(BIN)/python -m pip install --quiet -c $(LOCK) -e ".[dev]"
	touch $(STAMP)

setup: $(STAMP)

demo: $(STAMP)
	$(BIN)/hardtech run hangzhou --seed 7

test: $(STAMP)
	-sh scripts/ensure-chromium.sh
	$(BIN)/python -m pytest

# Benchmarks, results in benchmarks/results.md (see benchmarks/README.md).
# Other benchmarks (e.g. scaling) append their own command lines to this recipe.
bench: $(STAMP)
	$(BIN)/python -m pip install --quiet -c $(LOCK) -e ".[dev,bench]"
	$(BIN)/python benchmarks/peers/run.py --out benchmarks/results.md
	$(BIN)/python benchmarks/scaling.py --out benchmarks/results.md
	$(BIN)/python benchmarks/sweep_bench.py --out benchmarks/results.md

# README "real output" blocks (scripts/readme.py): the quick ones (seconds), or all (claims, validate,
# sweeps: about 15 minutes on 2 cores; each long block is stamped with the model version it came from).
readme: $(STAMP)
	$(BIN)/python scripts/readme.py

readme-full: $(STAMP)
	$(BIN)/python scripts/readme.py --all

# After a deliberate change of results: rewrite this platform's digest in tests/golden/digests.json.
golden: $(STAMP)
	HARDTECH_UPDATE_GOLDEN=1 $(BIN)/python -m pytest -q tests/test_reproducibility.py -k golden -rs

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
	rm -rf $(VENV) results .pytest_cache .lock-venv
