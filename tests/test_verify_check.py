"""optgen.verify.check: each kind of claim, true and false; counterexamples checked independently."""
import numpy as np
import pytest
import sympy
from sympy import Eq, Interval, S, Sum

import optgen
from optgen.dsl import Spec, hyper, state, w, g, t
from optgen.spec import Hyper as H   # the specs' symbols are the claims' (a symbol is its name and kind)
from optgen.verify import (ERROR, FAIL, PASS, XFAIL, XPASS, ClosedForm, Equivalence, Expectation, Identity,
                           Limit, ScaleInvariance, Side, SolutionSet, run)
from optgen.verify.oracles import GRAD as G
from optgen.verify.symbols import sym

lr, mu = hyper("lr", 0.1, domain="positive"), hyper("momentum", 0.9, domain="[0, 1)")
v = state("v", 0)


def heavy_ball():       # v <- mu v - lr g, w <- w + v   (the blog post's form)
    return Spec("hb_test", [(v, mu * v - lr * g), (w, w + v)])


def heavy_ball_wrong():  # the velocity added before it is updated: a different method
    return Spec("hb_wrong_test", [(w, w + v), (v, mu * v - lr * g)])


def test_true_equivalence_is_proved_symbolically():
    c = Equivalence(name="hb", left=Side(heavy_ball), steps=4,
                    right=Side("momentum", hypers={"dampening": 0, "weight_decay": 0}),
                    observe=[("w", "w"), ("v", "-lr*buf")])
    r = run(c)
    assert r.outcome == PASS and r.method == "symbolic" and r.ok


def test_deliberately_wrong_equivalence_fails_with_a_counterexample_that_is_real():
    """The counterexample must be one: rerun both optimizers with the reference oracle there."""
    c = Equivalence(name="sgd_vs_scaled", left=Side("sgd"), right=Side("sgd", hypers={"lr": H("lr") * 1.001}),
                    steps=3)
    r = run(c)
    assert r.outcome == FAIL and not r.ok and r.first_step == 1 and r.counterexample
    cex = {k: float(v) for k, v in r.counterexample.items()}
    p1, p2 = [np.array([cex["w_0"]])], [np.array([cex["w_0"]])]
    hy = dict(lr=cex["lr"], weight_decay=cex["weight_decay"])
    a = optgen.reference("sgd", p1, **hy)
    b = optgen.reference("sgd", p2, **{**hy, "lr": hy["lr"] * 1.001})
    a.step([np.array([cex["g[1]"]])])
    b.step([np.array([cex["g[1]"]])])
    assert abs(p1[0][0] - p2[0][0]) > 1e-9
    assert p1[0][0] == pytest.approx(float(r.values["left"]), rel=1e-9)
    assert p2[0][0] == pytest.approx(float(r.values["right"]), rel=1e-9)


def test_first_difference_is_located_at_the_right_step():
    r = run(Equivalence(name="order", left=Side(heavy_ball), right=Side(heavy_ball_wrong), steps=3))
    assert r.outcome == FAIL and r.first_step == 1  # w_1 = w_0 + v_1 vs w_0 + v_0 = w_0


def test_xfail_outcomes():
    wrong = Equivalence(name="x", left=Side("sgd"), right=Side("sgd", hypers={"lr": 2 * H("lr")}),
                        steps=1, xfail="known")
    right = Equivalence(name="y", left=Side("sgd"), right=Side("sgd"), steps=1, xfail="claimed wrong")
    assert run(wrong).outcome == XFAIL and run(wrong).ok
    assert run(right).outcome == XPASS and not run(right).ok


def test_missing_spec_is_an_error_not_a_crash():
    r = run(Equivalence(name="missing", left=Side("no_such_optimizer"), right=Side("sgd")))
    assert r.outcome == ERROR and "no_such_optimizer" in r.error and not r.ok


