"""Per-tensor sums of float32 tensors neither overflow nor underflow.

A float32 square overflows above |x| = 1.8e19 and underflows (to 0) below
|x| = 3.7e-23: LARS with one weight at 3e38 had ||w|| = inf and a whole tensor
of NaN; LAMB with gradients near 1e-30 had ||u|| = 0, so its trust ratio fell
back to 1 and the step was 1e24 times too small. The summands and the
accumulators are float64 now (optgen/compiler/printers.py, ``summand``). The
independent source is the reference oracle, which evaluates the equations in
float64 with numpy; the float32 kernels must agree with it to float32 rounding.
"""
from __future__ import annotations

import numpy as np
import pytest

import optgen
from optgen.compiler.printers import KernelPrinter


@pytest.fixture(autouse=True, scope="module")
def one_thread(one_thread_module):
    """Tiny tensors: one Numba thread for the whole module (see conftest)."""


def _both(name, params, grads_per_step, **hypers):
    """(kernel parameters, oracle parameters) after the given steps, from the same start."""
    mine = [p.copy() for p in params]
    ref = [p.copy() for p in params]
    opt, oracle = optgen.create(name, mine, **hypers), optgen.reference(name, ref, **hypers)
    for grads in grads_per_step:
        opt.step(grads)
        oracle.step(grads)
    return mine, ref


def test_lars_with_a_weight_near_the_float32_maximum_matches_the_oracle():
    rng = np.random.default_rng(3)
    w = rng.standard_normal(1000).astype(np.float32)
    w[17] = np.float32(3e38)                     # its square is 9e76: inf in float32
    grads = [[rng.standard_normal(1000).astype(np.float32)] for _ in range(3)]
    (mine,), (ref,) = _both("lars", [w], grads, lr=0.1)
    assert np.isfinite(mine).all(), "the trust ratio overflowed: the tensor is NaN or inf"
    # the ratio is tc ||w|| / (||g|| + wd ||w||) ~ tc / wd = 10: every element moves by about lr * 10 * g
    np.testing.assert_allclose(mine - w, ref - w, rtol=2e-4, atol=1e-6 * 3e38 * 1e-4)
    np.testing.assert_allclose(np.delete(mine - w, 17), np.delete(ref - w, 17), rtol=2e-4, atol=1e-5)


def test_lamb_with_gradients_near_1e_30_matches_the_oracle():
    rng = np.random.default_rng(4)
    w = rng.standard_normal((20, 50)).astype(np.float32)
    grads = [[(rng.standard_normal((20, 50)) * 1e-30).astype(np.float32)] for _ in range(3)]
    (mine,), (ref,) = _both("lamb", [w], grads, lr=1e-3, weight_decay=0.0)
    # ||u|| is about 1e-24 * sqrt(1000): its square, 1e-45, underflowed in float32 and the ratio fell to 1
    moved, expected = mine - w, ref - w
    assert np.abs(expected).max() > 1e-4          # the oracle's step: lr ||w|| u / ||u||, not lr u
    np.testing.assert_allclose(moved, expected, rtol=1e-3, atol=1e-7)


def test_lars_with_weights_whose_squares_underflow_matches_the_oracle():
    """Every |w| near 1e-25: sum(w^2) ~ 1e-47 was 0 in float32, so the ratio fell back to 1."""
    rng = np.random.default_rng(5)
    w = (rng.standard_normal(500) * 1e-25).astype(np.float32)
    grads = [[(rng.standard_normal(500) * 1e-25).astype(np.float32)] for _ in range(2)]
    (mine,), (ref,) = _both("lars", [w], grads, lr=0.1, weight_decay=0.0, eps=0.0)
    np.testing.assert_allclose(mine - w, ref - w, rtol=1e-3, atol=1e-33)


def test_the_float32_summand_squares_in_float64_what_the_element_pass_computes():
    import sympy
    w, m, v = sympy.symbols("w m v")
    p = KernelPrinter("float32")
    assert p.summand(w**2) == "(np.float64(w)*np.float64(w))"
    u = np.float32(2) * w + m / sympy.sqrt(v)
    base = p.doprint(u)                               # the float32 u, as the element pass prints it
    assert p.summand(u**2) == f"(np.float64({base})*np.float64({base}))"
    assert p.summand(w**2 + 3 * abs(v)) == "((np.float64(w)*np.float64(w)) + (3.0*abs(np.float64(v))))"
    assert KernelPrinter("float64").summand(w**2) == "(w*w)"


# -- a hyperparameter that overflows the parameters' dtype where it is used ------------------

def test_lr_1e300_on_float32_parameters_is_an_error_at_create():
    w = np.ones(4, np.float32)
    with pytest.raises(optgen.SpecError, match=r"lr=1e\+300 gives the float32 kernels h0 = -lr = -1e\+300"):
        optgen.create("sgd", [w], lr=1e300)
    np.testing.assert_array_equal(w, 1.0)


def test_an_overflow_formed_on_the_host_names_the_hyperparameters_and_the_formula():
    """lr = 1e38 fits float32; Adam's step-1 scalar lr / (1 - beta1) = 1e39 does not (by hand)."""
    with pytest.raises(optgen.SpecError, match=r"beta1=0\.9, lr=1e\+38 .* = -lr/\(1 - beta1\*\*t\) = -1e\+39"):
        optgen.create("adam", [np.ones(4, np.float32)], lr=1e38)


def test_the_same_values_are_fine_on_float64_parameters_and_at_the_float32_maximum():
    w = np.ones(4, np.float64)
    optgen.create("sgd", [w], lr=1e300).step([np.full(4, 1e-300)])
    np.testing.assert_allclose(w, 0.0, atol=1e-12)           # 1 - 1e300 * 1e-300, by hand
    w32 = np.ones(4, np.float32)
    optgen.create("sgd", [w32], lr=float(np.finfo(np.float32).max)).step([np.zeros(4, np.float32)])
    np.testing.assert_array_equal(w32, 1.0)


def test_a_mixed_list_is_checked_for_its_float32_tensors():
    with pytest.raises(optgen.SpecError, match="float32"):
        optgen.create("sgd", [np.ones(2), np.ones(2, np.float32)], lr=1e39)


def test_a_schedule_that_overflows_is_an_error_at_that_step_and_nothing_changes():
    w = np.zeros(3, np.float32)
    opt = optgen.create("momentum", [w], lr=lambda t: 1.0 if t < 3 else 1e300)
    for _ in range(2):
        opt.step([np.ones(3, np.float32)])
    before = opt.state_dict()
    w_before = w.copy()
    with pytest.raises(optgen.SpecError, match=r"at step 3, lr=1e\+300 \(its schedule at step 3\)"):
        opt.step([np.ones(3, np.float32)])
    assert opt.t == 2
    np.testing.assert_array_equal(w, w_before)
    for s in opt.states:
        np.testing.assert_array_equal(opt.state_dict()["states"][0][s], before["states"][0][s])
