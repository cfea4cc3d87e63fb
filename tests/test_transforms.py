"""Step-dependent control and spec transforms: RAdam, RAdamW, lookahead, decoupled
weight decay, Ranger, RangerLARS, Paratrooper; the EMA of parameters.

Independent sources: torch.optim.RAdam and torch.optim.AdamW; optax.lookahead;
pytorch-optimizer's Ranger; hand transcriptions (numpy, below) of the blog post's
RangerLARS / Paratrooper and of objax's ExponentialMovingAverage (the objax optimizer docs); the
reference oracle. 200 steps, float32 and float64 (tolerances in ``_sidebyside``).

Deviations from the references, made explicit in the cases:
* pytorch-optimizer's Ranger centralises the gradients of tensors with more than
  one dimension by default (``use_gc=True``): compared with ``use_gc=False``.
  Its default ``degenerated_to_sgd=False`` turns the steps before rectification
  (rho_t < 5) into steps *up* the gradient (step size -lr, then ``p -= step * m``);
  our RAdam takes torch's un-rectified step there, which is its
  ``degenerated_to_sgd=True``.
* torch.optim.RAdam rectifies when rho_t > 5, pytorch-optimizer when rho_t >= 5;
  rho_t is never exactly 5 at these betas.
"""
from __future__ import annotations

import numpy as np
import pytest
import torch

import optax
import pytorch_optimizer

import optgen
from optgen.compiler import compile_spec
from optgen.spec import SpecError
from optgen.transforms import decoupled_weight_decay, lookahead, trust_ratio, with_defaults

from _sidebyside import SHAPES, Numpy, Optax, Torch, assert_close, seed_of, trajectory

DTYPES = pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["f32", "f64"])


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


def run(spec, hypers, dtype, external, label="", **kw):
    name = spec if isinstance(spec, str) else spec.name
    seed = seed_of(f"{label or name}-{sorted(map(str, hypers.items()))}-{np.dtype(dtype).name}")
    return trajectory(spec, hypers, dtype, external, seed=seed, label=label or name, **kw)


# --- RAdam / RAdamW against torch.optim.RAdam ---------------------------------------------

RADAM = [dict(lr=1e-2, weight_decay=0.1, decoupled_weight_decay=False),
         dict(lr=1e-2, weight_decay=0.1, decoupled_weight_decay=True),
         dict(lr=1e-2, weight_decay=0.0, beta1=0.8, beta2=0.99, eps=1e-6),
         dict(lr=1e-2, beta2=0.5)]  # rho_inf = 3 <= 5: never rectified (SGD with momentum throughout)


def torch_radam(h):
    kw = dict(lr=h["lr"], weight_decay=h.get("weight_decay", 0.0), eps=h.get("eps", 1e-8),
              betas=(h.get("beta1", 0.9), h.get("beta2", 0.999)),
              decoupled_weight_decay=h.get("decoupled_weight_decay", False))
    return lambda p: Torch(lambda ps: torch.optim.RAdam(ps, foreach=False, **kw), p)


@DTYPES
@pytest.mark.parametrize("hypers", RADAM, ids=["l2", "decoupled", "betas", "never_rectified"])
def test_radam_matches_torch(hypers, dtype):
    run("radam", hypers, dtype, torch_radam(hypers))


@DTYPES
def test_radam_with_the_papers_threshold_matches_pytorch_optimizer(dtype):
    """rho_threshold=4 (the paper, the blog post 'Some Deep Learning Optimizers') rectifies from t = 5 (rho_5 = 4.996 at beta2 = 0.999),
    one step earlier than torch's 5: pytorch-optimizer's RAdam with n_sma_threshold=4."""
    h = dict(lr=1e-2, rho_threshold=4.0)
    run("radam", h, dtype, lambda p: Torch(lambda ps: pytorch_optimizer.RAdam(
        ps, lr=1e-2, n_sma_threshold=4, degenerated_to_sgd=True, foreach=False), p))


@DTYPES
def test_radamw_matches_torch_decoupled(dtype):
    h = dict(lr=1e-2, weight_decay=0.1)
    run("radamw", h, dtype, torch_radam({**h, "decoupled_weight_decay": True}))


def test_radam_rectification_is_a_host_decision():
    """rho_t > threshold selects a kernel on the host: two variants, no per-element branch on it."""
    build = compile_spec(optgen.load_spec("radam"))
    assert [str(c) for c in build.staged.conditions] == ["rho_threshold < rho_t"]
    assert "rho" not in "".join(line for line in build.code.splitlines() if line.startswith("            "))
    variant = build.staged.variants
    assert len(variant) == 2 and all(len(v.passes) == 1 for v in variant.values())


