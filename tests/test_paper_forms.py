"""Optimizers that torch.optim does not ship, against hand-written numpy versions
of their sources.

* adabound: the algorithm of Luo et al. (2019) as the authors released it
  (bias-corrected Adam step size divided by sqrt(v) + eps, clipped elementwise to
  final_lr (1 -+ 1 / (gamma t (+1)))), written here from the paper's Algorithm 2
  with the released step size and bounds; the cases are chosen so that both the
  lower and the upper bound clip some elements (asserted).
* objax_adam: objax.optimizer.Adam's update (objax/optimizer/adam.py), with eps
  large enough, relative to v, that its place (inside the square root, on the
  uncorrected v) matters.
* rmsprop_warmstart: the blog post's RMSProp, sigma_0 = |g_0|, theta <- theta - eta g / sigma.
* nesterov: the blog post's *original* Nesterov momentum, with the gradient
  evaluated at the shifted point theta + alpha v, on a deterministic loss;
  the reparametrised spec must track u_t = theta_t + alpha v_t (the derivation
  in the blog post 'Some Deep Learning Optimizers').

Each is compared with both the compiled kernel (``optgen.create``) and the
reference oracle (``optgen.reference``), float32 and float64 (the numpy versions
run in float64). Tolerances, relative to each tensor's largest element: 1e-11
for float64 (different order of the same roundings) and 2e-5 for float32 (the
kernel keeps its states in float32: ~1 rounding of 6e-8 per step, 100 steps).
"""
from __future__ import annotations

import zlib

import numba
import numpy as np
import pytest

import optgen

STEPS = 100
SHAPES = [(5, 4), (7,), (1,)]
REL = {np.dtype(np.float32): 2e-5, np.dtype(np.float64): 1e-11}
DTYPES = pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["f32", "f64"])
MAKERS = pytest.mark.parametrize("maker", ["create", "reference"])


@pytest.fixture(autouse=True)
def one_thread():
    before = numba.get_num_threads()
    numba.set_num_threads(1)
    yield
    numba.set_num_threads(before)


def make(maker, name, params, **hypers):
    return (optgen.create if maker == "create" else optgen.reference)(name, params, **hypers)


def assert_close(ours, theirs, dtype, where, scale=0.0):
    """Relative to the tensor's largest element (or ``scale``, if larger)."""
    rel = REL[np.dtype(dtype)]
    scale = max(scale, float(np.max(np.abs(theirs))) if theirs.size else 0.0)
    np.testing.assert_allclose(ours, theirs, rtol=rel, atol=rel * scale, err_msg=where)


def random_run(name, maker, dtype, hypers, numpy_step, grad_scale=1.0, source_text=""):
    """Drive optgen and a numpy implementation with the same random gradients."""
    rng = np.random.default_rng(zlib.crc32(f"{name}{maker}{dtype}{hypers}{source_text}".encode()))
    params = [rng.standard_normal(s).astype(dtype) for s in SHAPES]
    theirs = [p.astype(np.float64) for p in params]
    state = [dict() for _ in SHAPES]
    opt = make(maker, name, params, **hypers)
    for t in range(1, STEPS + 1):
        grads = [(grad_scale * rng.standard_normal(s)).astype(dtype) for s in SHAPES]
        opt.step(grads)
        for i, gr in enumerate(grads):
            theirs[i] = numpy_step(theirs[i], gr.astype(np.float64), state[i], t)
            assert_close(params[i], theirs[i], dtype, f"{name} {hypers} step {t} tensor {i}")
    return state


# --- AdaBound (Luo et al. 2019, the authors' released algorithm) -----------------

