"""muon_optax (optgen/specs/muon_optax.py) against optax.contrib.muon and the float64 oracle.

optax is the independent source. Each case runs 150 steps of random gradients through optgen's
kernels, the oracle (the equations evaluated in float64) and optax.contrib.muon on jax (float32,
and float64 under jax_enable_x64), and compares the parameters after every step
(``_sidebyside.trajectory``): vectors (Adam's branch in both), 2-D matrices wide, tall, square
and a single row (Muon's branch in both), and a 4-D tensor, which optax's default rule sends to
Adam (``x.ndim == 2`` only) and the spec to Muon as its first axis by the rest: beside the spec,
optax is given muon_weight_dimension_numbers MuonDimensionNumbers(0, (1, 2, 3)) for it, which is
that matrix. A test shows that with optax's default rule only the 4-D tensor differs.

Every optax.contrib.muon argument that the spec has is reached: beta, eps (of both branches),
weight_decay, nesterov on and off (both branches), adaptive, consistent_rms, adam_b1, adam_b2,
adam_eps_root, adam_weight_decay, adam_learning_rate (the spec's adam_lr_ratio). The
normalisation before Newton–Schulz is optax's x / (||x||_F + eps), not torch's clamp: a case
with eps = 0.05, of the order of ||u||_F of the tensor with gradients of scale 1e-2, moves the
matrices far from the eps = 1e-8 steps, and the spec follows optax there too.
"""
from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

import jax  # noqa: E402
from optax.contrib import MuonDimensionNumbers, muon  # noqa: E402

import optgen  # noqa: E402
from _sidebyside import Optax, assert_close, seed_of, trajectory  # noqa: E402

STEPS = 150
SHAPES = [(7,), (20, 50), (50, 20), (30, 30), (6, 4, 3, 3), (1, 9), (5,)]
SCALES = [1.0, 1e-2, 3.0, 0.5, 1.0, 2.0, 0.1]
MATRIX = [len(s) >= 2 for s in SHAPES]
#: optax's muon_weight_dimension_numbers for SHAPES: its default for 2-D, the first axis by the rest
#: for the 4-D tensor (what the spec's matrix step does), None (Adam) for vectors
DIMS = [None if len(s) < 2 else MuonDimensionNumbers(0, tuple(range(1, len(s)))) for s in SHAPES]
#: relative to each tensor's largest element, after every step, over the cases below: measured worst
#: float32 1.1e-6 against the oracle, 2.4e-6 against optax (on the vectors: optax computes Adam's bias
#: correction 1 - 0.999^t in float32, 2e-5 off at t = 150; the matrices agree to 3e-7); float64 2.3e-15
REL = {np.dtype(np.float32): 5e-6, np.dtype(np.float64): 1e-13}
DTYPES = pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["f32", "f64"])

#: (label, hypers of the spec)
HYPERS = [
    ("defaults", {}),
    ("no-nesterov", dict(nesterov=False)),
    ("weight-decay", dict(lr=0.01, weight_decay=0.1, adam_weight_decay=0.05)),
    ("changed", dict(lr=0.05, beta=0.8, adam_b1=0.7, adam_b2=0.95, adam_eps_root=1e-4, adam_lr_ratio=0.3,
                     nesterov=False, weight_decay=1e-3)),
    ("large-eps", dict(eps=0.05)),
    ("adaptive", dict(adaptive=True, lr=0.01)),
    ("consistent-rms", dict(consistent_rms=True, consistent_rms_scale=0.3, adaptive=True, lr=0.01)),
]


def _muon_args(h: dict) -> dict:
    """optax.contrib.muon's arguments for the spec's hyperparameters and options."""
    lr = h.get("lr", 0.02)
    return dict(
        learning_rate=lr,
        beta=h.get("beta", 0.95),
        eps=h.get("eps", 1e-8),
        weight_decay=h.get("weight_decay", 0.0),
        nesterov=h.get("nesterov", True),
        adaptive=h.get("adaptive", False),
        consistent_rms=h.get("consistent_rms_scale", 0.2) if h.get("consistent_rms", False) else None,
        adam_b1=h.get("adam_b1", 0.9),
        adam_b2=h.get("adam_b2", 0.999),
        adam_eps_root=h.get("adam_eps_root", 0.0),
        adam_weight_decay=h.get("adam_weight_decay", 0.0),
        adam_learning_rate=None if "adam_lr_ratio" not in h else lr * h["adam_lr_ratio"],
    )


def _optax(h: dict, dims=DIMS):
    return muon(**_muon_args(h), muon_weight_dimension_numbers=dims)


@pytest.fixture(autouse=True, scope="module")
def one_thread(one_thread_module):
    """One Numba thread for the whole module (see conftest)."""


@DTYPES
@pytest.mark.parametrize("label,hypers", HYPERS, ids=[label for label, _ in HYPERS])
def test_matches_optax_and_the_oracle(label, hypers, dtype, x64):
    x64(dtype)
    trajectory("muon_optax", hypers, dtype, lambda p: Optax(_optax(hypers), p), steps=STEPS,
               shapes=SHAPES, scales=SCALES, seed=seed_of(f"muon_optax-{label}-{np.dtype(dtype).name}"),
               rel=REL[np.dtype(dtype)], label=f"muon_optax {label}")


