# Two entry points do all the set-up on a fresh machine:
#   make demo      -> installs into .venv if needed, then runs the main job
#   make test      -> installs into .venv (with test tools) if needed, then runs lint and the test suite
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin

.PHONY: demo test lint bench clean

$(BIN)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	touch $@

demo: $(BIN)/.installed
	$(BIN)/schedsim list
	$(BIN)/schedsim demo --schedulers uniform,paced,beta,gaussian,sec

lint: $(BIN)/.installed
	$(BIN)/ruff check schedsim tests analysis
	$(BIN)/ruff format --check schedsim tests analysis

test: lint
	$(BIN)/python -m pytest

bench: $(BIN)/.installed
	$(BIN)/python analysis/bench_schedulers.py

clean:
	rm -rf $(VENV) .pytest_cache .hypothesis
