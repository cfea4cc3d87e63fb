"""Adafactor (optgen/specs/adafactor.py) against torch.optim.Adafactor and the float64 oracle.

torch.optim.Adafactor is the independent source: the compiled kernels (both branches of the
per-tensor option ``factored``: 1-D tensors unfactored, 2-D and 4-D ones factored over their
last two axes, odd and degenerate shapes) and the oracle, which evaluates row_mean/col_mean
from the equations alone, are each checked against it for 150+ steps of random gradients,
and on a real model's training. torch's eps1=None is the dtype's machine epsilon: given here.
"""
from __future__ import annotations

import numpy as np
import pytest
import torch

import optgen
from optgen.reference import reference
from _torch_training import MODELS, backward, data, torch_one_thread, twin_models  # noqa: F401

SHAPES = [(5,), (4, 7), (2, 3, 5, 6), (1, 9), (3, 1), (13, 3)]
EPS1 = {np.float32: float(np.finfo(np.float32).eps), np.float64: float(np.finfo(np.float64).eps)}
#: relative error against torch after 160 steps: float64 is rounding only; a float32 run is
#: compared with torch's float32 run (the oracle is float64, so a float32 step differs by rounding)
TOL = {np.float32: 5e-5, np.float64: 1e-11}
STEPS = 160
HYPERS = [dict(), dict(lr=0.05, weight_decay=0.1, beta2_decay=-0.5, d=2.0, eps2=1e-2), dict(maximize=True)]


def _torch_run(params, grads, dtype, **hypers):
    torch_hypers = {k: v for k, v in hypers.items() if k not in ("eps1", "eps2")}
    tp = [torch.tensor(p.copy(), requires_grad=True) for p in params]
    opt = torch.optim.Adafactor(tp, eps=(EPS1[dtype], hypers.get("eps2", 1e-3)), **torch_hypers)
    for gs in grads:
        for p, g in zip(tp, gs):
            p.grad = torch.tensor(g)
        opt.step()
    return [p.detach().numpy() for p in tp], opt


def _problem(dtype, seed=0):
    rng = np.random.default_rng(seed)
    params = [rng.standard_normal(s).astype(dtype) for s in SHAPES]
    grads = [[(rng.standard_normal(s) * rng.uniform(0.1, 3)).astype(dtype) for s in SHAPES] for _ in range(STEPS)]
    return params, grads


def _rel(a, b):
    return max(float(np.max(np.abs(x - y) / (1e-3 + np.abs(y)))) for x, y in zip(a, b))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("hypers", HYPERS, ids=["defaults", "changed", "maximize"])
def test_kernels_match_torch(dtype, hypers):
    params, grads = _problem(dtype)
    want, topt = _torch_run(params, grads, dtype, **hypers)
    opt = optgen.create("adafactor", [p.copy() for p in params], eps1=EPS1[dtype], **hypers)
    for gs in grads:
        opt.step(gs)
    assert _rel(opt.params, want) < TOL[dtype]
    # the states, by torch's names and shapes: row_var (..., R, 1), col_var (..., 1, C), variance for 1-D
    for i, (st, p) in enumerate(zip(opt.state_dict()["states"], topt.param_groups[0]["params"])):
        theirs = {k: v.numpy() for k, v in topt.state[p].items() if k != "step" and v is not None}
        assert set(st) == set(theirs), i
        for k in st:
            assert st[k].shape == theirs[k].shape, (i, k)
            np.testing.assert_allclose(st[k], theirs[k], rtol=TOL[dtype] * 10, atol=1e-30)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_oracle_matches_torch(dtype):
    """The oracle evaluates the equations (row_mean / col_mean as numpy means) in float64."""
    params, grads = _problem(dtype, seed=1)
    want, _ = _torch_run(params, grads, dtype, weight_decay=0.05)
    ref = reference("adafactor", [p.astype(np.float64) for p in params], eps1=EPS1[dtype], weight_decay=0.05)
    for gs in grads:
        ref.step([g.astype(np.float64) for g in gs])
    assert _rel(ref.params, want) < TOL[dtype]


def test_kernels_match_oracle_float64():
    params, grads = _problem(np.float64, seed=2)
    opt = optgen.create("adafactor", [p.copy() for p in params], lr=0.03)
    ref = reference("adafactor", [p.copy() for p in params], lr=0.03)
    for gs in grads[:40]:
        opt.step(gs)
        ref.step(gs)
    assert _rel(opt.params, ref.params) < 1e-12
    for mine, theirs in zip(opt.state_dict()["states"], ref.state_dict()["states"]):
        assert set(mine) == set(theirs)
        for k in mine:
            np.testing.assert_allclose(mine[k], theirs[k], rtol=1e-12, atol=1e-300)


