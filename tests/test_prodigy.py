"""Prodigy (specs/prodigy.py) against optax.contrib.prodigy, and its scalars as host states.

Prodigy's step-size estimate d and numerator r are scalars of the whole optimizer whose
new values need two sums over every tensor (<g, w0 - w> and sum |s|): the first spec
whose host states are formed after a pass. 150 steps, float32 and float64, tensors of
1-D, 2-D, 4-D and odd shapes, the default and safeguard_warmup, with weight decay, and
with lr as a warm-up schedule (optax: a linear schedule), beside the reference oracle.
"""
import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

import optgen  # noqa: E402
from optgen import schedules  # noqa: E402

from _sidebyside import Optax, trajectory  # noqa: E402

DTYPES = pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["f32", "f64"])
SHAPES = [(5, 7), (13,), (2, 3, 4, 5), (1,)]
SCALES = [1.0, 1e-2, 3.0, 0.5]


@pytest.fixture(autouse=True, scope="module")
def one_thread(one_thread_module):
    """Tiny tensors: one Numba thread for the whole module (see conftest)."""


def _drift(step, grads):
    """A steady direction under the noise, as a real loss has: with pure noise <g, w0 - w> stays
    near 0, d near d0 and the parameters hardly move (the comparison would prove little)."""
    for gr in grads:
        gr += gr.dtype.type(0.5)



CASES = {
    "defaults": ({}, {}),
    "safeguard-wd": ({"safeguard_warmup": True, "weight_decay": 0.1, "d0": 1e-4},
                     {"safeguard_warmup": True, "weight_decay": 0.1, "estim_lr0": 1e-4}),
    "betas-coef": ({"beta1": 0.8, "beta2": 0.99, "beta3": 0.95, "d_coef": 0.5, "eps": 1e-6},
                   {"betas": (0.8, 0.99), "beta3": 0.95, "estim_lr_coef": 0.5, "eps": 1e-6}),
}


@DTYPES
@pytest.mark.parametrize("case", list(CASES))
def test_prodigy_matches_optax_contrib(dtype, case, x64):
    import optax
    x64(dtype)
    ours, theirs = CASES[case]
    trajectory("prodigy", ours, dtype, lambda p: Optax(optax.contrib.prodigy(**theirs), p),
               steps=150, shapes=SHAPES, scales=SCALES, seed=21, rel=_rel(dtype), edit_grads=_drift)


@DTYPES
def test_prodigy_with_a_warmup_schedule_matches_optax(dtype, x64):
    import optax
    x64(dtype)
    warm = schedules.LinearWarmup(1.0, 30, init=0.1)  # lr from 0.1 to 1 over 30 steps, then 1 (from 0, sum |s| = 0 at step 1: 0/0)
    import jax.numpy as jnp

    def sched(count):  # optax.linear_schedule's formula; it rounds its value to float32 even under x64
        return 0.1 + 0.9 * jnp.minimum(count, 30).astype(np.dtype(dtype)) / 30
    trajectory("prodigy", {"lr": warm}, dtype, lambda p: Optax(optax.contrib.prodigy(learning_rate=sched), p),
               steps=150, shapes=SHAPES, scales=SCALES, seed=22, rel=_rel(dtype), edit_grads=_drift)


def _rel(dtype):
    """optax keeps d and r in the parameters' dtype, optgen as float64 host values, and d feeds
    every later step (through max(d, ...)): a rounding difference grows about 1e4-fold over 150
    steps in both dtypes (float64 still meets the harness's 1e-11, about 1e5 u). float32: 1e-3,
    about 1.7e4 u; a step of d or r off by one step misses by far more."""
    return 1e-3 if np.dtype(dtype) == np.float32 else None


def test_d_and_r_are_scalars_not_arrays():
    """The estimate costs no memory per element: d and r are host states, and the step's
    passes move only m, v, s, w0 and w besides g."""
    opt = optgen.create("prodigy", [np.zeros((4, 3)), np.zeros(5)])
    assert set(opt.host_states) == {"d", "r"} and set(opt.states) == {"m", "v", "s", "w0"}
    assert opt.host_states == {"d": 0.0, "r": 0.0}  # d = d0 from the first step's variant
    opt.step([np.ones((4, 3)), np.ones(5)])
    assert opt.host_states["d"] == pytest.approx(1e-6) and opt.host_states["r"] == 0.0  # w0 - w = 0 at step 1
    opt.step([np.ones((4, 3)), np.ones(5)])
    assert opt.host_states["d"] >= 1e-6 and opt.host_states["r"] > 0  # the numerator has grown
