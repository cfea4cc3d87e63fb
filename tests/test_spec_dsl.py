"""The spec data model and the spec language."""
import numpy as np
import pytest
import sympy

from optgen.dsl import Spec, hyper, norm, option, state, tensor_sum, var, when, g, t, w
from optgen.spec import Domain, SpecError, TensorSum


@pytest.mark.parametrize("text,inside,outside", [
    ("positive", [1e-9, 3.0], [0.0, -1.0]),
    ("nonnegative", [0.0, 2.0], [-1e-12]),
    ("[0, 1)", [0.0, 0.5], [1.0, -0.1]),
    ("(0, 1]", [1.0, 1e-6], [0.0, 1.1]),
    ("positive_integer", [1, 5], [0, 1.5]),
])
def test_domain_membership(text, inside, outside):
    d = Domain.parse(text)
    assert all(d.contains(x) for x in inside)
    assert not any(d.contains(x) for x in outside)
    assert not d.contains(float("nan")) and not d.contains(float("inf"))


def test_unknown_domain_is_refused():
    with pytest.raises(SpecError, match="unknown domain"):
        Domain.parse("sometimes")


def test_same_hyper_name_in_two_specs_keeps_each_default():
    a = hyper("lr", 1e-3)
    first = Spec("first_lr", [(w, w - a * g)])
    b = hyper("lr", 1e-1)
    second = Spec("second_lr", [(w, w - b * g)])
    assert a is b  # a symbol is its name and kind; the default is the spec's declaration
    assert (first.hypers, second.hypers) == ({"lr": 1e-3}, {"lr": 1e-1})


def test_hypers_in_declaration_order_and_options_resolve():
    beta = hyper("beta", 0.9, domain="[0, 1)", doc="order test: first")
    lr = hyper("lr", 0.1, domain="positive", doc="order test: second")
    flip = option("flip", False, doc="order test")
    m = state("m")
    d = var("d")
    spec = Spec("toy", [(d, when(flip, -g, g)), (m, beta * m + d), (w, w - lr * m)])
    assert list(spec.hypers) == ["beta", "lr", "flip"]
    on = spec.resolve(flip=True)
    assert on.equations[0][1] == -g
    assert spec.resolve(flip=False).equations[0][1] == g
    with pytest.raises(SpecError, match="unknown option"):
        spec.resolve(nesterov=True)


def test_norm_is_sqrt_of_tensor_sum_of_squares():
    e = norm(w)
    assert e == sympy.sqrt(TensorSum(w**2))
    assert tensor_sum(g).func is TensorSum
