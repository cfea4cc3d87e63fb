"""CUDA kernel tests: under the CUDA simulator, or on a real GPU when there is one.

The simulator replaces ``numba.cuda`` when numba is first imported, so without a GPU
these tests cannot share a process with the rest of the suite (which compiles PTX with
the real numba-cuda). ``make test`` runs them in a second pytest invocation:

    NUMBA_ENABLE_CUDASIM=1 .venv/bin/python -m pytest -q -n 2 tests/cuda_sim

In an ordinary run they are skipped with that reason, unless a GPU is present: then
they run the real kernels.
"""
import os
import sys
from pathlib import Path

import numba
import pytest

SIMULATOR = bool(numba.config.ENABLE_CUDASIM)


def _gpu() -> bool:
    if SIMULATOR:
        return False
    try:
        from numba import cuda
        return cuda.is_available()
    except Exception:
        return False


RUNS = SIMULATOR or _gpu()

if SIMULATOR:
    # The simulator runs each thread of a block as a Python thread and syncs them with
    # barriers. A 1 us GIL switch interval interleaves the threads at almost every
    # bytecode, so that a missing barrier (a race) fails here every time rather than now
    # and then (tests/cuda_sim/test_cuda_races.py); it is also faster than the default
    # 5 ms, which makes every barrier slow. Correct kernels give the same results at any.
    sys.setswitchinterval(1e-6)


def pytest_collection_modifyitems(config, items):
    if RUNS:
        return
    skip = pytest.mark.skip(reason="CUDA simulator tests: run with NUMBA_ENABLE_CUDASIM=1 "
                                   "(`make test` runs them as a second pytest invocation)")
    here = Path(__file__).resolve().parent
    for item in items:
        if here in Path(str(item.fspath)).resolve().parents:
            item.add_marker(skip)


@pytest.fixture(autouse=True)
def _cache_dir(tmp_path_factory, monkeypatch):
    """Test-only specs build into a temporary cache, never into the user's ~/.cache."""
    if "OPTGEN_CACHE_DIR" not in os.environ:
        monkeypatch.setenv("OPTGEN_CACHE_DIR", str(tmp_path_factory.getbasetemp() / "optgen-cache"))
