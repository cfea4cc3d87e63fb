"""tanh, sinh, cosh, atan, atan2, erf, sin, cos in CUDA kernels, under the simulator (or on a GPU).

The specs of tests/_elementwise.py (each function per element, in the host stage and in the
per-tensor stage), three steps on float32 and on float64 tensors against the reference
oracle and the hand-written numpy step; chunks and blocks as in test_cuda_sim.py.
"""
import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import optgen  # noqa: E402
from optgen.runtime import hypers as hyper_values  # noqa: E402
from optgen.runtime.cuda import create_cuda  # noqa: E402

from _elementwise import FUNCTIONS, hand_step, hypers_of, spec_using  # noqa: E402

try:
    from numba import cuda
except ImportError:  # pragma: no cover - without numba-cuda every test here is skipped
    cuda = None

TOL = {np.dtype(np.float32): dict(rtol=2e-5, atol=2e-6), np.dtype(np.float64): dict(rtol=1e-10, atol=1e-12)}
LAUNCH = dict(block=32, chunk=64, max_blocks=3)
SHAPES = [(1,), (3, 5), (150,)]
STEPS = 3


def _assert_close(actual, expected, dtype, what):
    scale = max(1.0, float(np.max(np.abs(expected))))
    t = TOL[np.dtype(dtype)]
    np.testing.assert_allclose(actual, expected, rtol=t["rtol"], atol=t["atol"] * scale, err_msg=what)


@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["f32", "f64"])
@pytest.mark.parametrize("name", FUNCTIONS)
def test_cuda_kernels_match_the_oracle_and_numpy_by_hand(name, dtype):
    spec, hypers = spec_using(name), hypers_of(name)
    rng = np.random.default_rng(sum(map(ord, name)) + np.dtype(dtype).itemsize)
    host = [rng.standard_normal(shape).astype(dtype) for shape in SHAPES]
    by_hand = [w.copy() for w in host]
    ref = optgen.reference(spec, [w.copy() for w in host], **hypers)
    options, values = hyper_values.resolve(spec, hypers)
    dev = [cuda.to_device(w) for w in host]
    gpu = create_cuda(spec, dev, options, values, **LAUNCH)
    state = None
    for t in range(1, STEPS + 1):
        grads = [rng.standard_normal(shape).astype(dtype) for shape in SHAPES]
        gpu.step([cuda.to_device(g) for g in grads])
        ref.step(grads)
        state = hand_step(name, by_hand, grads, state, t, hypers)
    for i, d in enumerate(dev):
        w = d.copy_to_host()
        assert w.dtype == dtype
        _assert_close(w, by_hand[i], dtype, f"{name} w[{i}] vs numpy by hand")
        _assert_close(w, ref.params[i], dtype, f"{name} w[{i}] vs reference")
