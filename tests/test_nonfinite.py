"""The ``nonfinite`` policy: what a step does with a NaN or an infinity in its gradients.

Independent sources: optax.apply_if_finite (a step with a non-finite gradient is not
applied, and counted), and the reference oracle run on the finite steps only. The
default, "propagate", is today's behaviour: the NaN enters the state (checked by hand).
"""
from __future__ import annotations

import pickle

import numpy as np
import pytest

import jax.numpy as jnp
import optax

import optgen
from optgen.runtime.nonfinite import NonFiniteGradientError
from optgen.schedules import PolynomialDecay

SHAPES = [(3, 4), (257,), (5,)]


@pytest.fixture(autouse=True, scope="module")
def one_thread(one_thread_module):
    """Tiny tensors: one Numba thread for the whole module (see conftest)."""


def _params(dtype=np.float64, seed=0):
    rng = np.random.default_rng(seed)
    return [rng.standard_normal(s).astype(dtype) for s in SHAPES]


def _grads(rng, dtype=np.float64):
    return [rng.standard_normal(s).astype(dtype) for s in SHAPES]


def _poisoned(rng, which, value, dtype=np.float64):
    grads = _grads(rng, dtype)
    flat = grads[which].reshape(-1)
    flat[(which * 7 + 2) % flat.size] = value
    return grads


def _snapshot(opt):
    return pickle.dumps((opt.state_dict(), [p.copy() for p in opt.params]))


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["f32", "f64"])
def test_skip_leaves_everything_unchanged_and_counts(bad, dtype):
    rng = np.random.default_rng(1)
    opt = optgen.create("adam", _params(dtype), nonfinite="skip")
    opt.step(_grads(rng, dtype))
    before = _snapshot(opt)
    for which in range(len(SHAPES)):
        opt.step(_poisoned(rng, which, bad, dtype))
    assert opt.skipped_steps == 3 and opt.t == 1
    sd = opt.state_dict()
    assert sd["skipped_steps"] == 3
    sd["skipped_steps"] = 0
    _same(pickle.loads(before), (sd, opt.params))


def _same(a, b):
    (sd_a, pa), (sd_b, pb) = a, b
    assert sd_a["t"] == sd_b["t"]
    for x, y in zip(pa, pb):
        np.testing.assert_array_equal(x, y)
    for sa, sb in zip(sd_a["states"], sd_b["states"]):
        for k in sa:
            np.testing.assert_array_equal(sa[k], sb[k])
    return True


def test_skip_matches_optax_apply_if_finite():
    rng = np.random.default_rng(2)
    start = _params(np.float64)
    steps = [_grads(rng), _grads(rng), _poisoned(rng, 1, np.nan), _grads(rng), _poisoned(rng, 0, np.inf),
             _grads(rng)]
    opt = optgen.create("adam", [p.copy() for p in start], lr=1e-2, nonfinite="skip")
    tx = optax.apply_if_finite(optax.adam(1e-2, b1=0.9, b2=0.999, eps=1e-8), max_consecutive_errors=100)
    params = [jnp.asarray(p) for p in start]
    state = tx.init(params)
    for grads in steps:
        opt.step(grads)
        updates, state = tx.update([jnp.asarray(g) for g in grads], state, params)
        params = optax.apply_updates(params, updates)
    for mine, theirs in zip(opt.params, params):
        np.testing.assert_allclose(mine, np.asarray(theirs), rtol=1e-10, atol=1e-12)
    assert opt.skipped_steps == int(state.total_notfinite) == 2


def test_skip_matches_the_oracle_on_the_finite_steps_with_a_schedule():
    """The step count does not advance on a skipped step: a schedule sees t = 1, 2, 3, ..."""
    rng = np.random.default_rng(3)
    start = _params(np.float32)
    sched = PolynomialDecay(0.5, 10, power=2.0)
    opt = optgen.create("lars", [p.copy() for p in start], lr=sched, nonfinite="skip")
    ref = optgen.reference("lars", [p.copy() for p in start], lr=sched)
    for s in range(6):
        grads = _grads(rng, np.float32)
        opt.step(grads)
        ref.step(grads)
        if s % 2:
            opt.step(_poisoned(rng, s % 3, np.nan, np.float32))
    assert opt.t == ref.t == 6 and opt.skipped_steps == 3
    for mine, theirs in zip(opt.params, ref.params):
        np.testing.assert_allclose(mine, theirs, rtol=2e-5, atol=2e-6)


