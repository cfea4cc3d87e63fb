"""Schedules: values against optax and torch.optim.lr_scheduler, schedules driving
optimizers (any hyperparameter), the performance-dependent schedule, and the
exponential learning rate (the note on exponential learning rates) against its equivalence theorem.

Step convention: optgen's step t uses the schedule at n = t - 1 steps done, which
is optax's ``count`` and the number of torch ``scheduler.step()`` calls before
the optimizer step. optax evaluates its schedules in float32 when its count is
int32 (inside optax.lamb etc.); called here with float64 counts they are
float64. torch's chainable schedulers multiply recursively, so they drift from
the closed forms by ~n roundings: values are compared with rtol 1e-12 (optax,
closed forms) and 1e-10 (torch).
"""
from __future__ import annotations

import math
import pickle

import numpy as np
import pytest
import sympy
import torch

import jax.numpy as jnp
import optax
import pytorch_optimizer

import optgen
from optgen import schedules as S
from optgen.dsl import Spec, hyper, state, w, g
from optgen.spec import SpecError, t as T

from _sidebyside import SHAPES, Optax, Torch, assert_close, seed_of, trajectory

DTYPES = pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["f32", "f64"])
STEPS = range(1, 301)


@pytest.fixture(autouse=True, scope="module")
def one_thread(one_thread_module):
    """Tiny tensors: one Numba thread for the whole module (see conftest)."""


@pytest.fixture(autouse=True)
def torch_dtype(request):
    before = torch.get_default_dtype()
    dtype = request.node.callspec.params.get("dtype") if hasattr(request.node, "callspec") else None
    torch.set_default_dtype(torch.float64 if dtype == np.float64 else torch.float32)
    yield
    torch.set_default_dtype(before)


# --- values against optax ---------------------------------------------------------------------

OPTAX = {
    "constant": (S.Constant(0.3), optax.constant_schedule(0.3)),
    "exponential": (S.Exponential(0.5, 40), optax.exponential_decay(0.5, 40, math.exp(-1))),
    "piecewise": (S.PiecewiseConstant.from_scales(0.1, {30: 0.5, 90: 0.2, 200: 0.1}),
                  optax.piecewise_constant_schedule(0.1, {30: 0.5, 90: 0.2, 200: 0.1})),
    "linear_warmup": (S.LinearWarmup(1.0, 50, init=0.1), optax.linear_schedule(0.1, 1.0, 50)),
    "polynomial": (S.PolynomialDecay(2.0, 250, power=2, end=0.01), optax.polynomial_schedule(2.0, 0.01, 2, 250)),
    "warmup_cosine": (S.WarmupCosine(1.0, 30, 250, init=0.05, end=0.01, exponent=1.5),
                      optax.warmup_cosine_decay_schedule(0.05, 1.0, 30, 250, 0.01, 1.5)),
    "cosine_no_warmup": (S.WarmupCosine(1.0, 0, 200, end=0.1), optax.cosine_decay_schedule(1.0, 200, alpha=0.1)),
}


@pytest.mark.parametrize("name", OPTAX)
def test_schedule_values_match_optax(name):
    ours, theirs = OPTAX[name]
    got = np.array(ours.values(STEPS))
    want = np.array([float(theirs(jnp.float64(t - 1))) for t in STEPS])
    np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-15)
    assert ours.expr.free_symbols <= {T}


# --- values against torch.optim.lr_scheduler (one scheduler step per epoch) -------------------------------

def torch_lrs(make_sched, base_lr, epochs):
    opt = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=base_lr)
    sched = make_sched(opt)
    out = []
    for _ in range(epochs):
        out.append(opt.param_groups[0]["lr"])
        opt.step()
        sched.step()
    return out


LR = torch.optim.lr_scheduler
TORCH = {
    "exponential": (S.Exponential.from_gamma(0.1, 0.95, steps_per_epoch=3), lambda o: LR.ExponentialLR(o, 0.95), 0.1),
    "multistep": (S.PiecewiseConstant.from_scales(0.1, {10: 0.3, 25: 0.3, 60: 0.3}, steps_per_epoch=3),
                  lambda o: LR.MultiStepLR(o, [10, 25, 60], gamma=0.3), 0.1),
    "linear": (S.LinearWarmup(0.2, 20, init=0.05, steps_per_epoch=3),
               lambda o: LR.LinearLR(o, start_factor=0.25, end_factor=1.0, total_iters=20), 0.2),
    "polynomial": (S.PolynomialDecay(0.3, 70, power=2.0, steps_per_epoch=3),
                   lambda o: LR.PolynomialLR(o, total_iters=70, power=2.0), 0.3),
    "cosine": (S.WarmupCosine(0.3, 0, 90, end=0.01, steps_per_epoch=3),
               lambda o: LR.CosineAnnealingLR(o, T_max=90, eta_min=0.01), 0.3),
}


