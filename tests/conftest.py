"""Shared test helpers: tolerances follow the dtype."""
import contextlib

import numba
import numpy as np
import pytest

# Relative/absolute tolerances per dtype for trajectories of O(100) steps: float64
# kernels agree with float64 references to rounding; float32 accumulates ~1e-7 per
# step relative error.
TOL = {np.dtype(np.float32): dict(rtol=2e-5, atol=2e-6), np.dtype(np.float64): dict(rtol=1e-10, atol=1e-12)}


def tol(dtype):
    return TOL[np.dtype(dtype)]


@pytest.fixture
def rng():
    return np.random.default_rng(1234)


@contextlib.contextmanager
def numba_threads(n: int):
    before = numba.get_num_threads()
    numba.set_num_threads(n)
    try:
        yield
    finally:
        numba.set_num_threads(before)


@pytest.fixture
def two_threads():
    """Two Numba threads (the serial-or-parallel choice needs more than one available)."""
    with numba_threads(2):
        yield


@pytest.fixture
def one_thread():
    """Tiny tensors: one Numba thread (a parallel launch on a busy machine waits ms for the others)."""
    with numba_threads(1):
        yield


@pytest.fixture(scope="module")
def one_thread_module():
    with numba_threads(1):
        yield


@pytest.fixture
def x64():
    """``x64(dtype)`` sets jax_enable_x64 for that dtype (optax in float64); restored afterwards,
    since the setting is process-wide."""
    import jax
    before = bool(jax.config.read("jax_enable_x64"))

    def use(dtype):
        jax.config.update("jax_enable_x64", np.dtype(dtype) == np.float64)
    yield use
    jax.config.update("jax_enable_x64", before)

