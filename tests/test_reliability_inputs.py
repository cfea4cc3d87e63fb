"""Inputs that used to give wrong numbers without a word, or change state before failing.

Expected values are hand derivations (SGD with lr = 1 from w = 0 gives
w = -(sum of the gradients)) or the reference oracle on the untied parameters.
"""
from __future__ import annotations

import copy

import numpy as np
import pytest

import optgen
from optgen.spec import SpecError


# -- a gradient's contents are read at every step ---------------------------------------

@pytest.mark.parametrize("layout", ["strided view", "fortran order"])
def test_a_persistent_gradient_buffer_updated_in_place_is_read_every_step(layout, one_thread):
    w = np.zeros((3, 4))
    opt = optgen.create("sgd", [w], lr=1.0)
    if layout == "strided view":
        buffer = np.zeros((3, 8))
        grad = buffer[:, ::2]                      # one view object, given at every step
    else:
        buffer = grad = np.asfortranarray(np.zeros((3, 4)))
    assert not grad.flags.c_contiguous
    for value in (1.0, 2.0, 3.0):
        buffer[...] = value                         # the buffer is updated in place
        opt.step([grad])
    np.testing.assert_array_equal(w, np.full((3, 4), -6.0))   # -(1 + 2 + 3)


def test_a_contiguous_gradient_buffer_updated_in_place_is_read_every_step(one_thread):
    w, grad = np.zeros(5, np.float32), np.zeros(5, np.float32)
    opt = optgen.create("sgd", [w], lr=1.0)
    for value in (1.0, 2.0, 3.0):
        grad[...] = value
        opt.step([grad])
    np.testing.assert_array_equal(w, np.full(5, -6.0, np.float32))


def test_a_strided_gradient_then_a_contiguous_one_at_the_same_position(one_thread):
    w = np.zeros((2, 3))
    opt = optgen.create("sgd", [w], lr=1.0)
    opt.step([np.ones((2, 6))[:, ::2]])
    opt.step([np.full((2, 3), 2.0)])
    opt.step([np.full((2, 6), 3.0)[:, 1::2]])
    np.testing.assert_array_equal(w, np.full((2, 3), -6.0))


# -- the gradients' types ------------------------------------------------------------------

def test_none_as_a_gradient_names_its_index(one_thread):
    opt = optgen.create("sgd", [np.zeros(3), np.zeros(2)], lr=1.0)
    with pytest.raises(TypeError, match=r"grads\[1\] is None; a numpy array of shape \(2,\) and dtype float64"):
        opt.step([np.ones(3), None])


def test_a_torch_tensor_as_a_gradient_names_its_index_and_the_way_out(one_thread):
    torch = pytest.importorskip("torch")
    w = np.zeros(3, np.float32)
    opt = optgen.create("sgd", [w], lr=1.0)
    with pytest.raises(TypeError, match=r"grads\[0\] is a torch.Tensor; a numpy array .*tensor.numpy\(\)"):
        opt.step([torch.ones(3)])
    np.testing.assert_array_equal(w, np.zeros(3, np.float32))


# -- tied weights and overlapping views ---------------------------------------------------

def test_the_same_array_twice_is_updated_once(one_thread):
    a = np.zeros(4)
    g = np.arange(4.0)
    opt = optgen.create("sgd", [a, a], lr=1.0)
    opt.step([g, g])
    opt.step([g, g])
    np.testing.assert_array_equal(a, -2 * g)       # two steps of w -= g, not four


def test_tied_adam_matches_the_oracle_on_the_untied_parameters(one_thread):
    rng = np.random.default_rng(3)
    a, b = rng.standard_normal(6), rng.standard_normal((2, 3))
    ref_a, ref_b = a.copy(), b.copy()
    opt = optgen.create("adam", [a, b, a], lr=0.1)
    ref = optgen.reference("adam", [ref_a, ref_b], lr=0.1)
    for _ in range(3):
        ga, gb = rng.standard_normal(6), rng.standard_normal((2, 3))
        opt.step([ga, gb, ga])
        ref.step([ga, gb])
    np.testing.assert_allclose(a, ref_a, rtol=1e-12)
    np.testing.assert_allclose(b, ref_b, rtol=1e-12)
    sd = opt.state_dict()                          # by the user's positions: 2 is a copy of 0
    for s in ("m", "v"):
        np.testing.assert_allclose(sd["states"][2][s], ref.states[0][s], rtol=1e-12)
        np.testing.assert_array_equal(sd["states"][2][s], sd["states"][0][s])


def test_a_second_view_of_the_same_memory_is_the_same_parameter(one_thread):
    a = np.zeros(3)
    opt = optgen.create("sgd", [a, a[...]], lr=1.0)
    g = np.ones(3)
    opt.step([g, g[...]])                          # a new view of one gradient: the same gradient
    np.testing.assert_array_equal(a, -np.ones(3))


def test_different_gradients_for_one_tied_parameter_are_refused(one_thread):
    a = np.zeros(3)
    opt = optgen.create("sgd", [a, a], lr=1.0)
    with pytest.raises(ValueError, match=r"params\[0\] and params\[1\] are the same array .*grads\[0\] and "
                                         r"grads\[1\] differ"):
        opt.step([np.ones(3), np.ones(3)])
    np.testing.assert_array_equal(a, np.zeros(3))
    assert opt.t == 0


