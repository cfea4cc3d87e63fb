"""A pass's kernel arguments are kept between steps (optgen/runtime/cpu.py, ``_PassCall``).

Only the gradients' table and the host scalars change from step to step; the scalars
are converted to the kernel's dtype again only when their values change. Each test
changes a value between steps in a way a cache keyed too loosely would miss, and
checks the parameters against a hand derivation of SGD, ``w <- w - lr * g``.
"""
from __future__ import annotations

import numpy as np
import pytest

import optgen


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_a_host_scalar_changing_from_minus_zero_to_zero_is_passed_anew(dtype):
    # SGD's kernel: w1 = -lr * (weight_decay * w + g) + w, here with w = g = -0.0 and lr = 1.
    # weight_decay = -0.0 (inside its domain, and == 0.0): -0.0 * -0.0 = +0.0, +0.0 + g = +0.0,
    # -1 * +0.0 = -0.0, -0.0 + w = -0.0. weight_decay = +0.0: +0.0 * -0.0 = -0.0, -0.0 + g = -0.0,
    # -1 * -0.0 = +0.0, +0.0 + w = +0.0. A cache that took -0.0 for 0.0 would keep the sign.
    w, g = np.full(3, -0.0, dtype), np.full(3, -0.0, dtype)
    opt = optgen.create("sgd", [w], lr=1.0, weight_decay=-0.0)
    opt.step([g])
    assert np.signbit(w).all()
    opt.set_hyper("weight_decay", 0.0)
    opt.step([g])
    assert not np.signbit(w).any()


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_a_changed_lr_is_used_at_the_next_step_and_an_unchanged_one_kept(dtype):
    w = np.zeros(4, dtype)
    opt = optgen.create("sgd", [w], lr=0.5)
    g = np.ones(4, dtype)
    opt.step([g])
    opt.step([g])  # the same scalars: -0.5 each step
    np.testing.assert_array_equal(w, np.full(4, -1.0, dtype))
    opt.set_hyper("lr", 0.25)
    opt.step([g])
    np.testing.assert_array_equal(w, np.full(4, -1.25, dtype))


def test_new_gradient_arrays_each_step_are_the_ones_read():
    w = np.zeros(2)
    opt = optgen.create("sgd", [w], lr=1.0)
    for k in range(1, 4):
        opt.step([np.full(2, float(k))])  # a fresh array (new address) each step
    np.testing.assert_array_equal(w, np.full(2, -6.0))
