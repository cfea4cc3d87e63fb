"""The CUDA kernels' per-tensor sums of float32 tensors neither overflow nor underflow.

The cases of tests/test_numerics.py on the device (or the simulator): a float32
weight at 3e38 (LARS) and gradients near 1e-30 (LAMB), against the reference
oracle (float64 numpy). Before the sums were float64 (thread accumulators, the
shared-memory tree and the chunk partials), the first gave a tensor of NaN and
the second a step 1e24 times too small.
"""
import numpy as np
import pytest

import optgen
from optgen.runtime import hypers as hyper_values
from optgen.runtime.cuda import create_cuda

try:
    from numba import cuda
except ImportError:  # pragma: no cover - without numba-cuda every test here is skipped
    cuda = None

LAUNCH = dict(block=32, chunk=64, max_blocks=3)


def _both(name, w, grads_per_step, **given):
    spec = optgen.load_spec(name)
    options, values = hyper_values.resolve(spec, given)
    dev = cuda.to_device(w)
    opt = create_cuda(spec, [dev], options, values, **LAUNCH)
    ref = [w.copy()]
    oracle = optgen.reference(name, ref, **given)
    for g in grads_per_step:
        opt.step([cuda.to_device(g)])
        oracle.step([g])
    return dev.copy_to_host(), ref[0]


# the finishing kernel also copies sum(w^2) = 9e76 into the float32 per-tensor table, a column
# no float32 pass reads (the passes read the ratio): inf there is harmless
@pytest.mark.filterwarnings("ignore:overflow encountered in cast:RuntimeWarning")
def test_lars_with_a_weight_near_the_float32_maximum_matches_the_oracle():
    rng = np.random.default_rng(3)
    w = rng.standard_normal(300).astype(np.float32)
    w[17] = np.float32(3e38)
    grads = [rng.standard_normal(300).astype(np.float32) for _ in range(2)]
    mine, ref = _both("lars", w, grads, lr=0.1)
    assert np.isfinite(mine).all()
    np.testing.assert_allclose(np.delete(mine - w, 17), np.delete(ref - w, 17), rtol=2e-4, atol=1e-5)


def test_lamb_with_gradients_near_1e_30_matches_the_oracle():
    rng = np.random.default_rng(4)
    w = rng.standard_normal(200).astype(np.float32)
    grads = [(rng.standard_normal(200) * 1e-30).astype(np.float32) for _ in range(2)]
    mine, ref = _both("lamb", w, grads, lr=1e-3, weight_decay=0.0)
    assert np.abs(ref - w).max() > 1e-4
    np.testing.assert_allclose(mine - w, ref - w, rtol=1e-3, atol=1e-7)


def test_lr_1e300_on_float32_device_parameters_is_an_error_at_create():
    spec = optgen.load_spec("sgd")
    options, values = hyper_values.resolve(spec, {"lr": 1e300})
    with pytest.raises(optgen.SpecError, match=r"lr=1e\+300 gives the float32 kernels"):
        create_cuda(spec, [cuda.to_device(np.ones(4, np.float32))], options, values, **LAUNCH)


def test_skip_and_raise_are_refused_on_cuda():
    spec = optgen.load_spec("sgd")
    options, values = hyper_values.resolve(spec, {})
    with pytest.raises(NotImplementedError, match="device='cpu' only"):
        create_cuda(spec, [cuda.to_device(np.ones(4, np.float32))], options, values, nonfinite="raise")
