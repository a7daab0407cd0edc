# Two commands set everything up on a fresh machine (Python 3.10–3.13 on PATH):
#   make demo   creates .venv, installs the package, runs the offline demo
#   make test   creates .venv, installs the package with its dev extras, runs every test
#   make lab    creates .venv if needed and opens the course notebooks in JupyterLab
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
# Real corpora for the tests that need them: the shared copy beside a checkout, if any.
S2S_DATA_DIR ?= $(shell [ -d ../shared/data ] && cd ../shared/data && pwd)
export S2S_DATA_DIR
export TF_CPP_MIN_LOG_LEVEL ?= 2

.PHONY: demo test lab lint format clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip "setuptools>=77"  # builds the wheel offline in tests

$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	touch $@

demo: $(VENV)/.installed
	$(BIN)/s2s-keras demo

# Registers the kernel "Python 3 (s2s-keras)" in .venv and starts JupyterLab on notebooks/
# (no browser is opened where there is no display: open the URL it prints).
lab: $(VENV)/.installed
	$(BIN)/python -m s2s_keras.lab notebooks

# The notebooks run top to bottom in smoke mode (toy corpus, tiny models) under nbval.
test: $(VENV)/.installed
	$(BIN)/ruff check s2s_keras tests
	S2S_SMOKE=1 $(BIN)/python -m pytest -q --nbval-lax --nbval-current-env tests notebooks

lint: $(VENV)/.installed
	$(BIN)/ruff check s2s_keras tests
	$(BIN)/ruff format --check s2s_keras tests

format: $(VENV)/.installed
	$(BIN)/ruff format s2s_keras tests

clean:
	rm -rf $(VENV) runs .pytest_cache .ruff_cache
