# Every target creates .venv if it is missing and installs what it needs.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin

.PHONY: demo test test-all bench lint clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e .
	touch $@

$(VENV)/.installed-test: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[test,web]'
	touch $@ $(VENV)/.installed

demo: $(VENV)/.installed
	$(BIN)/batchprov run examples/advertisers.xlsx --sandbox
	@echo
	@echo "Annotated workbook: examples/advertisers.sandbox.results.xlsx"

test: $(VENV)/.installed-test
	$(BIN)/python -m pytest -q

# The suite and the largest end-to-end runs (marked slow) beside it.
test-all: $(VENV)/.installed-test
	$(BIN)/python -m pytest -q -m 'not perf'

bench: $(VENV)/.installed-test
	$(BIN)/python -m pytest -q -m perf tests/perf -s -p no:cacheprovider

lint: $(VENV)/.installed-test
	$(BIN)/ruff check batchprov tests
	$(BIN)/ruff format --check batchprov tests
	$(BIN)/mypy

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache .mypy_cache .ruff_cache
