"""Resuming from a state_dict continues the trajectory bit for bit.

Run k steps and save a deep copy of the state_dict, run n more; then restore the
copy into a fresh optimizer over copies of the parameters as they were at step
k and run the same n gradients: the parameters (and the states) must be
bit-identical to the uninterrupted run. The independent source here is the
uninterrupted run itself; what is tested is that a checkpoint captures
everything a step depends on (states, step counter, hyperparameters), including
the first-step rules (t == 1 variants, states initialised from g or w).
"""
from __future__ import annotations

import copy
import zlib

import numpy as np
import pytest

import optgen
from optgen.matrix import uses_matrices

SHAPES = [(4, 3), (0,), (), (9,)]
MATRIX_SHAPES = [(4, 3), (0, 2), (2, 3, 2)]  # a spec with a matrix step (Muon) takes no 1-D tensor
K, N = 3, 5

# the specs' defaults, plus settings that reach other variants or states
EXTRA = {
    "rmsprop": [dict(momentum=0.9, centered=True), dict(weight_decay=0.1, maximize=True)],
    "momentum": [dict(nesterov=True, dampening=0.0)],
    "adam": [dict(amsgrad=True)],
    "adamw": [dict(amsgrad=True)],
    "adagrad": [dict(initial_accumulator_value=0.5, lr_decay=0.1)],
    "adabound": [dict(amsbound=True)],
    "nadam": [dict(decoupled_weight_decay=True, weight_decay=0.1)],
}


def settings():
    out = []
    for name in optgen.names():
        out.append((name, {}))
        out += [(name, h) for h in EXTRA.get(name, [])]
    return out


@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["f32", "f64"])
@pytest.mark.parametrize("setting", settings(),
                         ids=lambda s: s[0] + "".join(f"-{k}={v}" for k, v in s[1].items()))
def test_resume_is_bit_identical(setting, dtype, one_thread):
    name, hypers = setting
    rng = np.random.default_rng(zlib.crc32(f"{name}{hypers}{dtype}".encode()))
    shapes = MATRIX_SHAPES if uses_matrices(optgen.load_spec(name)) else SHAPES
    params = [rng.standard_normal(s).astype(dtype) for s in shapes]
    grads = [[rng.standard_normal(s).astype(dtype) for s in shapes] for _ in range(K + N)]

    opt = optgen.create(name, params, **hypers)
    for gr in grads[:K]:
        opt.step(gr)
    saved = copy.deepcopy(opt.state_dict())
    at_k = [p.copy() for p in params]
    for gr in grads[K:]:
        opt.step(gr)

    resumed_params = [p.copy() for p in at_k]
    resumed = optgen.create(name, resumed_params, **hypers)
    resumed.load_state_dict(saved)
    assert resumed.t == K
    for gr in grads[K:]:
        resumed.step(gr)

    assert resumed.t == opt.t == K + N
    for a, b in zip(resumed_params, params):
        assert a.dtype == b.dtype
        np.testing.assert_array_equal(a, b)  # bit-identical, not merely close
    final, again = opt.state_dict(), resumed.state_dict()
    for sa, sb in zip(final["states"], again["states"]):
        assert sa.keys() == sb.keys()
        for key in sa:
            np.testing.assert_array_equal(sa[key], sb[key])
    # the run did something after the checkpoint: parameters or states changed
    moved = [np.any(p != q) for p, q in zip(params, at_k)]
    moved += [np.any(sa[key] != sk[key]) for sa, sk in zip(final["states"], saved["states"]) for key in sa]
    assert any(moved)


def test_saved_state_dict_is_not_aliased_to_the_live_buffers():
    """A state_dict taken at step k still describes step k after more steps."""
    params = [np.linspace(-1, 1, 10)]
    opt = optgen.create("adam", params, lr=0.1)
    opt.step([np.ones(10)])
    sd = opt.state_dict()
    m_before = sd["states"][0]["m"].copy()
    opt.step([np.ones(10)])
    np.testing.assert_array_equal(sd["states"][0]["m"], m_before)
    assert sd["t"] == 1
