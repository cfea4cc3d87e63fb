"""Sums over every tensor on the device (runtime/cuda_sums.py), under the simulator or on a GPU.

Every spec, adamw_clip included, also runs in test_cuda_sim.py against the oracle. Here:
more chunks than the one block of the column sum has threads (its strided loop), two dtype
groups whose totals are added by the finishing kernel, and the all_reduce hook, which
receives the device table of group totals.
"""
import numpy as np
import pytest

import optgen
from optgen.runtime import hypers as hyper_values
from optgen.runtime.cuda import create_cuda
from optgen.runtime.cuda_sums import BLOCK
from optgen.transforms import clip_by_global_norm

from conftest import RUNS  # noqa: F401  (the directory's skip rule)

try:
    from numba import cuda
except ImportError:  # pragma: no cover
    cuda = None

pytestmark = pytest.mark.skipif(not RUNS, reason="needs NUMBA_ENABLE_CUDASIM=1 or a GPU")


def _sgd_on_clipped(params, grads, max_norm):
    norm = np.sqrt(sum(np.sum(gr.astype(np.float64) ** 2) for gr in grads))
    assert norm > max_norm  # the clip acts
    return [p.astype(np.float64) - gr.astype(np.float64) * (max_norm / norm) for p, gr in zip(params, grads)]


def test_global_norm_over_many_chunks_and_two_dtype_groups():
    rng = np.random.default_rng(3)
    host = [rng.standard_normal(BLOCK + 77).astype(np.float32), rng.standard_normal(40)]
    grads = [rng.standard_normal(h.shape).astype(h.dtype) for h in host]
    expected = _sgd_on_clipped(host, grads, 1.0)
    dev = [cuda.to_device(h) for h in host]
    launch = dict(chunk=1, block=8, max_blocks=2)  # a chunk per element: more chunks than the column sum has threads
    spec = optgen.load_spec("adamw_clip")
    opt = create_cuda(spec, dev, *hyper_values.resolve(spec, {}), **launch)
    seen = []
    opt.all_reduce = lambda table: seen.append(table.copy_to_host())
    clipped_sgd = clip_by_global_norm("sgd", max_norm=1.0)
    sgd = create_cuda(clipped_sgd, dev, *hyper_values.resolve(clipped_sgd, {"lr": 1.0}), **launch)
    sgd.step([cuda.to_device(x) for x in grads])
    for d, e in zip(dev, expected):
        np.testing.assert_allclose(d.copy_to_host(), e, rtol=2e-6, atol=1e-7)
    opt.step([cuda.to_device(x) for x in grads])
    assert len(seen) == 1 and seen[0].shape == (2, 1)  # a row per dtype group
    np.testing.assert_allclose(seen[0][:, 0], [np.sum(gr.astype(np.float64) ** 2) for gr in grads], rtol=1e-6)
