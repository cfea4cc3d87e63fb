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


@pytest.fixture(autouse=True)
def jax_starts_in_float64():
    """Every test starts with jax_enable_x64 on, so a float64 reference runs in float64.

    The setting is process-wide. Set once at import, it held only until a float32 test turned it
    off; under pytest-xdist any test may follow that one in the same worker (CI failed so: optax
    schedules in float32 against ours in float64). ``tests/test_harness.py`` checks this."""
    try:
        import jax
    except ImportError:
        return
    jax.config.update("jax_enable_x64", True)


@pytest.fixture
def x64():
    """``x64(dtype)`` runs optax in that dtype for the rest of the test: jax_enable_x64 is on for
    float64 only (``jax_starts_in_float64`` turns it back on for the next test)."""
    import jax

    def use(dtype):
        jax.config.update("jax_enable_x64", np.dtype(dtype) == np.float64)
    return use