@pytest.mark.parametrize("views", ["partial overlap", "other shape"])
def test_overlapping_views_are_refused_naming_both_indices(views):
    buffer = np.zeros(20)
    params = ([np.zeros(2), buffer[:10], buffer[5:15]] if views == "partial overlap"
              else [np.zeros(2), buffer[:6].reshape(2, 3), buffer[:6]])
    with pytest.raises(ValueError, match=r"params\[1\] and params\[2\] overlap in memory but are not the same"):
        optgen.create("sgd", params, lr=1.0)


def test_empty_arrays_never_overlap(one_thread):
    buffer = np.zeros(4)
    optgen.create("sgd", [buffer[:0], buffer[:0], buffer[0:0], buffer], lr=1.0).step(
        [np.zeros(0), np.zeros(0), np.zeros(0), np.ones(4)])
    np.testing.assert_array_equal(buffer, -np.ones(4))


def test_a_checkpoint_whose_tied_copies_disagree_is_refused(one_thread):
    a = np.zeros(3)
    opt = optgen.create("adam", [a, a])
    g = np.ones(3)
    opt.step([g, g])
    sd = copy.deepcopy(opt.state_dict())
    sd["states"][1]["m"] = sd["states"][1]["m"] + 1
    with pytest.raises(ValueError, match=r"tensors 0 and 1 are one tied parameter .* state 'm' differs"):
        opt.load_state_dict(sd)


# -- load_state_dict: everything checked first, nothing changed on failure -----------------

def _adam_after_two_steps():
    params = [np.linspace(-1, 1, 5, dtype=np.float32), np.ones((2, 2), np.float32)]
    opt = optgen.create("adam", params, lr=0.01)
    for k in range(2):
        opt.step([np.full(5, k + 1.0, np.float32), np.full((2, 2), -1.0, np.float32)])
    return opt, params


def _snapshot(opt, params):
    return copy.deepcopy(opt.state_dict()), [p.copy() for p in params]


def _assert_unchanged(opt, params, before):
    sd, values = before
    after = opt.state_dict()
    assert after["t"] == sd["t"] and after["hypers"] == sd["hypers"]
    for st_after, st_before in zip(after["states"], sd["states"]):
        for s in st_before:
            np.testing.assert_array_equal(st_after[s], st_before[s])
    for p, v in zip(params, values):
        np.testing.assert_array_equal(p, v)


def _other_checkpoint():
    """A valid checkpoint that differs from _adam_after_two_steps' in every part."""
    opt, _ = _adam_after_two_steps()
    opt.step([np.full(5, 9.0, np.float32), np.full((2, 2), 9.0, np.float32)])
    opt.set_hyper("lr", 0.5)
    return copy.deepcopy(opt.state_dict())


def _drop_t(sd):
    del sd["t"]


@pytest.mark.parametrize("damage,error,message", [
    (_drop_t, ValueError, "lacks the step 't'"),
    (lambda sd: sd.update(t=-4), ValueError, r"t=-4; the step must be a whole number >= 0"),
    (lambda sd: sd.update(t=2.7), ValueError, r"t=2.7; the step must be a whole number"),
    (lambda sd: sd.update(t="3"), ValueError, r"t='3'; the step must be a whole number"),
    (lambda sd: sd.update(t=True), ValueError, r"t=True"),
    (lambda sd: sd["hypers"].update(lr=float("nan")), SpecError, r"lr=nan \(in the state_dict.*is not finite"),
    (lambda sd: sd["hypers"].update(lr=-5.0), SpecError, r"lr=-5.0 \(in the state_dict.*outside its domain positive"),
    (lambda sd: sd["hypers"].update(beta1=1.0), SpecError, r"beta1=1.0 .*outside its domain \[0, 1\)"),
    (lambda sd: sd["hypers"].update(lr="fast"), SpecError, r"lr='fast' .*must be a real number"),
    (lambda sd: sd["hypers"].update(lr=lambda t: -1.0), SpecError, r"schedule's value at t=4, from the state_dict"),
    (lambda sd: sd["hypers"].update(nosuch=1.0), SpecError, r"unknown hyperparameter 'nosuch'"),
    (lambda sd: sd["states"][1].update(m=sd["states"][1]["m"].astype(np.float64)), TypeError,
     r"tensor 1 state 'm' has dtype float64; params\[1\] is float32"),
    (lambda sd: sd["states"].pop(), ValueError, r"state_dict has 1 tensors, optimizer has 2"),
    (lambda sd: sd.update(states=None), ValueError, r"state_dict\['states'\] must be a list"),
    (lambda sd: sd["states"].__setitem__(0, 7), ValueError, r"tensor 0 is int, not a dict of states"),
    (lambda sd: sd.update(host_states={"mu": 1.0}), ValueError, r"unknown host state\(s\) \['mu'\]"),
])
def test_a_bad_checkpoint_is_refused_and_changes_nothing(damage, error, message, one_thread):
    opt, params = _adam_after_two_steps()
    before = _snapshot(opt, params)
    sd = _other_checkpoint()
    damage(sd)
    with pytest.raises(error, match=message):
        opt.load_state_dict(sd)
    _assert_unchanged(opt, params, before)


def test_a_checkpoint_that_is_not_a_dict_is_refused(one_thread):
    opt, _ = _adam_after_two_steps()
    with pytest.raises(TypeError, match="needs the dict state_dict\\(\\) returns, not list"):
        opt.load_state_dict([1, 2])


def test_a_whole_float_step_and_a_good_checkpoint_load(one_thread):
    opt, _ = _adam_after_two_steps()
    sd = _other_checkpoint()
    sd["t"] = 3.0
    opt.load_state_dict(sd)
    assert opt.t == 3 and opt.hypers["lr"] == 0.5