def adabound_numpy(lr=1e-3, beta1=0.9, beta2=0.999, final_lr=0.1, gamma=1e-3, eps=1e-8,
                   weight_decay=0.0, amsbound=False, maximize=False):
    def step(w, g, s, t):
        if maximize:
            g = -g
        if weight_decay:
            g = g + weight_decay * w
        if not s:
            s.update(m=np.zeros_like(w), v=np.zeros_like(w), vmax=np.zeros_like(w), low=0, high=0)
        s["m"] = beta1 * s["m"] + (1 - beta1) * g
        s["v"] = beta2 * s["v"] + (1 - beta2) * g * g
        s["vmax"] = np.maximum(s["vmax"], s["v"])
        denom = np.sqrt(s["vmax"] if amsbound else s["v"]) + eps
        step_size = lr * np.sqrt(1 - beta2**t) / (1 - beta1**t) / denom
        lower = final_lr * (1 - 1 / (gamma * t + 1))
        upper = final_lr * (1 + 1 / (gamma * t))
        s["low"] += int(np.sum(step_size < lower))
        s["high"] += int(np.sum(step_size > upper))
        return w - np.clip(step_size, lower, upper) * s["m"]
    return step


ADABOUND_CASES = [
    # (hypers, gradient scale): large gradients -> the lower bound clips as it rises;
    # tiny gradients and a fast gamma -> Adam's step exceeds the upper bound.
    (dict(), 1.0),
    (dict(amsbound=True, weight_decay=0.1), 1.0),
    (dict(gamma=0.1, maximize=True), 1e-4),
    (dict(gamma=0.1, amsbound=True), 1e-4),
]


@DTYPES
@MAKERS
@pytest.mark.parametrize("case", ADABOUND_CASES, ids=lambda c: f"{c[0]}-g{c[1]}")
def test_adabound_matches_the_papers_algorithm(case, maker, dtype):
    hypers, scale = case
    state = random_run("adabound", maker, dtype, hypers, adabound_numpy(**hypers), grad_scale=scale)
    clipped = "low" if scale == 1.0 else "high"
    assert sum(s[clipped] for s in state) > 0, f"the {clipped} bound never clipped: a weak test"


# --- objax's Adam ----------------------------------------------------------------

def objax_adam_numpy(lr=1e-3, beta1=0.9, beta2=0.999, eps=1e-8):
    """objax.optimizer.Adam.__call__, transcribed to numpy."""
    def step(w, g, s, t):
        if not s:
            s.update(m=np.zeros_like(w), v=np.zeros_like(w))
        lr_t = lr * np.sqrt(1 - beta2**t) / (1 - beta1**t)
        s["m"] += (1 - beta1) * (g - s["m"])
        s["v"] += (1 - beta2) * (g**2 - s["v"])
        return w - lr_t * s["m"] / np.sqrt(s["v"] + eps)
    return step


@DTYPES
@MAKERS
@pytest.mark.parametrize("hypers", [dict(lr=1e-2), dict(lr=1e-2, eps=1e-5, beta1=0.8, beta2=0.99)], ids=str)
def test_objax_adam_matches_objax(hypers, maker, dtype):
    # gradients of scale 1e-2: v ~ 1e-5 early on, so eps = 1e-5 inside the root matters
    random_run("objax_adam", maker, dtype, hypers, objax_adam_numpy(**hypers), grad_scale=1e-2)


def test_objax_adam_eps_is_inside_the_square_root():
    """One step from zero states: w - lr sqrt(1-b2)/(1-b1) (1-b1) g / sqrt((1-b2) g^2 + eps)."""
    g, lr, eps = 0.1, 0.5, 1e-3
    w = [np.zeros(1)]
    optgen.create("objax_adam", w, lr=lr, eps=eps).step([np.full(1, g)])
    b1, b2 = 0.9, 0.999
    expected = -lr * np.sqrt(1 - b2) / (1 - b1) * (1 - b1) * g / np.sqrt((1 - b2) * g * g + eps)
    np.testing.assert_allclose(w[0], [expected], rtol=1e-14)
    outside = -lr * np.sqrt(1 - b2) / (1 - b1) * (1 - b1) * g / (np.sqrt((1 - b2) * g * g) + eps)
    assert abs(w[0][0] - outside) > 1e-3 * abs(outside)


# --- RMSProp as in the blog post --------------------------------------------------

