"""Per-tensor reductions: LARS (objax and optax forms, the blog post's EMA form) and LAMB.

Independent sources: optax.lars and optax.lamb; objax's LARS (the objax optimizer docs) and the
blog post's LARS transcribed by hand into numpy below; the reference oracle (the
spec's equations with ``tensor_sum`` as ``numpy.sum`` per tensor). 200 steps,
float32 and float64, tolerances in ``_sidebyside``. One tensor starts at zero
and one gradient is zero at a few steps, so the trust ratio's fallback to 1
(||w|| = 0 or ||g|| = 0) is exercised.

Known differences, by construction of the cases:
* objax's ratio is tc ||w|| / (||g|| + wd ||w|| + eps) (the LARS paper's), optax's
  tc ||w|| / (||g + wd w|| + eps): equal when wd = 0, so optax.lars is compared
  with the default form only at wd = 0, and with ``norm_of_decayed_grad=True``
  at wd > 0.
* optax keeps the negated velocity (``trace`` of -lr ratio d); the parameters agree.
"""
from __future__ import annotations

import numpy as np
import pytest

import optax

import optgen
from optgen.compiler import compile_spec
from optgen.schedules import PolynomialDecay

from _sidebyside import Numpy, Optax, seed_of, trajectory

DTYPES = pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["f32", "f64"])
SHAPES = [(3, 4), (7,), (2, 3, 5), (4,)]
SCALES = [1.0, 1e-2, 3.0, 0.5]


@pytest.fixture(autouse=True, scope="module")
def one_thread(one_thread_module):
    """Tiny tensors: one Numba thread for the whole module (see conftest)."""


def start_params(dtype, seed):
    rng = np.random.default_rng(seed)
    params = [rng.standard_normal(s).astype(dtype) for s in SHAPES]
    params[3][:] = 0  # ||w|| = 0 at the first step: the trust ratio falls back to 1
    return params


def zero_grad_sometimes(step, grads):
    if step in (5, 50, 51):
        grads[1][:] = 0  # ||g|| = 0: the trust ratio falls back to 1


def run(name, hypers, dtype, external, label="", rel=None):
    seed = seed_of(f"{name}-{sorted(hypers.items())}-{np.dtype(dtype).name}-{label}")
    return trajectory(name, hypers, dtype, external, shapes=SHAPES, scales=SCALES, seed=seed,
                      params=start_params(dtype, seed), edit_grads=zero_grad_sometimes, label=label or name,
                      rel=rel)


# --- hand transcriptions of the source formulas ---------------------------------------

def objax_lars(lr, momentum, weight_decay, tc, eps):
    """objax.optimizer.LARS.__call__ (the objax optimizer docs), per tensor, in the parameter's dtype:
    p_norm, g_norm; trust = tc p_norm / (g_norm + wd p_norm + eps); local_lr = lr *
    (1 if p_norm == 0 or g_norm == 0 else trust); m = momentum m + local_lr (g + wd p);
    p -= m. ``lr`` may be a function of the step count (objax takes it per call)."""
    def step(params, grads, state, t):
        state = state or [np.zeros_like(p) for p in params]
        rate = lr(t) if callable(lr) else lr
        for p, g, m in zip(params, grads, state):
            dt = p.dtype.type
            p_norm, g_norm = np.linalg.norm(p), np.linalg.norm(g)
            zero = p_norm == 0 or g_norm == 0
            trust = dt(1) if zero else dt(tc) * p_norm / (g_norm + dt(weight_decay) * p_norm + dt(eps))
            local_lr = dt(rate) * trust
            m[...] = dt(momentum) * m + local_lr * (g + dt(weight_decay) * p)
            p -= m
        return state
    return step


def blog_lars(lr, beta1, delta, tc, eps):
    """The blog post's LARS: m = beta1 m + (1 - beta1)(g + delta w); lambda = tc ||w|| /
    (||g|| + delta ||w|| + eps) (1 if a norm is 0); w = w - lr lambda m."""
    def step(params, grads, state, t):
        state = state or [np.zeros_like(p) for p in params]
        for p, g, m in zip(params, grads, state):
            dt = p.dtype.type
            m[...] = dt(beta1) * m + dt(1 - beta1) * (g + dt(delta) * p)
            wn, gn = np.linalg.norm(p), np.linalg.norm(g)
            lam = dt(1) if (wn == 0 or gn == 0) else dt(tc) * wn / (gn + dt(delta) * wn + dt(eps))
            p -= dt(lr) * lam * m
        return state
    return step


# --- LARS ---------------------------------------------------------------------------------

LARS_OBJAX = [dict(lr=0.5, momentum=0.9, weight_decay=1e-2, trust_coefficient=1e-2, eps=1e-5),
              dict(lr=2.0, momentum=0.5, weight_decay=0.0, trust_coefficient=1e-3, eps=0.0)]


@DTYPES
@pytest.mark.parametrize("hypers", LARS_OBJAX, ids=["wd", "no_wd"])
def test_lars_matches_objax_formula(hypers, dtype):
    h = hypers
    run("lars", h, dtype, lambda p: Numpy(objax_lars(h["lr"], h["momentum"], h["weight_decay"],
                                                      h["trust_coefficient"], h["eps"]), p))


