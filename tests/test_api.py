"""The public API refuses bad input clearly, before touching anything."""
import numpy as np
import pytest

import optgen
from optgen.spec import SpecError


@pytest.fixture
def params():
    rng = np.random.default_rng(0)
    return [rng.standard_normal((4, 3)).astype(np.float32), rng.standard_normal(5).astype(np.float32)]


def test_names_and_load_spec():
    names = optgen.names()
    assert names == sorted(names) and "adam" in names
    spec = optgen.load_spec("adam")
    assert spec.hypers["lr"] == 1e-3 and spec.hypers["amsgrad"] is False


@pytest.mark.parametrize("hypers,message", [
    ({"lr": -1.0}, "lr=-1.0 is outside its domain positive"),
    ({"beta1": 1.5}, r"beta1=1.5 is outside its domain \[0, 1\)"),
    ({"lr": "fast"}, "must be a real number"),
    ({"lr": float("nan")}, "is not finite"),
    ({"amsgrad": "yes"}, "must be True or False"),
    ({"momentum": 0.9}, "unknown hyperparameter 'momentum'"),
])
@pytest.mark.parametrize("make", [optgen.create, optgen.reference])
def test_bad_hyperparameters_are_refused_naming_file_and_value(params, hypers, message, make):
    before = [p.copy() for p in params]
    with pytest.raises(SpecError, match=message) as err:
        make("adam", params, **hypers)
    assert "specs/adam.py" in str(err.value)
    for a, b in zip(params, before):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("grads,error,message", [
    (lambda p: [np.zeros((4, 3), np.float32)], ValueError, "got 1 gradients for 2 parameters"),
    (lambda p: [np.zeros((3, 4), np.float32), np.zeros(5, np.float32)], ValueError, r"grads\[0\] has shape \(3, 4\)"),
    (lambda p: [np.zeros((4, 3)), np.zeros(5, np.float32)], TypeError, r"grads\[0\] has dtype float64"),
    (lambda p: np.zeros(5, np.float32), TypeError, "list of arrays"),
])
def test_bad_gradients_are_refused_and_params_untouched(params, grads, error, message):
    opt = optgen.create("adam", params)
    before = [p.copy() for p in params]
    with pytest.raises(error, match=message):
        opt.step(grads(params))
    for a, b in zip(params, before):
        np.testing.assert_array_equal(a, b)
    assert opt.t == 0


def test_bad_params_are_refused():
    with pytest.raises(TypeError, match="dtype int64"):
        optgen.create("adam", [np.zeros(3, np.int64)])
    with pytest.raises(ValueError, match="not C-contiguous"):
        optgen.create("adam", [np.zeros((4, 4))[:, 1]])
    with pytest.raises(TypeError, match="not one array"):
        optgen.create("adam", np.zeros(3))
    with pytest.raises(ValueError, match="unknown device"):
        optgen.create("adam", [np.zeros(3)], device="tpu")


def test_mixed_dtypes_are_grouped_and_each_matches_the_oracle(params):
    rng = np.random.default_rng(1)
    p = params + [rng.standard_normal(6)]
    q = [a.copy() for a in p]
    opt, ref = optgen.create("adam", p, lr=0.01), optgen.reference("adam", q, lr=0.01)
    for _ in range(25):
        g = [rng.standard_normal(a.shape).astype(a.dtype) for a in p]
        opt.step(g)
        ref.step(g)
    np.testing.assert_allclose(p[0], q[0], rtol=2e-5, atol=2e-6)
    np.testing.assert_allclose(p[2], q[2], rtol=1e-10, atol=1e-12)


def test_schedule_as_hyperparameter_and_set_hyper():
    rng = np.random.default_rng(2)
    p = [rng.standard_normal(10)]
    q = [p[0].copy()]
    schedule = lambda t: 0.1 / t  # noqa: E731 - any callable of t is a schedule
    opt, ref = optgen.create("adam", p, lr=schedule), optgen.reference("adam", q, lr=schedule)
    for _ in range(10):
        g = [rng.standard_normal(10)]
        opt.step(g)
        ref.step(g)
    np.testing.assert_allclose(p[0], q[0], rtol=1e-10)
    opt.set_hyper("lr", 0.5)
    assert opt.hypers["lr"] == 0.5
    with pytest.raises(SpecError, match="outside its domain"):
        opt.set_hyper("lr", -0.5)
    with pytest.raises(SpecError, match="build-time option"):
        opt.set_hyper("amsgrad", True)


def test_a_step_from_gradient_addresses_is_the_step(one_thread):
    """optgen.torch's entry: the gradients' base addresses instead of arrays. SGD with lr 0.5 from
    w = 1 and g = 1, 2 takes w to 0.5, 0 (by hand); wrong counts and the policies that need the
    gradients as arrays are refused, and nothing moves."""
    w = [np.ones(3), np.ones((2, 2))]
    grads = [np.ones(3), np.full((2, 2), 2.0)]
    opt = optgen.create("sgd", w, lr=0.5)
    opt.step_addresses([g.__array_interface__["data"][0] for g in grads])
    assert np.all(w[0] == 0.5) and np.all(w[1] == 0.0) and opt.t == 1
    with pytest.raises(ValueError, match="got 1 gradient addresses for 2 parameters"):
        opt.step_addresses([grads[0].__array_interface__["data"][0]])
    skip = optgen.create("sgd", [np.ones(3)], nonfinite="skip")
    with pytest.raises(ValueError, match="needs nonfinite='propagate'"):
        skip.step_addresses([grads[0].__array_interface__["data"][0]])
    assert opt.t == 1 and skip.t == 0
