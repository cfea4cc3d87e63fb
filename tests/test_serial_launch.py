"""Small launches run on one thread, large ones on all (optgen/runtime/cpu.py, launch_threads).

What is checked is the decision and its effect on the chunk table (dealt for one
thread, or for all), not a time: speed is measured with optgen bench.
"""
from __future__ import annotations

import numba
import numpy as np
import pytest

import optgen
from optgen.runtime.cpu import SERIAL_BELOW, launch_threads

pytestmark = pytest.mark.skipif(numba.config.NUMBA_NUM_THREADS < 2, reason="needs two Numba threads")


def test_the_threshold():
    assert launch_threads(SERIAL_BELOW - 1, 8) == 1
    assert launch_threads(SERIAL_BELOW, 8) == 8


def test_a_small_group_runs_serially_and_a_large_one_in_parallel(two_threads):
    small = [np.zeros(1000, np.float32), np.zeros(10, np.float32)]
    large = [np.zeros(SERIAL_BELOW, np.float64)]
    opt = optgen.create("adam", small + large)
    opt.step([np.ones_like(p) for p in small + large])
    by_dtype = {gr.dtype: gr for gr in opt.groups}
    assert by_dtype[np.dtype(np.float32)].threads == 1
    assert by_dtype[np.dtype(np.float64)].threads == 2
    assert numba.get_num_threads() == 2  # the caller's setting is restored
    assert np.all(small[0] < 0) and np.all(large[0] < 0)


def test_the_raw_thread_count_calls_are_numbas(two_threads):
    """runtime/threads.set_threads / get_threads (Numba's private ctypes entry points) read and
    write the count numba.get_num_threads sees."""
    from optgen.runtime.threads import get_threads, set_threads
    assert get_threads() == numba.get_num_threads() == 2
    set_threads(1)
    try:
        assert numba.get_num_threads() == 1 and get_threads() == 1
    finally:
        set_threads(2)
    assert numba.get_num_threads() == 2


def test_without_numbas_private_calls_the_public_ones(monkeypatch):
    from numba.np.ufunc import parallel
    from optgen.runtime import threads
    monkeypatch.delattr(parallel, "_set_num_threads")
    assert threads._thread_count_calls() == (numba.set_num_threads, numba.get_num_threads)