# --- decoupled weight decay: AdamW from Adam ----------------------------------------------------

@DTYPES
@pytest.mark.parametrize("amsgrad", [False, True])
def test_decoupled_weight_decay_of_adam_is_torch_adamw(amsgrad, dtype):
    spec = decoupled_weight_decay(optgen.load_spec("adam"), name="adamw_by_transform")
    assert spec.hypers["weight_decay"] == 1e-2 and list(spec.hypers)[:5] == ["lr", "beta1", "beta2", "eps", "weight_decay"]
    h = dict(lr=1e-2, weight_decay=0.1, amsgrad=amsgrad)
    run(spec, h, dtype, lambda p: Torch(lambda ps: torch.optim.AdamW(ps, foreach=False, **h), p))


# --- lookahead against optax.lookahead -------------------------------------------------------------

@DTYPES
@pytest.mark.parametrize("k,alpha", [(5, 0.5), (1, 0.3), (3, 1.0)])
def test_lookahead_adam_matches_optax(k, alpha, dtype):
    """k and alpha are hyperparameters: one compiled spec serves every value."""
    spec = lookahead(optgen.load_spec("adam"), k=5, alpha=0.5)
    assert spec.hypers["k"] == 5 and spec.hypers["alpha"] == 0.5 and spec.name == "lookahead_adam"
    run(spec, dict(lr=1e-2, k=k, alpha=alpha), dtype,
        lambda p: Optax(optax.lookahead(optax.adam(1e-2), sync_period=k, slow_step_size=alpha), p, lookahead=True),
        label=f"lookahead_adam_k{k}")


@DTYPES
def test_lookahead_of_a_reduction_spec_matches_optax(dtype):
    """Lookahead around LARS (optax's form): reductions and the host sync test compose."""
    spec = lookahead(optgen.load_spec("lars"), k=4, alpha=0.6)
    h = dict(lr=0.5, momentum=0.9, weight_decay=0.01, trust_coefficient=1e-2, eps=1e-5, norm_of_decayed_grad=True)
    tx = optax.lars(0.5, weight_decay=0.01, trust_coefficient=1e-2, eps=1e-5, momentum=0.9)
    run(spec, h, dtype, lambda p: Optax(optax.lookahead(tx, sync_period=4, slow_step_size=0.6), p, lookahead=True),
        label="lookahead_lars")


def test_lookahead_sync_is_a_host_decision_and_costs_phi_only_when_syncing():
    build = compile_spec(lookahead(optgen.load_spec("adam"), k=5, alpha=0.5))
    conds = [str(c) for c in build.staged.conditions]
    assert conds == ["Eq(t, 1)", "Eq(Mod(t, k), 0)"]
    by_key = {key: v for key, v in build.variants.items()}
    plain, sync = by_key[(False, False)], by_key[(False, True)]
    assert "phi" not in plain.passes[0].loads and "phi" not in plain.passes[0].stores
    assert "phi" in sync.passes[0].loads and "phi" in sync.passes[0].stores
    assert "phi" in by_key[(True, False)].passes[0].stores  # phi_0 = w_0 written at t = 1, not loaded


def test_transforms_refuse_a_name_clash_and_keep_the_inner_spec():
    rms = optgen.load_spec("rmsprop")
    if "alpha" in rms.hypers:
        with pytest.raises(SpecError, match="already has a hyper named 'alpha'"):
            lookahead(rms)
        from optgen.dsl import hyper
        spec = lookahead(rms, alpha=hyper("la_alpha", 0.5, domain="[0, 1]"))
        assert "la_alpha" in spec.hypers and spec.hypers["alpha"] == rms.hypers["alpha"]
    adam = optgen.load_spec("adam")
    before = list(adam.equations)
    ranger_like = with_defaults(adam, beta1=0.95)
    assert ranger_like.hypers["beta1"] == 0.95 and optgen.load_spec("adam").hypers["beta1"] == 0.9
    assert adam.equations == before and ranger_like.transforms[-1].startswith("with_defaults(adam")


# --- Ranger against pytorch-optimizer -----------------------------------------------------------------