@pytest.mark.parametrize("which", [0, 2])
def test_raise_names_the_gradient_and_changes_nothing(which):
    rng = np.random.default_rng(4)
    params = _params(np.float32)
    opt = optgen.create("lamb", params, nonfinite="raise")
    opt.step(_grads(rng, np.float32))
    before = pickle.loads(_snapshot(opt))
    with pytest.raises(NonFiniteGradientError, match=rf"grads\[{which}\] has 1 non-finite element.*nan"):
        opt.step(_poisoned(rng, which, np.nan, np.float32))
    assert opt.skipped_steps == 0
    _same(before, (opt.state_dict(), opt.params))
    assert isinstance(NonFiniteGradientError("x"), FloatingPointError)


def test_propagate_is_the_default_and_lets_the_nan_in():
    rng = np.random.default_rng(5)
    opt = optgen.create("adam", _params())
    assert opt.nonfinite == "propagate"
    opt.step(_poisoned(rng, 1, np.nan))
    m = opt.state_dict()["states"][1]["m"].reshape(-1)
    assert np.isnan(m[9]) and np.isfinite(np.delete(m, 9)).all()   # (1 - beta1) * nan, by hand
    assert opt.skipped_steps == 0


def test_the_counter_is_saved_and_loaded():
    rng = np.random.default_rng(6)
    a = optgen.create("sgd", _params(), nonfinite="skip")
    a.step(_poisoned(rng, 0, np.nan))
    a.step(_grads(rng))
    sd = pickle.loads(pickle.dumps(a.state_dict()))
    b = optgen.create("sgd", _params(), nonfinite="skip")
    b.load_state_dict(sd)
    assert b.skipped_steps == 1 and b.t == 1
    old = dict(sd)
    del old["skipped_steps"]          # a checkpoint from before the counter existed
    b.load_state_dict(old)
    assert b.skipped_steps == 0


@pytest.mark.parametrize("value", [-1, 1.5, "3", True])
def test_a_bad_saved_counter_is_refused_before_anything_changes(value):
    opt = optgen.create("sgd", _params(), nonfinite="skip")
    sd = opt.state_dict()
    sd["t"] = 5
    sd["skipped_steps"] = value
    with pytest.raises(ValueError, match="skipped_steps"):
        opt.load_state_dict(sd)
    assert opt.t == 0


@pytest.mark.parametrize("policy", ["ignore", None, "SKIP"])
def test_an_unknown_policy_is_refused_at_create(policy):
    with pytest.raises(ValueError, match=r"nonfinite=.*allowed: 'propagate', 'skip', 'raise'"):
        optgen.create("adam", _params(), nonfinite=policy)


def test_cuda_refuses_skip_and_raise_clearly():
    with pytest.raises(NotImplementedError, match=r"nonfinite='skip' is implemented for device='cpu' only"):
        optgen.create("adam", _params(), device="cuda", nonfinite="skip")


def test_large_finite_gradients_are_not_flagged():
    rng = np.random.default_rng(7)
    grads = _grads(rng, np.float32)
    grads[1][:] = np.finfo(np.float32).max
    grads[2][:] = np.finfo(np.float32).tiny / 4   # subnormal
    opt = optgen.create("sgd", _params(np.float32), lr=1e-40, nonfinite="raise")
    opt.step(grads)
    assert opt.t == 1


def test_a_division_by_zero_in_a_kernel_is_numpys_nan_or_infinity(tmp_path, monkeypatch):
    """Kernels follow numpy (and torch): 0/0 is a NaN, which the policy then sees, not an exception
    out of the kernel (a serial numba function would raise ZeroDivisionError)."""
    monkeypatch.setenv("OPTGEN_CACHE_DIR", str(tmp_path / "cache"))
    path = tmp_path / "divide.py"
    path.write_text("from optgen.dsl import Spec, hyper, state, w, g\n"
                    "lr = hyper('lr', 0.5)\ns = state('s', 0)\n"
                    "spec = Spec('divide', [(s, s + g**2), (w, w - lr * g / s)])\n")
    for dtype in (np.float32, np.float64):
        g = np.array([2.0, 0.0, -4.0], dtype)
        opt = optgen.create(optgen.load_spec(str(path)), [np.ones(3, dtype)])
        opt.step([g])  # w - lr g / g^2 = 1 - 0.5 / g by hand; 0 / 0 at the zero gradient
        np.testing.assert_allclose(opt.params[0][[0, 2]], [0.75, 1.125], rtol=1e-7)
        assert np.isnan(opt.params[0][1])
