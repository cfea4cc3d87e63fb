"""AdEMAMix and Schedule-Free AdamW against optax.contrib, 200 steps each.

As tests/test_modern_elementwise.py: every spec runs beside the reference oracle
and optax in the same trajectory (``_sidebyside.trajectory``), float32 and
float64, with tensors of three shapes and gradient scales. The cases run every
branch:

- AdEMAMix with constant alpha and beta3; with weight decay and eps_root; with
  the paper's warm-ups of alpha and beta3 as optgen schedules (both given to
  optax as schedules too: alpha as optax.linear_schedule, beta3 as the paper's
  formula transcribed in jax.numpy), over T = 120 < 200 steps, so the run
  crosses the end of the warm-up.
- Schedule-Free AdamW without and with warm-up (W = 50: both counts of the
  warm-up, lr_{t-1} and lr_t, and the step where they reach the peak), with
  weight decay, weight_lr_power 2 and 1, and with an optgen schedule for lr
  that starts at 0 (the weights' sum is 0 at step 1: c = 0); its evaluation parameters x, formed
  from ``state_dict()`` as the spec's docstring says, against
  optax.contrib.schedule_free_eval_params, and its host scalars against
  optax's state (max_lr, weight_sum).
"""
import sys
from pathlib import Path

import numpy as np
import pytest
import sympy

sys.path.insert(0, str(Path(__file__).resolve().parent))

import optax  # noqa: E402

import optgen  # noqa: E402
from optgen import schedules  # noqa: E402
from optgen.schedules import N  # noqa: E402

from _sidebyside import REL, Optax, random_params, seed_of, trajectory  # noqa: E402

DTYPES = pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["f32", "f64"])


@pytest.fixture(autouse=True, scope="module")
def one_thread(one_thread_module):
    """Tiny tensors: one Numba thread for the whole module (see conftest)."""



def key_of(hypers):
    return sorted((k, repr(v) if isinstance(v, schedules.Schedule) else v) for k, v in hypers.items())


def run(name, hypers, dtype, external, label=""):
    return trajectory(name, hypers, dtype, external, seed=seed_of(f"{name}-{key_of(hypers)}-{dtype}"),
                      label=label or name)


# --- AdEMAMix ------------------------------------------------------------------------

T_WARM = 120  # the paper's T_alpha_beta3, shorter than the 200-step run


def beta3_warmup_optgen(beta_start, beta_end, T):
    """The paper's beta3 warm-up (1/log beta3 linear in n up to T), as an optgen schedule in n."""
    n = sympy.Min(N, T)
    lb, le = sympy.log(sympy.Float(beta_start)), sympy.log(sympy.Float(beta_end))
    return schedules.StepExpression(sympy.Min(sympy.exp(lb * le / ((1 - n / T) * le + n / T * lb)), beta_end))


def beta3_warmup_optax(beta_start, beta_end, T, dtype):
    """The same formula transcribed in jax.numpy, called by optax at count_m2 (steps done)."""
    import jax.numpy as jnp

    def b3(count):
        n = jnp.minimum(count, T).astype(dtype)
        lb, le = jnp.log(beta_start), jnp.log(beta_end)
        return jnp.minimum(jnp.exp(lb * le / ((1 - n / T) * le + n / T * lb)), beta_end)
    return b3


ADEMAMIX_CASES = [
    ("constant", dict(lr=1e-2, beta1=0.9, beta2=0.999, beta3=0.999, alpha=5.0, eps=1e-8, eps_root=0.0,
                      weight_decay=0.0)),
    ("decay-eps-root", dict(lr=1e-2, beta1=0.8, beta2=0.99, beta3=0.99, alpha=2.0, eps=1e-6, eps_root=1e-8,
                            weight_decay=0.05)),
    ("warmup", dict(lr=1e-2, beta1=0.9, beta2=0.999, beta3=0.995, alpha=4.0, eps=1e-8, eps_root=0.0,
                    weight_decay=1e-2)),
]


