"""optgen.verify.prove: symbolic zero tests, numeric screens, counterexamples."""

import pytest
import sympy

from optgen.verify.prove import Timeout, check_zero, numeric_zero, samplers_for, symbolic_zero, time_limit
from optgen.verify.symbols import Sampler, sym

a, b = sym("a"), sym("b")
beta = sym("beta", positive=True)
T = sym("T", integer=True, positive=True)


@pytest.mark.parametrize("expr,step", [
    (a - a, "structural"),
    ((a + b) ** 2 - a**2 - 2 * a * b - b**2, None),
    (1 / (1 - beta) - (1 + beta) / (1 - beta**2), None),
    (beta**(T - 1) * beta - beta**T, None),
    (sympy.sqrt(a**2 / beta**2) - sympy.sqrt(a**2) / beta, None),
])
def test_identities_are_proved_symbolically(expr, step):
    found = symbolic_zero(expr)
    assert found is not None
    if step:
        assert found == step


def test_nonzero_is_not_proved_and_has_a_checked_counterexample():
    expr = (a + b) ** 2 - a**2 - b**2  # = 2ab
    assert symbolic_zero(expr) is None
    proof = check_zero(expr)
    assert proof.holds is False and proof.method == "numeric"
    cex = proof.counterexample
    # independent check: 2ab at the reported point, in plain Python fractions
    assert cex[a] * cex[b] * 2 == proof.value != 0


def test_numeric_only_when_no_symbolic_step_applies():
    x = sym("x")
    expr = sympy.sin(x) ** 2 + sympy.cos(x) ** 2 - 1
    proof = check_zero(expr, allow_simplify=False)
    assert proof.holds is True and proof.method == "numeric" and "50-digit" in proof.how
    assert check_zero(expr).method == "symbolic"  # simplify knows it


def test_numeric_zero_reports_the_values_used():
    zero, cex, value, how = numeric_zero(a - b, samplers_for(3))
    assert not zero and set(cex) == {a, b} and value == cex[a] - cex[b]
    zero, cex, value, how = numeric_zero(a * (b + 1) - a * b - a, samplers_for(3))
    assert zero and cex is None and "exact" in how


def test_undefined_points_are_skipped():
    s = Sampler(seed=0, fixed={a: 0})
    zero, cex, _, how = numeric_zero(1 / a, [s])
    assert not zero and cex is None and "no point" in how
    assert check_zero(1 / a, [s]).holds is None


def test_time_limit_interrupts():
    with pytest.raises(Timeout):
        with time_limit(0.2):
            while True:
                pass


def test_time_limits_nest():
    """An inner limit that swallows its Timeout does not cancel the outer one."""
    with pytest.raises(Timeout):
        with time_limit(0.3):
            try:
                with time_limit(10):
                    while True:
                        pass
            except Timeout:
                pass  # the outer deadline interrupted the inner block; the outer re-fires
            while True:
                pass
    inner_fired = False
    with time_limit(10):
        try:
            with time_limit(0.05):
                while True:
                    pass
        except Timeout:
            inner_fired = True
    assert inner_fired
