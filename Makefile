# Two entry points do all the set-up on a fresh machine:
#   make compare   -> installs into .venv if needed, then runs the main job (the default comparison)
#   make test      -> installs into .venv (test tools, TRL, verl, Ray) if needed, then runs lint and the test suite
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin

.PHONY: compare demo test test-model lint bench figures mutation clean

$(BIN)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	touch $@

# the test run also needs the optional integrations (TRL, verl, Ray) to test the adapters and the Ray backend
$(BIN)/.installed-integrations: $(BIN)/.installed
	$(BIN)/python -m pip install --quiet -e ".[dev,trl,verl,ray,rgym]"
	touch $@

compare: $(BIN)/.installed
	$(BIN)/schedsim compare --schedulers paced,sec,uniform

demo: $(BIN)/.installed
	$(BIN)/schedsim list
	$(BIN)/schedsim demo --schedulers uniform,paced,beta,gaussian,sec

lint: $(BIN)/.installed
	$(BIN)/ruff check schedsim tests analysis
	$(BIN)/ruff format --check schedsim tests analysis

test: lint $(BIN)/.installed-integrations
	$(BIN)/python -m pytest

# The real pretrained model (SmolLM2-135M from the registry, 98 MB, about a minute on 2 cores): not part of `make test`
test-model: $(BIN)/.installed-integrations
	SCHEDSIM_MODEL_TESTS=1 $(BIN)/python -m pytest tests/test_llm.py -k smollm2

# Mutation testing (minutes per module, so not part of `make test`). Configured in pyproject.toml [tool.mutmut];
# MUTANTS narrows the run to mutmut names, e.g. `make mutation MUTANTS='schedsim.rules.kernels.*'`.
# Judged-equivalent survivors are listed in analysis/mutation_equivalents.md.
MUTANTS ?=
MUTATION_CHILDREN ?= 1
mutation: $(BIN)/.installed
	HYPOTHESIS_PROFILE=mutation $(BIN)/mutmut run --max-children $(MUTATION_CHILDREN) $(MUTANTS)
	$(BIN)/python analysis/mutation_score.py --survivors

bench: $(BIN)/.installed-integrations
	$(BIN)/python analysis/bench_schedulers.py
	$(BIN)/python analysis/bench_simulator.py
	$(BIN)/python analysis/bench_arith.py
	$(BIN)/python analysis/bench_adapters.py

figures: $(BIN)/.installed
	$(BIN)/python analysis/theory_figures.py
	$(BIN)/python analysis/simulator_figures.py
	$(BIN)/python analysis/compare_presets.py

clean:
	rm -rf $(VENV) .pytest_cache .hypothesis runs mutants
