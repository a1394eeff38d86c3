# hardtech — quick start: `make demo` and `make test` (each sets itself up).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: setup demo test bench clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[dev]"
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
	$(BIN)/python -m pip install --quiet -e ".[dev,bench]"
	$(BIN)/python benchmarks/peers/run.py --out benchmarks/results.md
	$(BIN)/python benchmarks/scaling.py --out benchmarks/results.md
	$(BIN)/python benchmarks/sweep_bench.py --out benchmarks/results.md
	$(BIN)/python benchmarks/throughput.py --out benchmarks/results.md

clean:
	rm -rf $(VENV) results .pytest_cache
