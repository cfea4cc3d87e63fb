"""optgen.verify.sums: sums over symbolic ranges (induction steps), expectations."""
import pytest
import sympy
from sympy import Eq, Sum

from optgen.verify.oracles import GRAD as G
from optgen.verify.sums import assume, combine_sums, expectation, freeze_powers
from optgen.verify.symbols import sym, t

b = sym("b")
i = sympy.Symbol("i", integer=True, nonnegative=True)


def ema(n):
    return (1 - b) * Sum(b**i * G[n - i] ** 2, (i, 0, n - 1))


def test_induction_step_of_the_ema_closes():
    # C(t+1) - (b C(t) + (1-b) g_{t+1}^2) = 0: different ranges and indices, one summand
    step = ema(t + 1) - (b * ema(t) + (1 - b) * G[t + 1] ** 2)
    assert combine_sums(step) == 0


def test_a_wrong_recursion_does_not_close():
    step = ema(t + 1) - (b * ema(t) + G[t + 1] ** 2)  # (1 - b) missing on the new term
    left = combine_sums(step)
    assert left != 0
    assert sympy.expand(left - (-b * G[t + 1] ** 2)) == 0  # exactly the missing term


def test_sums_over_other_shapes_are_left_alone():
    expr = Sum(b**i, (i, 0, t)) - Sum(b**i, (i, 0, t))
    assert combine_sums(expr) == 0
    assert combine_sums(sym("x") + 1) == sym("x") + 1


def test_freeze_powers_makes_symbolic_powers_polynomial():
    e = (1 - b) ** (t - 1) - b * (1 - b) ** (t - 1) - (1 - b) ** t
    assert sympy.expand(e) != 0
    assert sympy.cancel(freeze_powers(e)) == 0


def test_expectation_is_linear_and_uses_the_given_moments():
    s2, mu = sym("s2", positive=True), sym("mu")
    e = expectation(ema(t), {2: s2}, G)
    closed = assume(e.doit(), [Eq(b, 1)])
    assert sympy.cancel(closed - (1 - b**t) * s2) == 0
    assert expectation(3 * G[1] + 2, {1: mu}, G) == 3 * mu + 2


def test_expectation_refuses_unknown_moments():
    with pytest.raises(ValueError, match="product of random atoms"):
        expectation(G[1] * G[2], {1: 0, 2: 1}, G)
    with pytest.raises(ValueError, match="no moment of order 3"):
        expectation(G[1] ** 3, {2: 1}, G)


def test_assume_drops_degenerate_branches():
    pw = sympy.Piecewise((t, Eq(b, 1)), ((1 - b**t) / (1 - b), True))
    assert assume(pw, [Eq(b, 1)]) == (1 - b**t) / (1 - b)