@pytest.mark.parametrize("name", TORCH)
def test_schedule_values_match_torch_per_epoch(name):
    ours, make, base = TORCH[name]
    epochs = 90
    per_epoch = torch_lrs(make, base, epochs)
    want = [per_epoch[(t - 1) // 3] for t in range(1, 3 * epochs + 1)]
    np.testing.assert_allclose(ours.values(range(1, 3 * epochs + 1)), want, rtol=1e-10, atol=1e-15)


def test_reciprocal_by_hand():
    """The lecture notes on optimizers: eta(n) = eta_0 (1 + n/r)^(-c): eta_0 at n = 0, eta_0 2^-c at n = r, eta_0 4^-c at n = 3r."""
    s = S.Reciprocal(0.4, r=25, c=1.5)
    assert s.value(1) == 0.4
    np.testing.assert_allclose([s.value(26), s.value(76)], [0.4 * 2 ** -1.5, 0.4 * 4 ** -1.5], rtol=1e-14)
    assert s.expr.free_symbols == {T} and abs(float(s.expr.subs(T, 51)) - 0.4 * 3 ** -1.5) < 1e-15


def test_schedule_objects_are_expressions_in_t_and_pickle():
    sched = S.WarmupCosine(1e-3, 10, 100) * S.Exponential(1.0, 1000)
    assert sched.expr.free_symbols == {T}
    np.testing.assert_allclose(sched.values(range(1, 120)),
                               [a * b for a, b in zip(S.WarmupCosine(1e-3, 10, 100).values(range(1, 120)),
                                                      S.Exponential(1.0, 1000).values(range(1, 120)))], rtol=1e-15)
    assert "\\cos" in sched.latex()
    again = pickle.loads(pickle.dumps(sched))
    assert again.values(range(1, 120)) == sched.values(range(1, 120))
    with pytest.raises(ValueError, match="depend on t only"):
        S.Expression(sympy.Symbol("x") * T)


def test_a_schedule_leaving_the_domain_is_refused_when_given():
    """1/100 - t/10000 is 0 at t = 100 (allowed for a schedule) and negative from t = 101."""
    params = [np.ones(3)]
    with pytest.raises(SpecError, match=r"lr=.*t=101\) is outside its domain positive \(or 0, for a scheduled"):
        optgen.create("adam", params, lr=S.Expression(sympy.Rational(1, 100) - T / 10000))
    np.testing.assert_array_equal(params[0], np.ones(3))


# --- schedules drive optimizers ------------------------------------------------------------------------

def run(spec, hypers, dtype, external, label, **kw):
    seed = seed_of(f"{label}-{np.dtype(dtype).name}")
    return trajectory(spec, hypers, dtype, external, seed=seed, label=label, **kw)


@DTYPES
def test_adam_with_exponential_lr_matches_torch_exponential_lr(dtype):
    run("adam", dict(lr=S.Exponential.from_gamma(1e-2, 0.99)), dtype,
        lambda p: Torch(lambda ps: torch.optim.Adam(ps, lr=1e-2, foreach=False), p,
                        scheduler=lambda o: LR.ExponentialLR(o, 0.99)), "adam+ExponentialLR")


@DTYPES
def test_lamb_with_scheduled_lr_and_weight_decay_matches_optax(dtype):
    """Any hyperparameter takes a schedule: LAMB's weight decay ramps up while lr decays.
    optax evaluates both in float32 (int32 count): float64 is held to 1e-7."""
    hypers = dict(lr=S.PolynomialDecay(2e-2, 250, power=1.0), weight_decay=S.LinearWarmup(0.2, 100, init=0.0))
    tx = optax.lamb(optax.polynomial_schedule(2e-2, 0.0, 1.0, 250), weight_decay=optax.linear_schedule(0.0, 0.2, 100))
    run("lamb", hypers, dtype, lambda p: Optax(tx, p), "lamb+schedules", rel=1e-7 if dtype == np.float64 else None)


@DTYPES
def test_adabound_bounds_follow_a_scheduled_lr_as_pytorch_optimizer(dtype):
    """pytorch-optimizer's AdaBound scales final_lr by lr / initial lr; here final_lr is its own
    hyperparameter, so it gets the same decay. Its denominator is sqrt(v + 1e-15) + eps (ours
    sqrt(v) + eps): gradients of order 1 keep that below the float64 tolerance."""
    decay = 0.98
    hypers = dict(lr=S.Exponential.from_gamma(1e-2, decay), final_lr=S.Exponential.from_gamma(0.1, decay),
                  gamma=1e-2)
    run("adabound", hypers, dtype,
        lambda p: Torch(lambda ps: pytorch_optimizer.AdaBound(ps, lr=1e-2, final_lr=0.1, gamma=1e-2, foreach=False), p,
                        scheduler=lambda o: LR.ExponentialLR(o, decay)),
        "adabound+ExponentialLR", scales=[1.0, 2.0, 3.0])


# --- the performance-dependent schedule -----------------------------------------------------------------

def metrics(seed, n=80):
    """A validation curve: improves, then plateaus with noise, improves again, plateaus."""
    rng = np.random.default_rng(seed)
    a, b, c = n // 4, n // 4 + (3 * n) // 10, n // 4 + (3 * n) // 10 + (3 * n) // 20
    base = np.concatenate([np.linspace(1.0, 0.5, a), np.full(b - a, 0.5), np.linspace(0.5, 0.3, c - b),
                           np.full(n - c, 0.3)])
    return base + 1e-3 * rng.standard_normal(n)


PLATEAU = [dict(mode="min", factor=0.5, patience=3),
           dict(mode="max", factor=0.5, patience=2, threshold=1e-3, threshold_mode="abs"),
           dict(mode="min", factor=0.3, patience=1, cooldown=2, min_lr=0.004),
           dict(mode="min", factor=0.5, patience=0, threshold=0.0)]


@pytest.mark.parametrize("kw", PLATEAU, ids=["min_rel", "max_abs", "cooldown_min_lr", "patience0"])
def test_reduce_on_plateau_matches_torch(kw):
    sign = -1.0 if kw["mode"] == "max" else 1.0
    ms = sign * metrics(seed_of(str(kw)))
    ours = S.ReduceOnPlateau(0.1, **kw)
    opt = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=0.1)
    theirs = LR.ReduceLROnPlateau(opt, **kw)
    reductions = 0
    for m in ms:
        reductions += ours.observe(m)
        theirs.step(m)
        assert ours.value(1) == opt.param_groups[0]["lr"]
    assert reductions >= 2 and ours.reductions == reductions


@DTYPES
def test_adam_with_plateau_lr_matches_torch_and_round_trips_state_dict(dtype):
    """Metrics reported every 10 steps; a checkpoint at step 100 is pickled, restored into a new
    optimizer with a fresh schedule object, and the run continues identically."""
    rng = np.random.default_rng(11)
    params = [rng.standard_normal(s).astype(dtype) for s in SHAPES]
    ms = metrics(3, 20)
    sched = S.ReduceOnPlateau(1e-2, factor=0.5, patience=1)
    opt = optgen.create("adam", params, lr=sched)
    ref = Torch(lambda ps: torch.optim.Adam(ps, lr=1e-2, foreach=False), params)
    tsched = LR.ReduceLROnPlateau(ref.opt, factor=0.5, patience=1)
    grads = [[rng.standard_normal(s).astype(dtype) for s in SHAPES] for _ in range(200)]
    checkpoint = None
    for step, gs in enumerate(grads, 1):
        opt.step(gs)
        ref.step(gs)
        if step % 10 == 0:
            S.report(opt, ms[step // 10 - 1])
            tsched.step(ms[step // 10 - 1])
        if step == 100:
            checkpoint = pickle.dumps((opt.state_dict(), [p.copy() for p in params]))
        for i, (a, b) in enumerate(zip(params, ref.params())):
            assert_close(a, b, dtype, f"plateau step {step} tensor {i}")
    assert sched.reductions >= 2 and sched.current == ref.opt.param_groups[0]["lr"]
    final = [p.copy() for p in params]

    sd, saved = pickle.loads(checkpoint)
    fresh = S.ReduceOnPlateau(1e-2, factor=0.5, patience=1)
    resumed = optgen.create("adam", saved, lr=fresh)
    resumed.load_state_dict(sd)
    assert resumed.t == 100 and fresh.current == sd["hypers"]["lr"].current  # restored in place
    for step, gs in enumerate(grads[100:], 101):
        resumed.step(gs)
        if step % 10 == 0:
            fresh.observe(ms[step // 10 - 1])  # the user's own object drives the restored optimizer
    for a, b in zip(saved, final):
        np.testing.assert_array_equal(a, b)
    assert fresh.state_dict() == sched.state_dict()


# --- the note on exponential learning rates: an exponentially growing lr is weight decay in disguise ---

lr_, wd_, mu_ = hyper("lr", 0.1, domain="positive"), hyper("weight_decay", 0.0, domain="nonnegative"), \
    hyper("momentum", 0.9, domain="[0, 1)")
vel = state("v", 0)
HEAVY_BALL_WD = Spec("hb_wd", [(vel, mu_ * vel + g + wd_ * w), (w, w - lr_ * vel)])
HEAVY_BALL = Spec("hb", [(vel, mu_ * vel + g), (w, w - lr_ * vel)])


def scale_invariant_grads(params, mats):
    """grad of L(w) = sum_i f_i(w_i / |w_i|), f_i(x) = x.A_i x / 2: (I - x x^T) A_i x / |w_i|."""
    out = []
    for p, a in zip(params, mats):
        x = p.ravel().astype(np.float64)
        n = np.linalg.norm(x)
        x = x / n
        ax = a @ x
        out.append(((ax - x * (x @ ax)) / n).reshape(p.shape).astype(p.dtype))
    return out


@DTYPES
@pytest.mark.parametrize("lr,wd,momentum", [(0.05, 0.1, 0.0), (0.1, 5e-4, 0.9)])
def test_exponential_growth_is_equivalent_to_weight_decay(lr, wd, momentum, dtype):
    """Li & Arora (the note on exponential learning rates): on a scale-invariant loss, SGD(+momentum) with weight decay and a
    constant lr, and SGD(+momentum) without weight decay and lr_n = lr alpha^(-2n-1), give the
    same function: w_wd(n) = alpha^n w_exp(n), hence the same directions. Both sides are optgen
    kernels; the gradients come from each side's own weights."""
    rng = np.random.default_rng(seed_of(f"explr-{momentum}-{np.dtype(dtype).name}"))
    sym = [(lambda a: a + a.T)(rng.standard_normal((int(np.prod(s)),) * 2)) for s in SHAPES]
    mats = [a / np.linalg.norm(a, 2) for a in sym]  # spectral norm 1: a stable (non-chaotic) descent
    start = [rng.standard_normal(s).astype(dtype) for s in SHAPES]
    a_params, b_params = [p.copy() for p in start], [p.copy() for p in start]
    sched = S.ExponentialGrowth.equivalent_to_weight_decay(lr, wd, momentum)
    alpha = S.ExponentialGrowth.alpha(lr, wd, momentum)
    a = optgen.create(HEAVY_BALL_WD, a_params, lr=lr, weight_decay=wd, momentum=momentum)
    b = optgen.create(HEAVY_BALL, b_params, lr=sched, momentum=momentum)
    sd = b.state_dict()
    for st, p in zip(sd["states"], start):
        st["v"] = S.ExponentialGrowth.initial_velocity(p.astype(np.float64), lr, wd, momentum).astype(dtype)
    b.load_state_dict(sd)
    n_steps = 300
    for _ in range(n_steps):
        a.step(scale_invariant_grads(a_params, mats))
        b.step(scale_invariant_grads(b_params, mats))
    assert sched.value(n_steps) > 1.1 * lr  # the lr grew
    rel = 2e-5 if dtype == np.float32 else 1e-10
    for x, y in zip(a_params, b_params):
        np.testing.assert_allclose(x, alpha ** n_steps * y, rtol=rel, atol=rel * np.max(np.abs(x)))
        np.testing.assert_allclose(x / np.linalg.norm(x), y / np.linalg.norm(y), atol=rel)