@DTYPES
@pytest.mark.parametrize("case,hypers", ADEMAMIX_CASES, ids=[c for c, _ in ADEMAMIX_CASES])
def test_ademamix_matches_optax(case, hypers, dtype, x64):
    x64(dtype)
    h = dict(hypers)
    alpha, b3 = h["alpha"], h["beta3"]
    if case == "warmup":
        ours = dict(h, alpha=schedules.LinearWarmup(alpha, T_WARM),
                    beta3=beta3_warmup_optgen(h["beta1"], b3, T_WARM))
        # optax's count is an int32, and count / T is float32 even with x64: a float count
        # makes optax's schedules compute in the parameters' dtype, as optgen's host does
        warm = optax.linear_schedule(0.0, alpha, T_WARM)
        alpha = lambda count: warm(count.astype(dtype))  # noqa: E731
        b3 = beta3_warmup_optax(h["beta1"], b3, T_WARM, dtype)
    else:
        ours = h
    tx = optax.contrib.ademamix(h["lr"], b1=h["beta1"], b2=h["beta2"], b3=b3, alpha=alpha, eps=h["eps"],
                                eps_root=h["eps_root"], weight_decay=h["weight_decay"])
    run("ademamix", ours, dtype, lambda p: Optax(tx, p), label=f"ademamix-{case}")


def test_ademamix_warmup_schedules_are_the_papers():
    """The warm-ups start at (0, beta1), reach (alpha, beta3) at T and stay there; beta3 rises monotonically."""
    alpha = schedules.LinearWarmup(4.0, T_WARM)
    b3 = beta3_warmup_optgen(0.9, 0.995, T_WARM)
    assert alpha.value(1) == 0.0 and alpha.value(T_WARM + 1) == 4.0 and alpha.value(300) == 4.0
    vals = b3.values(range(1, 300))
    assert vals[0] == pytest.approx(0.9, rel=1e-15)
    assert vals[T_WARM] == pytest.approx(0.995, rel=1e-15) and max(vals) == pytest.approx(0.995, rel=1e-15)
    assert all(a <= b for a, b in zip(vals, vals[1:]))


# --- Schedule-Free AdamW -----------------------------------------------------------

SF_CASES = [
    ("constant", dict(lr=1e-2, warmup_steps=0, beta1=0.9, beta2=0.999, eps=1e-8, weight_decay=0.0,
                      weight_lr_power=2.0)),
    ("warmup-decay", dict(lr=2e-2, warmup_steps=50, beta1=0.95, beta2=0.99, eps=1e-6, weight_decay=1e-2,
                          weight_lr_power=2.0)),
    ("warmup-power1", dict(lr=1e-2, warmup_steps=30, beta1=0.8, beta2=0.999, eps=1e-8, weight_decay=0.1,
                           weight_lr_power=1.0)),
    # an optgen schedule for lr, from 0: the averaging weight's sum is 0 at step 1 (c = 0, optax's nan_to_num)
    ("scheduled-lr", dict(lr=schedules.LinearWarmup(2e-2, 40), warmup_steps=0, beta1=0.9, beta2=0.999, eps=1e-8,
                          weight_decay=1e-2, weight_lr_power=2.0)),
]


def sf_optax(h, dtype):
    """optax.contrib.schedule_free_adamw; in float64 with a warm-up, its body with a float count.

    optax evaluates the warm-up at an int32 count, and count / W is float32 even with
    x64 (then cast to float64): lr good to 1e-7 only. So in float64 the peer is
    schedule_free_adamw's own composition with the schedule called at a float64 count."""
    if isinstance(h["lr"], schedules.Schedule):
        # optgen gives both uses the schedule's value at n = t - 1 (the docstring): optax's AdamW step
        # counts from 0, so it has that already; its averaging counts from 1, so it is shifted back
        warm = optax.linear_schedule(0.0, 2e-2, 40)
        assert all(abs(float(warm(n)) - h["lr"].value(n + 1)) < 1e-8 for n in range(50))  # the same schedule

        def lr_step(count):
            return warm(count.astype(dtype))

        def lr_avg(count):
            return lr_step(count - 1)
        base = optax.chain(optax.scale_by_rms(decay=h["beta2"], eps=h["eps"], eps_in_sqrt=False,
                                              bias_correction=True),
                           optax.add_decayed_weights(h["weight_decay"]), optax.scale_by_learning_rate(lr_step))
        return optax.contrib.schedule_free(base, learning_rate=lr_avg, b1=h["beta1"],
                                           weight_lr_power=h["weight_lr_power"])
    if not h["warmup_steps"] or np.dtype(dtype) == np.float32:
        return optax.contrib.schedule_free_adamw(
            learning_rate=h["lr"], warmup_steps=h["warmup_steps"] or None, b1=h["beta1"], b2=h["beta2"],
            eps=h["eps"], weight_decay=h["weight_decay"], weight_lr_power=h["weight_lr_power"])
    warm = optax.warmup_constant_schedule(init_value=0, peak_value=h["lr"], warmup_steps=h["warmup_steps"])

    def lr(count):
        return warm(count.astype(dtype))
    base = optax.chain(optax.scale_by_rms(decay=h["beta2"], eps=h["eps"], eps_in_sqrt=False, bias_correction=True),
                       optax.add_decayed_weights(h["weight_decay"]), optax.scale_by_learning_rate(lr))
    return optax.contrib.schedule_free(base, learning_rate=lr, b1=h["beta1"], weight_lr_power=h["weight_lr_power"])


