# Two commands do all set-up on a fresh machine: `make demo` and `make test`.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: demo test fuzz build check bench perf-plot clean sim-soak

$(STAMP): pyproject.toml Makefile
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	# torch==2.13.0 is the CPU build on disk here; a bare `torch` would pull a CUDA build.
	$(PY) -m pip install -q -e ".[dev,torch,cuda,plot]"
	touch $(STAMP)

demo: $(STAMP)
	$(VENV)/bin/optgen build
	$(PY) -m optgen.demo

test: $(STAMP)
	$(PY) -m pytest -q -n 2 tests --ignore=tests/cuda_sim
	NUMBA_ENABLE_CUDASIM=1 $(PY) -m pytest -q -n 2 tests/cuda_sim

# the fuzzers of tests/fuzz for minutes (OPTGEN_FUZZ_EXAMPLES examples per test, 400 by default);
# `make test` runs their fast profile. Failures are replayed first on the next run.
fuzz: $(STAMP)
	OPTGEN_FUZZ=long $(PY) -m pytest -q tests/fuzz

build: $(STAMP)
	$(VENV)/bin/optgen build

check: $(STAMP)
	$(VENV)/bin/optgen build --check

clean:
	rm -rf $(VENV) .pytest_cache
	find . -name __pycache__ -prune -exec rm -rf {} +

# docs/performance.png from the JSON of the runs in docs/perf/run.sh (which takes ~45 min; not re-run here)
perf-plot: $(STAMP)
	$(PY) -m optgen.bench.plot docs/perf/adam-2e24.json docs/perf/adam-gpt2.json docs/perf/adam-resnet50.json \
		docs/perf/foreach-gpt2.json docs/perf/reductions-gpt2.json docs/perf/float64-2e24.json -o docs/performance.png
	$(PY) -m optgen.bench.plot docs/perf/every-spec-2e24.json -o docs/performance-every-spec.png

# The CUDA simulator suite N times in a row (default 20) under -n 2: a race shows as a failure in some run.
SOAK ?= 20
sim-soak: $(STAMP)
	for i in $$(seq $(SOAK)); do echo "run $$i of $(SOAK)"; \
		NUMBA_ENABLE_CUDASIM=1 $(PY) -m pytest -q -n 2 tests/cuda_sim -p no:cacheprovider > $(VENV)/soak.log 2>&1 \
			|| { tail -40 $(VENV)/soak.log; exit 1; }; tail -1 $(VENV)/soak.log; done