@DTYPES
def test_lars_with_polynomial_decay_matches_objax_formula(dtype):
    """the objax optimizer docs' schedule gamma_t = gamma_0 (1 - t/T)^2 as a schedule on lr (n = t - 1 steps done)."""
    T = 250
    h = dict(momentum=0.9, weight_decay=1e-3, trust_coefficient=1e-2, eps=1e-5)
    run("lars", {**h, "lr": PolynomialDecay(1.0, T, power=2)}, dtype,
        lambda p: Numpy(objax_lars(lambda t: 1.0 * (1 - (t - 1) / T) ** 2, h["momentum"], h["weight_decay"],
                                   h["trust_coefficient"], h["eps"]), p), label="lars+poly")


@DTYPES
def test_lars_matches_optax_without_weight_decay(dtype):
    h = dict(lr=0.5, momentum=0.9, weight_decay=0.0, trust_coefficient=1e-2, eps=1e-6)
    run("lars", h, dtype, lambda p: Optax(optax.lars(0.5, weight_decay=0.0, trust_coefficient=1e-2,
                                                     eps=1e-6, momentum=0.9), p))


@DTYPES
@pytest.mark.parametrize("weight_decay", [0.0, 0.05])
def test_lars_optax_form_matches_optax(weight_decay, dtype):
    h = dict(lr=0.5, momentum=0.8, weight_decay=weight_decay, trust_coefficient=1e-2, eps=1e-5,
             norm_of_decayed_grad=True)
    run("lars", h, dtype, lambda p: Optax(optax.lars(0.5, weight_decay=weight_decay, trust_coefficient=1e-2,
                                                     eps=1e-5, momentum=0.8), p))


@DTYPES
def test_lars_optax_schedule_and_ours_agree(dtype):
    """The same polynomial decay given to optax as an optax schedule (count = t - 1).

    optax evaluates its schedules in float32 even with jax_enable_x64 (its count is
    int32), so in float64 the learning rates differ by ~3e-8 relative and the
    trajectories by ~1e-8: the float64 case is held to 1e-7."""
    sched = optax.polynomial_schedule(init_value=1.0, end_value=0.0, power=2, transition_steps=250)
    h = dict(momentum=0.9, weight_decay=0.0, trust_coefficient=1e-2, eps=1e-5)
    run("lars", {**h, "lr": PolynomialDecay(1.0, 250, power=2)}, dtype,
        lambda p: Optax(optax.lars(sched, weight_decay=0.0, trust_coefficient=1e-2, eps=1e-5, momentum=0.9), p),
        label="lars+optax_poly", rel=1e-7 if dtype == np.float64 else None)


@DTYPES
def test_lars_ema_matches_the_blog(dtype):
    h = dict(lr=1.0, beta1=0.9, weight_decay=1e-2, trust_coefficient=2e-2, eps=1e-5)
    run("lars_ema", h, dtype, lambda p: Numpy(blog_lars(1.0, 0.9, 1e-2, 2e-2, 1e-5), p))


# --- LAMB -----------------------------------------------------------------------------------

@DTYPES
@pytest.mark.parametrize("weight_decay", [0.0, 0.1])
def test_lamb_matches_optax(weight_decay, dtype):
    h = dict(lr=1e-2, beta1=0.9, beta2=0.999, eps=1e-6, weight_decay=weight_decay)
    run("lamb", h, dtype, lambda p: Optax(optax.lamb(1e-2, b1=0.9, b2=0.999, eps=1e-6,
                                                     weight_decay=weight_decay), p))


@DTYPES
def test_lamb_from_transforms_matches_optax(dtype):
    """LAMB = trust_ratio(decoupled_weight_decay(adam)): the transforms alone give optax.lamb."""
    from optgen.transforms import decoupled_weight_decay, trust_ratio
    spec = trust_ratio(decoupled_weight_decay(optgen.load_spec("adam")), name="lamb_by_transforms")
    h = dict(lr=1e-2, eps=1e-6, weight_decay=0.1)
    run(spec, h, dtype, lambda p: Optax(optax.lamb(1e-2, eps=1e-6, weight_decay=0.1), p), label="lamb_by_transforms")


# --- the compiler's view: passes over memory -------------------------------------------------

def passes(name, **options):
    build = compile_spec(optgen.load_spec(name), options)
    return [(sorted(p.loads), sorted(p.stores), len(p.reductions)) for p in next(iter(build.variants.values())).passes]


def test_lamb_is_two_passes_moving_40_bytes_per_float32():
    """Pass 0 updates m, v and sums w^2, u^2; the ratio is per tensor; pass 1 writes w."""
    ps = passes("lamb")
    assert ps == [(["g", "m", "v", "w"], ["m", "v"], 2), (["m", "v", "w"], ["w"], 0)]
    assert sum(len(loads) + len(stores) for loads, stores, _ in ps) * 4 == 40


def test_lars_is_two_passes_and_ema_one_that_never_writes_w():
    assert passes("lars") == [(["g", "w"], [], 2), (["g", "v", "w"], ["v", "w"], 0)]
    assert passes("lars_ema") == [(["g", "m", "w"], ["m"], 2), (["m", "w"], ["w"], 0)]
    assert passes("ema") == [(["m", "w"], ["m"], 0)]


def test_show_reports_passes_and_bytes(capsys):
    from optgen.cli import main
    assert main(["show", "lamb", "--stage", "passes"]) == 0
    out = capsys.readouterr().out
    assert "pass 0: loads w, m, v, g; stores m, v; 24 B/element float32" in out
    assert "pass 1: loads w, m, v; stores w; 16 B/element float32" in out
