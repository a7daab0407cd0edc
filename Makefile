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

.PHONY: demo test lab lint format clean cjk-font course series

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
lab: $(VENV)/.installed cjk-font
	$(BIN)/python -m s2s_keras.lab notebooks

# Chinese text in plots (notebook 09, tests/test_plots.py) needs a font with Han characters:
# installed from Debian's packages where there is none and we may (root with apt-get).
cjk-font:
	@fc-list 2>/dev/null | grep -qiE "wqy|noto sans cjk|droid sans fallback|source han" || \
	{ if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    echo "installing fonts-wqy-microhei (a CJK font for Chinese plots)"; \
	    apt-get update -qq >/dev/null && DEBIAN_FRONTEND=noninteractive \
	    apt-get install -y -qq fonts-wqy-microhei >/dev/null; \
	  else echo "note: no CJK font found; install fonts-wqy-microhei or fonts-noto-cjk for Chinese plots"; fi; }

# The notebooks run top to bottom in smoke mode (toy corpus, tiny models) under nbval.
# The suite spends most of its time in one Python thread (tracing, building, subprocesses),
# so it runs in one worker per core, up to 4; --dist loadscope keeps each test module and
# each notebook in one worker, in order. PYTEST_WORKERS=0 runs it in this process.
PYTEST_WORKERS ?= auto
test: $(VENV)/.installed cjk-font
	$(BIN)/ruff check s2s_keras tests
	S2S_SMOKE=1 $(BIN)/python -m pytest -q -n $(PYTEST_WORKERS) --maxprocesses 4 --dist loadscope \
	  --nbval-lax --nbval-current-env tests notebooks

# The course as one series (hours on a CPU): train the course's models ahead (resumable;
# `make course` the six of notebooks 02-06, `make course COURSE=all` every notebook's),
# execute every notebook in full in place reusing them, then write each notebook's measured
# time at its top and pin its Colab install to the commit the series ran on.
COURSE ?= spa-eng
course: $(VENV)/.installed
	$(BIN)/python -m s2s_keras.course $(COURSE)

# A cell that runs past CELL_TIMEOUT seconds fails the series instead of waiting forever: an
# ipykernel 7 kernel has been seen to go idle mid-notebook while nbconvert waited on it. With
# the models trained ahead, the longest cell here (01's dual encoder) took 382 s.
CELL_TIMEOUT ?= 3600
series: cjk-font
	@git diff --quiet HEAD -- s2s_keras pyproject.toml || \
	  { echo "commit the package first: the notebooks are pinned to the commit they ran on"; exit 1; }
	$(MAKE) course COURSE=all
	for nb in notebooks/[0-9][0-9]_*.ipynb; do \
	  $(BIN)/jupyter nbconvert --to notebook --execute --inplace \
	    --ExecutePreprocessor.timeout=$(CELL_TIMEOUT) "$$nb" || exit 1; done
	$(BIN)/python -m s2s_keras.series notebooks --pin "$$(git rev-parse HEAD)"

lint: $(VENV)/.installed
	$(BIN)/ruff check s2s_keras tests
	$(BIN)/ruff format --check s2s_keras tests

format: $(VENV)/.installed
	$(BIN)/ruff format s2s_keras tests

clean:
	rm -rf $(VENV) runs .pytest_cache .ruff_cache
