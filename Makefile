# One entry point for humans and CI: `make demo`, `make test`, `make check`, `make bench`.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: install demo test check lint fmt bench clean

install: $(STAMP)

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/python examples/demo.py

test: $(STAMP)
	$(BIN)/python -m pytest -q

check: $(STAMP)
	$(BIN)/ruff check reconciler benchmarks tests examples
	$(BIN)/ruff format --check reconciler benchmarks tests examples
	$(BIN)/mypy reconciler benchmarks

fmt: $(STAMP)
	$(BIN)/ruff check --fix reconciler benchmarks tests examples
	$(BIN)/ruff format reconciler benchmarks tests examples

bench: $(STAMP)
	$(BIN)/python -m benchmarks

clean:
	rm -rf $(VENV) build *.egg-info .mypy_cache .pytest_cache .ruff_cache
