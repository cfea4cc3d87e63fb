"""Bad arguments to ``create``, ``step`` and ``load_state_dict`` are refused, and change nothing.

Hypothesis draws a good setting (a built-in spec, odd-shaped float32/float64
parameters, a few good steps already taken) and one bad input from the menus in
``badinputs.py``. Each must raise a TypeError or ValueError (SpecError is a
ValueError) -- never another exception, a crash, or a silent result -- and leave
the parameters, the states and the step counter as they were. After a refused
``step`` or ``load_state_dict`` the optimizer must still step exactly like the
reference oracle that never saw the bad input.
"""
from __future__ import annotations

import copy

import numpy as np
import pytest
from hypothesis import given, note, settings
from hypothesis import strategies as st

import optgen
from badinputs import BAD_CHECKPOINT_ENTRIES, BAD_GRAD_ENTRIES, BAD_HYPER_VALUES, BAD_PARAM_ENTRIES, menu
from known_bugs import known_bug

SPECS = ["adam", "lamb", "nadam", "rmsprop_warmstart"]   # plain; reductions; host states; a state from g
SHAPES = [(), (1,), (7,), (3, 5), (2, 1, 3)]
REL = {np.dtype(np.float32): 2e-5, np.dtype(np.float64): 1e-11}
REFUSED = (TypeError, ValueError)
# no compilation here (the built-in specs' kernels are cached): more examples than the spec fuzzer
MORE = settings(max_examples=4 * settings.default.max_examples)


@st.composite
def settings_(draw):
    """(spec name, params, rng, good steps to take first)."""
    n = draw(st.integers(1, 3))
    shapes = draw(st.lists(st.sampled_from(SHAPES), min_size=n, max_size=n))
    dtypes = draw(st.lists(st.sampled_from([np.float32, np.float64]), min_size=n, max_size=n))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    params = [rng.standard_normal(s).astype(d) for s, d in zip(shapes, dtypes)]
    return draw(st.sampled_from(SPECS)), params, rng, draw(st.integers(0, 2))


def grads_like(params, rng):
    return [rng.standard_normal(p.shape).astype(p.dtype) for p in params]


def assert_unchanged(params, saved, where):
    for i, (p, s) in enumerate(zip(params, saved)):
        np.testing.assert_array_equal(p, s, err_msg=f"{where}: params[{i}] changed")


def assert_same_checkpoint(a, b, where):
    assert a["t"] == b["t"], where
    assert a["host_states"] == b["host_states"], where
    for i, (x, y) in enumerate(zip(a["states"], b["states"])):
        assert sorted(x) == sorted(y), where
        for k in x:
            np.testing.assert_array_equal(x[k], y[k], err_msg=f"{where}: state {k!r} of tensor {i} changed")


def started(setting):
    """An optimizer and its oracle over copies of the same params, after the good steps."""
    name, params, rng, steps = setting
    mirror = [p.copy() for p in params]
    opt, ref = optgen.create(name, params), optgen.reference(name, mirror)
    for _ in range(steps):
        gr = grads_like(params, rng)
        opt.step(gr)
        ref.step([x.copy() for x in gr])
    return opt, ref, mirror


def assert_agree(params, mirror, where):
    for i, (a, b) in enumerate(zip(params, mirror)):
        scale = float(np.max(np.abs(b))) if b.size else 0.0
        rel = REL[a.dtype]
        np.testing.assert_allclose(a, b, rtol=rel, atol=rel * scale, err_msg=f"params[{i}] {where}")


def still_agrees(opt, ref, params, mirror, rng):
    gr = grads_like(params, rng)
    opt.step(gr)
    ref.step([x.copy() for x in gr])
    assert_agree(params, mirror, "after the refusal")


@MORE
@given(setting=settings_(), bad=st.sampled_from(menu(BAD_PARAM_ENTRIES)))
def test_create_refuses_bad_params(setting, bad, one_thread_module):
    name, params, _, _ = setting
    what, make = bad
    note(what)
    saved = [p.copy() for p in params]
    with pytest.raises(REFUSED):
        optgen.create(name, make(params))
    assert_unchanged(params, saved, what)


@MORE
@given(setting=settings_(), bad=st.sampled_from(menu(BAD_HYPER_VALUES)), hyper=st.sampled_from(["lr", "eps"]))
def test_create_refuses_bad_hyperparameters(setting, bad, hyper, one_thread_module):
    name, params, _, _ = setting
    what, value = bad
    note(what)
    saved = [p.copy() for p in params]
    with pytest.raises(REFUSED):
        optgen.create(name, params, **{hyper: value})
    assert_unchanged(params, saved, what)


@MORE
@given(setting=settings_(), bad=st.sampled_from(menu(BAD_GRAD_ENTRIES)))
def test_step_refuses_bad_gradients(setting, bad, one_thread_module):
    what, make = bad
    note(what)
    opt, ref, mirror = started(setting)
    params, rng = setting[1], setting[2]
    saved, sd = [p.copy() for p in params], copy.deepcopy(opt.state_dict())
    with pytest.raises(REFUSED):
        opt.step(make(grads_like(params, rng), params))
    assert_unchanged(params, saved, what)
    assert_same_checkpoint(opt.state_dict(), sd, what)
    still_agrees(opt, ref, params, mirror, rng)


@MORE
@given(setting=settings_(), bad=st.sampled_from(menu(BAD_CHECKPOINT_ENTRIES)))
def test_load_state_dict_refuses_bad_checkpoints(setting, bad, one_thread_module):
    what, make = bad
    note(what)
    opt, ref, mirror = started(setting)
    params, rng = setting[1], setting[2]
    other = optgen.create(setting[0], [p.copy() for p in params])   # a checkpoint of the same shapes,
    other.step(grads_like(params, rng))                               # from another trajectory
    saved, sd = [p.copy() for p in params], copy.deepcopy(opt.state_dict())
    with pytest.raises(REFUSED):
        opt.load_state_dict(make(other.state_dict()))
    assert_unchanged(params, saved, what)
    assert_same_checkpoint(opt.state_dict(), sd, what)
    assert opt.hypers == ref.state_dict()["hypers"] | opt.options, what
    still_agrees(opt, ref, params, mirror, rng)


@pytest.mark.skipif(known_bug("duplicate-params"), reason="known bug: duplicate-params (tests/fuzz/known_bugs.py)")
@MORE
@given(setting=settings_(), twice=st.integers(0, 2))
def test_the_same_array_twice_is_one_parameter(setting, twice, one_thread_module):
    """Tied weights (issue 10 #4): one state and one update, as the oracle over the array once."""
    name, params, rng, steps = setting
    mirror = [p.copy() for p in params]
    tied = params + [params[twice % len(params)]]
    opt, ref = optgen.create(name, tied), optgen.reference(name, mirror)
    for _ in range(steps + 1):
        gr = grads_like(params, rng)
        opt.step(gr + [gr[twice % len(params)]])
        ref.step([x.copy() for x in gr])
    assert_agree(params, mirror, "with a tied copy")