@DTYPES
@pytest.mark.parametrize("weight_decay", [0.0, 0.1])
def test_ranger_matches_pytorch_optimizer(weight_decay, dtype):
    spec = optgen.load_spec("ranger")
    assert {k: spec.hypers[k] for k in ("beta1", "beta2", "eps", "k", "alpha", "weight_decay")} == \
        dict(beta1=0.95, beta2=0.999, eps=1e-5, k=6, alpha=0.5, weight_decay=0.0)  # pytorch-optimizer's defaults
    h = dict(lr=1e-2, weight_decay=weight_decay)
    run("ranger", h, dtype, lambda p: Torch(lambda ps: pytorch_optimizer.Ranger(
        ps, lr=1e-2, weight_decay=weight_decay, use_gc=False, degenerated_to_sgd=True), p))


# --- RangerLARS and Paratrooper: the blog post 'Some Deep Learning Optimizers', transcribed ---------------------------------------------------

def blog_ranger_lars(lr, beta1, beta2, eps, k, alpha, clip, threshold=5.0):
    """The blog post's RangerLARS per tensor: RAdam's step u (rectified r_t m_hat l_t, or
    m_hat), the trust ratio ||w|| / ||u|| (1 if a norm is 0) clipped, w -= lr ratio u;
    every k steps the Lookahead slow weights (phi_0 = w_0) move by alpha and w = phi."""
    def step(params, grads, state, t):
        if state is None:
            state = [(np.zeros_like(p), np.zeros_like(p), p.copy()) for p in params]
        rho_inf = 2 / (1 - beta2) - 1
        rho_t = rho_inf - 2 * t * beta2**t / (1 - beta2**t)
        b_t = np.sqrt(1 - beta2**t) / (1 - beta1**t)
        for p, g, (m, v, phi) in zip(params, grads, state):
            dt = p.dtype.type
            m[...] = dt(beta1) * m + dt(1 - beta1) * g
            v[...] = dt(beta2) * v + dt(1 - beta2) * g * g
            m_hat = m / dt(1 - beta1**t)
            if rho_t > threshold:
                r_t = np.sqrt((rho_t - 4) * (rho_t - 2) * rho_inf / ((rho_inf - 4) * (rho_inf - 2) * rho_t))
                u = dt(r_t) * m_hat * dt(np.sqrt(1 - beta2**t)) / (np.sqrt(v) + dt(eps))
            else:
                u = m_hat
            wn, un = np.linalg.norm(p.astype(np.float64)), np.linalg.norm(u.astype(np.float64))
            ratio = clip(1.0 if (wn == 0 or un == 0) else wn / un, b_t)
            p -= dt(lr * ratio) * u
            if t % k == 0:
                phi += dt(alpha) * (p - phi)
                p[...] = phi
        return state
    return step


def clamp_0_10(r, b_t):
    return max(0.0, min(r, 10.0))


def paratrooper(r, b_t):
    return max(1.0, min(1.0 / (r * b_t), r))


def trust_params():
    """||w|| / ||u|| ~ rms(w) for Adam-like steps: a tensor at scale 30 (ratio > 10: the
    clamp binds), one at 0 (the ratio falls back to 1 at the first step), one at scale 1."""
    rng = np.random.default_rng(7)
    return [rng.standard_normal(s) * scale for s, scale in zip(SHAPES, [30.0, 0.0, 1.0])]


@DTYPES
@pytest.mark.parametrize("name,clip", [("ranger_lars", clamp_0_10), ("paratrooper", paratrooper)])
def test_ranger_lars_and_paratrooper_match_the_blog(name, clip, dtype):
    h = dict(lr=1e-2)
    spec = optgen.load_spec(name)
    b1, b2, eps = spec.hypers["beta1"], spec.hypers["beta2"], spec.hypers["eps"]
    run(name, h, dtype, lambda p: Numpy(blog_ranger_lars(1e-2, b1, b2, eps, 6, 0.5, clip), p),
        params=trust_params())


def test_the_clips_bind_in_those_trajectories():
    """With trust_params() the [0, 10] clamp cuts ratios above 10, and Paratrooper's clip
    is neither 1 nor the raw ratio at some steps: the cases above test the clips."""
    seen = []
    step = blog_ranger_lars(1e-2, 0.95, 0.999, 1e-5, 6, 0.5, lambda r, b: seen.append((r, b)) or r)
    params, state, rng = trust_params(), None, np.random.default_rng(0)
    for t in range(1, 60):
        state = step(params, [rng.standard_normal(s) for s in SHAPES], state, t)
    ratios = [r for r, _ in seen]
    assert min(ratios) < 10 < max(ratios)
    clipped = [paratrooper(r, b) for r, b in seen]
    assert any(1 < c < r for c, (r, _) in zip(clipped, seen)) and any(c == 1 for c in clipped)