def test_function_gradient_equivalence_and_state_map():
    # theta + mu v of the shifted form is the reparametrised iterate, for every F
    c = Equivalence(name="nag", left=Side(heavy_ball, grad_at=w + mu * v), right=Side("nesterov"),
                    grads="function", start="symbolic", steps=1,
                    state_map={"w": "w + momentum*v", "v": "v"}, observe=[("w + momentum*v", "w"), ("v", "v")])
    r = run(c)
    assert r.outcome == PASS and "for every k" in r.detail
    # the same without the shift is heavy ball, not Nesterov
    c2 = Equivalence(name="hb_not_nag", left=Side(heavy_ball), right=Side("nesterov"), grads="function",
                     steps=3, observe=[("w + momentum*v", "w")])
    assert run(c2).outcome == FAIL


def test_closed_form_by_induction_and_its_failure():
    b2, i = H("beta2"), sympy.Symbol("i", integer=True, nonnegative=True)
    adam = Side("adam", hypers={"weight_decay": 0})
    good = ClosedForm(name="v", side=adam, target="v", t=t,
                      closed=(1 - b2) * Sum(b2**i * G[t - i] ** 2, (i, 0, t - 1)))
    r = run(good)
    assert r.outcome == PASS and r.how.startswith("induction on t") and r.detail == "for every t"
    bad = ClosedForm(name="v_bad", side=adam, target="v", t=t,
                     closed=(1 - b2) * Sum(b2**(i + 1) * G[t - i] ** 2, (i, 0, t - 1)))
    r = run(bad)
    assert r.outcome == FAIL and r.first_step == 1
    cex = r.counterexample
    b, g1 = sympy.Rational(cex["beta2"]), sympy.Rational(cex["g[1]"])
    assert (1 - b) * g1**2 != (1 - b) * b * g1**2   # independent: v_1 by hand vs the wrong closed form


def test_identity_limit_expectation_solution_set():
    b = H("beta2")
    assert run(Identity(name="geo", lhs=Sum(b**sympy.Symbol("k", integer=True), (sympy.Symbol("k", integer=True), 0, t - 1)),
                        rhs=(1 - b**t) / (1 - b), assume_false=(Eq(b, 1),))).outcome == PASS
    r = run(Identity(name="bad", lhs=t**2, rhs=t + t))   # equal only at t = 2 (and 0)
    assert r.outcome == FAIL and sympy.Rational(r.counterexample["t"]) not in (0, 2)
    lam = sym("lam_test", positive=True)
    assert run(Limit(name="lim", expr=1 / t + 3, var=t, point=sympy.oo, value=3)).outcome == PASS
    assert run(Limit(name="lim_bad", expr=b**t, var=t, point=sympy.oo, value=1,
                     substitute={b: sympy.exp(-lam)})).outcome == FAIL
    s2 = sym("s2_test", positive=True)
    assert run(Expectation(name="e", expr=G[1] ** 2 + G[2] ** 2, value=2 * s2, moments={2: s2})).outcome == PASS
    assert run(Expectation(name="e_bad", expr=G[1] ** 2 + G[2] ** 2, value=s2, moments={2: s2})).outcome == FAIL
    x = sym("x_test")
    assert run(SolutionSet(name="s", condition=x**2 < 1, var=x, domain=S.Reals,
                           expected=Interval.open(-1, 1))).outcome == PASS
    r = run(SolutionSet(name="s_bad", condition=x**2 < 1, var=x, domain=S.Reals, expected=Interval.open(0, 1)))
    assert r.outcome == FAIL and -1 < r.counterexample["x_test"] <= 0


def test_scale_invariance_lemma_and_a_loss_that_is_not_scale_invariant():
    r = run(ScaleInvariance(name="lemma", dim=2))
    assert r.outcome == PASS and r.method == "symbolic"
    r = run(ScaleInvariance(name="not_si", dim=2, loss=lambda th: th[0] ** 2 + th[1] ** 2))
    assert r.outcome == FAIL and "hypothesis" in r.detail
