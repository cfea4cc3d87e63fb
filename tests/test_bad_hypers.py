"""Bad hyperparameter values are refused, naming the spec file and the value, with
the parameters untouched.

For every spec: a negative lr, every hyperparameter just outside each finite end
of its domain (beta1 = 1.5 among them), a wrong type, non-finite values, an
unknown name and a non-boolean option, through both ``optgen.create`` and
``optgen.reference``; and a schedule that leaves its domain mid-run, through
``step`` (the step is refused before anything is written).
"""
from __future__ import annotations

import math

import numpy as np
import pytest

import optgen
from optgen.spec import SpecError

MAKERS = {"create": optgen.create, "reference": optgen.reference}


def out_of_domain(h) -> list[float]:
    """Values just outside each finite end of a hyperparameter's domain."""
    d, out = h.domain, []
    if math.isfinite(d.low):
        out.append(d.low - 0.5 if d.low_closed else d.low)
    if math.isfinite(d.high):
        out.append(d.high + 0.5 if d.high_closed else d.high)
    return [v for v in out if not d.contains(v)]


def bad_values():
    """(spec, {name: value}, words the message must contain)."""
    cases = []
    for name in optgen.names():
        spec = optgen.load_spec(name)
        hypers = spec.declared("hyper")
        for h in hypers:
            for v in out_of_domain(h):
                cases.append((name, {h.name: v}, [f"{h.name}={v!r}", "outside its domain", h.domain.text]))
        if any(h.name == "lr" for h in hypers):
            cases.append((name, {"lr": -1.0}, ["lr=-1.0", "outside its domain"]))
        if any(h.name == "beta1" for h in hypers):
            cases.append((name, {"beta1": 1.5}, ["beta1=1.5", "outside its domain"]))
        if hypers:
            first = hypers[0].name
            cases.append((name, {first: "fast"}, [f"{first}='fast'", "must be a real number", "str"]))
            cases.append((name, {first: [0.1]}, [f"{first}=[0.1]", "must be a real number", "list"]))
            cases.append((name, {first: True}, [f"{first}=True", "must be a real number", "bool"]))
            for v in (math.nan, math.inf, -math.inf):
                cases.append((name, {first: v}, [f"{first}={v!r}", "not finite"]))
        cases.append((name, {"no_such_hyper": 0.1}, ["unknown hyperparameter 'no_such_hyper'"]))
        for o in spec.option_symbols:
            per_tensor = spec.declarations[o.name].factor_min_dim is not None  # set from each shape
            cases.append((name, {o.name: "yes"}, [f"{o.name}='yes'", "cannot be given" if per_tensor
                                                  else "must be True or False"]))
    return cases


BAD = bad_values()


def _id(case):
    name, given, _ = case
    return name + "-" + "-".join(f"{k}={v!r}" for k, v in given.items())


@pytest.fixture
def params():
    rng = np.random.default_rng(7)
    return [rng.standard_normal((3, 2)).astype(np.float32), rng.standard_normal(5)]


def test_every_spec_has_bad_cases():
    names = {name for name, _, _ in BAD}
    assert names == set(optgen.names())
    assert any(given == {"beta1": 1.5} for _, given, _ in BAD)


@pytest.mark.parametrize("maker", list(MAKERS))
@pytest.mark.parametrize("case", BAD, ids=_id)
def test_bad_value_is_refused_naming_file_and_value(case, maker, params):
    name, given, words = case
    spec = optgen.load_spec(name)
    before = [p.copy() for p in params]
    with pytest.raises(SpecError) as err:
        MAKERS[maker](name, params, **given)
    message = str(err.value)
    assert spec.source and spec.source.endswith(".py") and spec.source in message, message
    for word in words:
        assert word in message, f"{word!r} not in {message!r}"
    for p, b in zip(params, before):
        assert p.dtype == b.dtype
        np.testing.assert_array_equal(p, b)


@pytest.mark.parametrize("maker", list(MAKERS))
def test_a_schedule_leaving_its_domain_refuses_the_step_before_writing(maker, params):
    lr = lambda t: 0.1 if t < 3 else -0.1  # noqa: E731 - a schedule is any callable of t
    opt = MAKERS[maker]("adam", params, lr=lr)
    grads = [np.ones_like(p) for p in params]
    opt.step(grads)
    opt.step(grads)
    before = [p.copy() for p in params]
    with pytest.raises(SpecError, match=r"specs/adam\.py.*lr=-0\.1.*at t=3.*outside its domain"):
        opt.step(grads)
    assert opt.t == 2
    for p, b in zip(params, before):
        np.testing.assert_array_equal(p, b)


def test_set_hyper_refuses_bad_values_and_keeps_the_old_one(params):
    opt = optgen.create("rmsprop", params, lr=0.1)
    with pytest.raises(SpecError, match=r"specs/rmsprop\.py.*alpha=2\.0.*outside its domain"):
        opt.set_hyper("alpha", 2.0)
    with pytest.raises(SpecError, match="centered is a build-time option"):
        opt.set_hyper("centered", True)
    assert opt.hypers["alpha"] == 0.99 and opt.hypers["lr"] == 0.1
