"""Shared test helpers: tolerances follow the dtype."""
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