def test_long_rows_summed_in_float32_runs_are_as_close_to_the_oracle_as_torch():
    """A float32 axis pass adds a row's u^2 (and g^2) over runs of at most ROW_RUN elements in
    float32, each run's sum in float64 (KernelPrinter.narrow_summand), and a column's g^2 over at
    most COL_RUN rows (20000 rows here: many runs per chunk). Rows longer than a run, and
    many short rows in chunks of several matrices, match the float64 oracle as closely as torch's
    float32 Adafactor does; the RMS of u (from the sum of u^2) clips the update when it passes d."""
    from optgen.compiler.printers import ROW_RUN
    shapes = [(3, 2 * ROW_RUN + 7), (20000, 3), (6, 4, 5)]
    rng = np.random.default_rng(7)
    params = [rng.standard_normal(s).astype(np.float32) for s in shapes]
    grads = [[rng.standard_normal(s).astype(np.float32) for s in shapes] for _ in range(30)]
    hypers = dict(lr=0.02)
    want, _ = _torch_run(params, grads, np.float32, **hypers)
    opt = optgen.create("adafactor", [p.copy() for p in params], eps1=EPS1[np.float32], **hypers)
    ref = reference("adafactor", [p.astype(np.float64) for p in params], eps1=EPS1[np.float32], **hypers)
    for gs in grads:
        opt.step(gs)
        ref.step([g.astype(np.float64) for g in gs])
    # as close to the float64 oracle as torch's float32 run is, or closer (torch's column means
    # over 20000 rows are the furthest: 1.2e-4 there)
    assert _rel(opt.params, ref.params) < min(TOL[np.float32], _rel(want, ref.params))


def test_checkpoint_resumes_bit_identically():
    params, grads = _problem(np.float32, seed=3)
    a = optgen.create("adafactor", [p.copy() for p in params])
    for gs in grads[:10]:
        a.step(gs)
    b = optgen.create("adafactor", [p.copy() for p in a.params])
    b.load_state_dict(a.state_dict())
    for gs in grads[10:20]:
        a.step(gs)
        b.step(gs)
    for x, y in zip(a.params, b.params):
        np.testing.assert_array_equal(x, y)


def test_checkpoint_with_a_wrong_reduced_shape_is_refused_and_changes_nothing():
    params, grads = _problem(np.float64, seed=4)
    a = optgen.create("adafactor", [p.copy() for p in params])
    a.step(grads[0])
    sd = a.state_dict()
    before = a.state_dict()
    sd["states"][1]["row_var"] = np.zeros((4, 7))  # the full shape, not (4, 1)
    sd["t"] = 5
    with pytest.raises(ValueError, match=r"tensor 0 lacks state 'row_var' of shape \(4, 1\)"):
        a.load_state_dict(sd)
    assert a.t == 1
    np.testing.assert_array_equal(a.state_dict()["states"][1]["row_var"], before["states"][1]["row_var"])


@pytest.mark.parametrize("kind", sorted(MODELS))
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_trains_a_model_as_torch_does(kind, dtype, torch_one_thread):  # noqa: F811
    """An MLP (2-D weights, 1-D biases) and a CNN (a 4-D kernel): torch.optim.Adafactor trains
    one copy, optgen's kernels (on numpy views of the parameters) the other, 150 steps."""
    ours, theirs = twin_models(kind, dtype)
    x, y = data(kind, dtype)
    eps1 = float(torch.finfo(dtype).eps)
    topt = torch.optim.Adafactor(theirs.parameters(), lr=0.02, weight_decay=0.01)
    views = [p.detach().numpy() for p in ours.parameters()]
    opt = optgen.create("adafactor", views, lr=0.02, weight_decay=0.01, eps1=eps1)
    for step in range(150):
        backward(theirs, x, y, step)
        topt.step()
        backward(ours, x, y, step)
        opt.step([p.grad.numpy() for p in ours.parameters()])
    tol = dict(rtol=2e-4, atol=2e-5) if dtype == torch.float32 else dict(rtol=1e-9, atol=1e-11)
    for (name, p), q in zip(ours.named_parameters(), theirs.parameters()):
        torch.testing.assert_close(p, q, **tol, msg=lambda m: f"{kind}, {name}: {m}")
