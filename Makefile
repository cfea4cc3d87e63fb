# Two commands do all set-up on a fresh machine: `make demo` and `make test`.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: demo test build check bench perf-plot clean

$(STAMP): pyproject.toml Makefile
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	# torch==2.13.0 is the CPU build on disk here; a bare `torch` would pull a CUDA build.
	$(PY) -m pip install -q -e ".[dev,torch,cuda]"
	touch $(STAMP)

demo: $(STAMP)
	$(VENV)/bin/optgen build
	$(PY) -m optgen.demo

test: $(STAMP)
	$(PY) -m pytest -q -n 2 tests
	NUMBA_ENABLE_CUDASIM=1 $(PY) -m pytest -q -n 2 tests/cuda_sim

build: $(STAMP)
	$(VENV)/bin/optgen build

check: $(STAMP)
	$(VENV)/bin/optgen build --check

clean:
	rm -rf $(VENV) .pytest_cache
	find . -name __pycache__ -prune -exec rm -rf {} +