def rmsprop_warmstart_numpy(lr=1e-2, alpha=0.99, eps=0.0):
    def step(w, g, s, t):
        if "sigma" not in s:
            s["sigma"] = np.abs(g)                                         # sigma_0 = |g_0|
        else:
            s["sigma"] = np.sqrt(alpha * s["sigma"] ** 2 + (1 - alpha) * g**2)
        return w - lr / (s["sigma"] + eps) * g
    return step


@DTYPES
@MAKERS
@pytest.mark.parametrize("hypers", [dict(), dict(lr=0.05, alpha=0.9, eps=0.1)], ids=str)
def test_rmsprop_warmstart_matches_the_blog(hypers, maker, dtype):
    random_run("rmsprop_warmstart", maker, dtype, hypers, rmsprop_warmstart_numpy(**hypers))


def test_rmsprop_warmstart_first_step_is_a_sign_step():
    """sigma_0 = |g_0|: the first step is -lr sign(g) whatever the gradient's size."""
    w = [np.zeros(4)]
    optgen.create("rmsprop_warmstart", w, lr=0.5).step([np.array([3.0, -1e-3, 2e4, -7.0])])
    np.testing.assert_allclose(w[0], [-0.5, 0.5, -0.5, 0.5], rtol=1e-14)



def test_the_old_name_rmsprop_seed_still_works_with_a_deprecation_warning():
    """Renamed after what it is; the old name keeps its trajectory for one release (same hand-derived sign step)."""
    w = [np.zeros(2)]
    with pytest.warns(DeprecationWarning, match="now called 'rmsprop_warmstart'"):
        opt = optgen.create("rmsprop_seed", w, lr=0.5)
    assert opt.spec.name == "rmsprop_warmstart"
    opt.step([np.array([3.0, -1e-3])])
    np.testing.assert_allclose(w[0], [-0.5, 0.5], rtol=1e-14)


def test_the_old_torch_class_rmsprop_seed_still_works_with_a_deprecation_warning():
    import optgen.torch
    with pytest.warns(DeprecationWarning, match="RMSpropWarmstart"):
        cls = optgen.torch.RMSpropSeed
    assert cls is optgen.torch.RMSpropWarmstart

# --- Nesterov, reparametrised (the blog post 'Some Deep Learning Optimizers') ---------------------------------------------

def loss_grad(x, a):
    """Gradient of F(x) = sum(a x^2 / 2 + cos x): deterministic, non-quadratic."""
    return a * x - np.sin(x)


@DTYPES
@MAKERS
@pytest.mark.parametrize("hypers", [dict(lr=0.05, momentum=0.9), dict(lr=0.2, momentum=0.5)], ids=str)
def test_nesterov_reparametrisation_tracks_the_original(hypers, maker, dtype):
    """Original: v <- alpha v - eta grad F(theta + alpha v); theta <- theta + v.
    The spec, fed grad F at its own parameter, must equal u = theta + alpha v."""
    lr, alpha = hypers["lr"], hypers["momentum"]
    rng = np.random.default_rng(zlib.crc32(f"nesterov{hypers}{maker}{dtype}".encode()))
    a = [rng.uniform(0.5, 3.0, s) for s in SHAPES]
    params = [rng.standard_normal(s).astype(dtype) for s in SHAPES]
    theta = [p.astype(np.float64) for p in params]          # u_0 = theta_0 (v_0 = 0)
    start = [p.copy() for p in params]
    v = [np.zeros(s) for s in SHAPES]
    opt = make(maker, "nesterov", params, **hypers)
    for t in range(1, STEPS + 1):
        opt.step([loss_grad(p.astype(np.float64), ai).astype(dtype) for p, ai in zip(params, a)])
        for i in range(len(SHAPES)):
            v[i] = alpha * v[i] - lr * loss_grad(theta[i] + alpha * v[i], a[i])
            theta[i] = theta[i] + v[i]
            # the iterates contract towards the minimum: judge them on the scale they started at
            assert_close(params[i], theta[i] + alpha * v[i], dtype, f"nesterov {hypers} step {t} tensor {i}",
                         scale=float(np.max(np.abs(start[i]))))
    # the comparison is not of unmoved tensors
    assert max(np.max(np.abs(p - p0)) for p, p0 in zip(params, start)) > 0.1