def test_paratrooper_becomes_ranger_late_in_training():
    """The blog post 'Some Deep Learning Optimizers': as b_t -> 1 the clip max(1, min(1/(r b_t), r)) tends to 1: at t = 20000 one
    Paratrooper step equals one step of Lookahead(RAdam) from the same state (to 1e-5 of the step)."""
    rng = np.random.default_rng(3)
    params = [rng.standard_normal(s) for s in SHAPES]
    grads = [rng.standard_normal(s) for s in SHAPES]
    inner = lookahead(with_defaults(optgen.load_spec("radam"), beta1=0.95, eps=1e-5), k=6, alpha=0.5,
                      name="lookahead_radam")
    a, b = [p.copy() for p in params], [p.copy() for p in params]
    para, plain = optgen.create("paratrooper", a, lr=1e-2), optgen.create(inner, b, lr=1e-2)
    states = [{"m": rng.standard_normal(p.shape), "v": rng.random(p.shape), "phi": p.copy()} for p in params]
    for opt in (para, plain):
        sd = opt.state_dict()
        sd.update(t=19999, states=[dict(s) for s in states])
        opt.load_state_dict(sd)
    para.step(grads)
    plain.step(grads)
    for x, y, p0 in zip(a, b, params):
        np.testing.assert_allclose(x - p0, y - p0, rtol=1e-5, atol=1e-5 * np.max(np.abs(y - p0)))


def test_trust_ratio_clip_is_per_tensor_on_the_host():
    build = compile_spec(optgen.load_spec("paratrooper"))
    v = next(iter(build.staged.variants.values()))
    assert len(v.passes) == 2 and [s.name for s, _ in v.tensor_stages[0]][-1] == "trust"


# --- EMA of parameters against objax's formula -------------------------------------------------------------

def objax_ema(momentum, debias, eps):
    """objax.optimizer.ExponentialMovingAverage: m += (1 - mu)(w - m) per call, m_0 = 0;
    averaged: m, or m / (1 - (1 - eps) mu^step) with debias."""
    class EMA:
        def __init__(self, params):
            self.m = [np.zeros_like(p) for p in params]
            self.step = 0

        def __call__(self, params):
            self.step += 1
            for p, m in zip(params, self.m):
                m += p.dtype.type(1 - momentum) * (p - m)

        def averaged(self):
            if not debias:
                return self.m
            f = 1 / (1 - (1 - eps) * momentum ** self.step)
            return [m * m.dtype.type(f) for m in self.m]
    return EMA


@DTYPES
@pytest.mark.parametrize("momentum,debias", [(0.99, True), (0.9, False)])
def test_ema_matches_objax_beside_an_optimizer(momentum, debias, dtype):
    rng = np.random.default_rng(seed_of(f"ema-{momentum}-{debias}"))
    params = [rng.standard_normal(s).astype(dtype) for s in SHAPES]
    opt = optgen.create("adam", params, lr=1e-2)
    avg = optgen.ema(params, momentum=momentum, debias=debias, eps=1e-6)
    theirs = objax_ema(momentum, debias, 1e-6)(params)
    for step in range(1, 201):
        opt.step([rng.standard_normal(s).astype(dtype) for s in SHAPES])
        avg.update()
        theirs([p.copy() for p in params])
        ours = avg.averaged()
        for i, (a, b) in enumerate(zip(ours, theirs.averaged())):
            assert a.dtype == np.dtype(dtype) and a.shape == params[i].shape
            assert_close(a, b, dtype, f"ema step {step} tensor {i}")
    assert avg.t == 200
    target = [np.empty_like(p) for p in params]
    avg.copy_to(target)
    for a, b in zip(target, avg.averaged()):
        np.testing.assert_array_equal(a, b)


def test_ema_state_dict_round_trip():
    rng = np.random.default_rng(5)
    params = [rng.standard_normal(s) for s in SHAPES]
    avg = optgen.ema(params, momentum=0.9, debias=True)
    for _ in range(3):
        params[0] += 1.0
        avg.update()
    sd = avg.state_dict()
    other = optgen.ema(params, momentum=0.9, debias=False)
    other.load_state_dict(sd)
    assert other.t == 3 and other.debias
    for a, b in zip(other.averaged(), avg.averaged()):
        np.testing.assert_array_equal(a, b)
    with pytest.raises(ValueError, match="constant momentum"):
        optgen.ema(params, momentum=lambda t: 0.9, debias=True)