@DTYPES
@pytest.mark.parametrize("case,hypers", SF_CASES, ids=[c for c, _ in SF_CASES])
def test_schedule_free_adamw_matches_optax(case, hypers, dtype, x64):
    x64(dtype)
    run("schedule_free_adamw", hypers, dtype, lambda p: Optax(sf_optax(hypers, dtype), p),
        label=f"schedule_free_adamw-{case}")


@DTYPES
@pytest.mark.parametrize("case,hypers", SF_CASES, ids=[c for c, _ in SF_CASES])
def test_schedule_free_eval_params_match_optax(case, hypers, dtype, x64):
    """x = (w - (1 - beta1) z) / beta1 from state_dict() is optax's schedule_free_eval_params,
    and the host scalars are optax's max_lr and weight_sum."""
    x64(dtype)
    h = hypers
    rng = np.random.default_rng(seed_of(f"sf-eval-{case}-{dtype}"))
    params = random_params(rng, dtype)
    ext = Optax(sf_optax(h, dtype), [p.copy() for p in params])
    opt = optgen.create("schedule_free_adamw", params, **h)
    rel = REL[np.dtype(dtype)]
    for step in range(1, 121):
        grads = [rng.standard_normal(p.shape).astype(dtype) for p in params]
        opt.step(grads)
        ext.step(grads)
        if step % 20 and step not in (1, 2, h["warmup_steps"], h["warmup_steps"] + 1):
            continue
        sd = opt.state_dict()
        theirs = optax.contrib.schedule_free_eval_params(ext.state, ext.p)
        for i, (w, s) in enumerate(zip(params, sd["states"])):
            x = (w - (1 - h["beta1"]) * s["z"]) / h["beta1"]
            scale = float(np.max(np.abs(theirs[i])))
            np.testing.assert_allclose(x, np.asarray(theirs[i]), rtol=rel, atol=rel * scale,
                                       err_msg=f"{case} step {step} tensor {i}: eval params x")
            np.testing.assert_allclose(s["z"], np.asarray(ext.state.z[i]), rtol=rel, atol=rel * scale,
                                       err_msg=f"{case} step {step} tensor {i}: z")
        host = sd["host_states"]  # float64 here; optax's are in the parameters' dtype
        host_rel = REL[np.dtype(dtype)] if dtype == np.float32 else 1e-14
        for name in ("max_lr", "weight_sum"):
            np.testing.assert_allclose(host[name], float(getattr(ext.state, name)), rtol=host_rel,
                                       err_msg=f"{case} step {step}: {name}")
    # the average lags the iterate: x differs from w by far more than the tolerance
    sd = opt.state_dict()
    x0 = (params[0] - (1 - h["beta1"]) * sd["states"][0]["z"]) / h["beta1"]
    assert np.max(np.abs(x0 - params[0])) > 100 * rel * np.max(np.abs(params[0]))


def test_schedule_free_eval_params_through_optgen_torch():
    """The docstring's recipe through optgen.torch: x = (p - (1 - beta1) state["z"]) / beta1 is optax's."""
    import torch
    import optgen.torch as ot
    h = SF_CASES[1][1]
    rng = np.random.default_rng(5)
    params = random_params(rng, np.float64)
    ps = [torch.tensor(p.copy()) for p in params]
    opt = ot.Optimizer(ps, "schedule_free_adamw", **h)
    ext = Optax(sf_optax(h, np.float64), [p.copy() for p in params])
    for _ in range(60):
        grads = [rng.standard_normal(p.shape) for p in params]
        for p, gr in zip(ps, grads):
            p.grad = torch.from_numpy(gr.copy())
        opt.step()
        ext.step(grads)
    theirs = optax.contrib.schedule_free_eval_params(ext.state, ext.p)
    for p, x_theirs in zip(ps, theirs):
        x = ((p - (1 - h["beta1"]) * opt.state[p]["z"]) / h["beta1"]).numpy()
        x_theirs = np.asarray(x_theirs)
        np.testing.assert_allclose(x, x_theirs, rtol=1e-11, atol=1e-11 * np.max(np.abs(x_theirs)))