def _problem(shapes, dtype, steps, seed, scales=SCALES):
    rng = np.random.default_rng(seed)
    params = [rng.standard_normal(s).astype(dtype) for s in shapes]
    grads = [[(rng.standard_normal(s) * sc).astype(dtype) for s, sc in zip(shapes, scales)] for _ in range(steps)]
    return params, grads


def _run_optax(tx, params, grads):
    ext = Optax(tx, [p.copy() for p in params])
    for gs in grads:
        ext.step(gs)
    return ext


def _run(params, grads, **hypers):
    opt = optgen.create("muon_optax", [p.copy() for p in params], **hypers)
    for gs in grads:
        opt.step(gs)
    return opt


@DTYPES
@pytest.mark.parametrize("nesterov", [True, False], ids=["nesterov", "plain"])
def test_states_match_optax(nesterov, dtype, x64):
    """mu: optax's Muon momentum for the matrices, its Adam first moment for the others; nu: Adam's
    second moment, a state of the non-matrices only."""
    x64(dtype)
    params, grads = _problem(SHAPES, dtype, STEPS, seed=5)
    ext = _run_optax(_optax(dict(nesterov=nesterov)), params, grads)
    opt = _run(params, grads, nesterov=nesterov)
    muon_state = ext.state.inner_states["muon"].inner_state[0]
    adam_state = ext.state.inner_states["adam"].inner_state[0]
    assert int(muon_state.count) == int(adam_state.count) == STEPS == opt.t
    rel = REL[np.dtype(dtype)]
    for i, (shape, matrix) in enumerate(zip(SHAPES, MATRIX)):
        mine = opt.state_dict()["states"][i]
        assert set(mine) == ({"mu"} if matrix else {"mu", "nu"}), shape
        if matrix:
            assert_close(mine["mu"], np.asarray(muon_state.mu[i]), dtype, f"mu of {shape}", rel)
        else:
            assert_close(mine["mu"], np.asarray(adam_state.mu[i]), dtype, f"mu of {shape}", rel)
            assert_close(mine["nu"], np.asarray(adam_state.nu[i]), dtype, f"nu of {shape}", rel)


@DTYPES
def test_eps_is_added_to_the_norm(dtype, x64):
    """optax divides by ||u||_F + eps (torch by max(||u||_F, eps), where an eps below the norm does
    nothing): with eps = 0.05 the matrices move far from their eps = 1e-8 steps in optax, and the
    spec is at optax's steps for both."""
    x64(dtype)
    params, grads = _problem(SHAPES, dtype, 30, seed=6)
    small = _run_optax(_optax({}), params, grads).params()
    large = _run_optax(_optax(dict(eps=0.05)), params, grads).params()
    mine = _run(params, grads, eps=0.05).params
    rel = REL[np.dtype(dtype)]
    for i, shape in enumerate(SHAPES):
        assert_close(mine[i], large[i], dtype, f"tensor {shape}, eps 0.05", rel)
    gap = float(np.max(np.abs(small[1] - large[1]))) / float(np.max(np.abs(large[1])))
    assert gap > 1e3 * rel, f"eps should move the (20, 50) matrix of gradient scale 1e-2: {gap}"


@DTYPES
def test_optax_default_rule_sends_the_4d_tensor_to_adam(dtype, x64):
    """optax.contrib.muon without muon_weight_dimension_numbers takes Muon for 2-D tensors only: its
    steps are the spec's on every tensor but the 4-D one, which optax gives Adam and the spec Muon."""
    x64(dtype)
    params, grads = _problem(SHAPES, dtype, 30, seed=7)
    default = _run_optax(muon(**_muon_args({})), params, grads)
    theirs = default.params()
    assert isinstance(default.state.inner_states["adam"].inner_state[0].mu[4], jax.Array), "optax: Adam for 4-D"
    mine = _run(params, grads).params
    rel = REL[np.dtype(dtype)]
    for i, shape in enumerate(SHAPES):
        if len(shape) == 4:
            scale = float(np.max(np.abs(theirs[i])))
            assert float(np.max(np.abs(mine[i] - theirs[i]))) > 1e3 * rel * scale, f"{shape} should differ"
        else:
            assert_close(mine[i], theirs[i], dtype, f"tensor {shape}", rel)


def test_vectors_alone_are_adam():
    """A model of vectors only has no matrix step: every tensor is optax's Adam branch."""
    params, grads = _problem([(7,), (3,)], np.float64, 20, seed=8, scales=[1.0, 0.1])
    opt = _run(params, grads)
    mirror = [p.copy() for p in params]
    ref = optgen.reference("muon_optax", mirror)
    for gs in grads:
        ref.step(gs)
    for mine, oracle in zip(opt.params, mirror):
        assert_close(mine, oracle, np.float64, "vector", REL[np.dtype(np.float64)])
