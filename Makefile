# The two commands: `make demo` and `make test`. Everything else is a helper for them.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
export KEYREAPER_SHARED_DATA ?= $(abspath ../shared/data)

.PHONY: demo test lint typecheck pytest system-deps venv bench clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[all,dev]'
	touch $(STAMP)

venv: $(STAMP)

demo: $(STAMP)
	$(BIN)/python scripts/demo.py

system-deps:
	@sh scripts/system-deps.sh

shared-data-check:
	@if [ "$${CI:-}" = "true" ] && [ ! -d "$(KEYREAPER_SHARED_DATA)" ]; then \
		echo "CI=true but third-party data is missing at $(KEYREAPER_SHARED_DATA)"; exit 1; fi

lint: $(STAMP)
	$(BIN)/ruff check src tests bench scripts
	$(BIN)/ruff format --check src tests bench scripts

typecheck: $(STAMP)
	$(BIN)/mypy --strict src/keyreaper

pytest: $(STAMP)
	$(BIN)/python -m pytest -q -n 2

test: system-deps shared-data-check lint typecheck pytest

bench: $(STAMP)
	$(BIN)/python bench/run.py all

bench-%: $(STAMP)
	$(BIN)/python bench/run.py $*

clean:
	rm -rf $(VENV) .mypy_cache .pytest_cache .ruff_cache
