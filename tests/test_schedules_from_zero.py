"""Schedules that start (or end) at zero: a learning rate of exactly 0 at a step is
legitimate, a negative one is not, and a schedule is checked over its course when given."""
import numpy as np
import pytest

import optgen
from optgen import SpecError
from optgen import schedules as S


def test_the_documented_warmup_from_zero_runs_and_matches_the_oracle():
    """WarmupCosine(init=0): step 1 uses lr = 0, so w is unchanged (by hand); later steps are the oracle's."""
    rng = np.random.default_rng(7)
    params = [rng.standard_normal((5, 3)), rng.standard_normal(4)]
    mirror = [p.copy() for p in params]
    start = [p.copy() for p in params]
    lr = S.WarmupCosine(1e-2, warmup_steps=5, decay_steps=50, init=0.0)
    opt = optgen.create("lamb", params, lr=lr, weight_decay=S.LinearWarmup(0.01, 10))
    ref = optgen.reference("lamb", mirror, lr=lr, weight_decay=S.LinearWarmup(0.01, 10))
    for step in range(1, 8):
        grads = [rng.standard_normal(p.shape) for p in params]
        opt.step(grads)
        ref.step(grads)
        if step == 1:
            for p, s in zip(params, start):
                np.testing.assert_array_equal(p, s)
        for p, q in zip(params, mirror):
            np.testing.assert_allclose(p, q, rtol=1e-10, atol=1e-12)
    assert not np.allclose(params[0], start[0])


def test_a_plain_callable_may_be_zero_at_the_first_step():
    params = [np.ones(3)]
    opt = optgen.create("adam", params, lr=lambda t: 0.0 if t == 1 else 1e-3)
    opt.step([np.ones(3)])
    np.testing.assert_array_equal(params[0], np.ones(3))


def test_a_constant_zero_learning_rate_is_still_refused():
    with pytest.raises(SpecError, match=r"lr=0\.0 is outside its domain positive$"):
        optgen.create("adam", [np.ones(3)], lr=0.0)


def test_a_schedule_negative_after_a_corner_is_refused_when_given():
    """The cosine ends at -1e-4 at decay_steps: beyond the first 1024 steps, found at the corner."""
    with pytest.raises(SpecError, match=r"lr=-.*the schedule's value at t=20000\) is outside its domain positive"):
        optgen.create("adam", [np.ones(3)], lr=S.WarmupCosine(1e-3, warmup_steps=500, decay_steps=20_000,
                                                               end=-1e-4))


def test_zero_is_allowed_only_where_it_is_an_open_end_of_the_domain():
    """beta1 in [0, 1): 1 is an open end but not 0, so a schedule reaching 1 is refused."""
    with pytest.raises(SpecError, match=r"beta1=1\.0 \(the schedule's value at t=11\) is outside its domain \[0, 1\)$"):
        optgen.create("adam", [np.ones(3)], beta1=S.LinearWarmup(1.0, 10, init=0.9))
    optgen.create("adam", [np.ones(3)], beta1=S.LinearWarmup(0.9, 10, init=0.0))  # 0 is inside [0, 1)


def test_products_keep_their_corners():
    sched = S.LinearWarmup(1.0, 2000) * S.PolynomialDecay(1.0, total_steps=5000)
    assert {2001, 5001} <= set(sched.check_steps())
