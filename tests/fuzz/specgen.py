"""Random specs for the fuzzer: hypothesis strategies that write a spec file.

A fuzzed spec is the text of a spec file (so a failing example prints a file that
reproduces it) plus the values given to ``create``. Its equations form a random
DAG over ``w``, ``g``, ``t``, hyperparameters, states (element states, host
states, states that start from ``w`` or ``g``), named intermediates, build-time
options, host conditions (``Eq(t, 1)``, ``t > 2``, ``Mod(t, 2) > 0``, a
hyperparameter against a constant), per-element and per-tensor conditions, and
per-tensor reductions (``norm``, ``tensor_sum``, reductions of reductions).

The expressions are kept numerically tame, so that a float32 kernel and the
float64 oracle stay within a rounding-sized distance and a tolerance comparison
means something: every value carries a bound on its magnitude, a value whose
bound grows past ``LIMIT`` is squashed smoothly (``L tanh(x / L)``),
denominators are a positive constant or hyperparameter plus a square, and states
are contractions (``c s + (1 - c) e`` with ``0 <= c < 1``) or maxima. The only
discontinuous functions (``sign``, ``floor``, per-element conditions) read the
gradient, which kernel and oracle see bit for bit.
"""
from __future__ import annotations

import dataclasses
import hashlib
import re

from hypothesis import strategies as st

from known_bugs import known_bug
from fuzz_names import allowed_pool, must_refuse, refused_pool

LIMIT = 8.0          # values past this bound are squashed back under it
MAX_ELEMENTS = 65    # the largest tensor the runner draws (a bound for tensor sums)

DOMAINS = {  # domain -> the range values are drawn from (inside the domain, tame)
    "positive": (0.1, 1.0),
    "[0, 1)": (0.0, 0.9),
    "nonnegative": (0.0, 1.0),
    "real": (-1.0, 1.0),
}


@dataclasses.dataclass
class FuzzSpec:
    """A spec file's text and what ``create`` is given; ``refused`` names the disallowed name, if any."""

    name: str
    text: str
    given: dict
    refused: str | None = None

    def __repr__(self) -> str:  # what hypothesis prints for a failing example: the reproduction
        return f"FuzzSpec {self.name} given={self.given!r} refused={self.refused!r}\n{self.text}"


class Decay:
    """A schedule ``base * t / (t + 1)``: inside [0, 1) and (0, inf) whenever ``base`` is."""

    def __init__(self, base: float):
        self.base = base

    def value(self, t: int) -> float:
        return self.base * t / (t + 1)

    def __repr__(self) -> str:
        return f"Decay({self.base!r})"


@dataclasses.dataclass
class Value:
    """An expression's source text, a bound on its magnitude, and whether it varies per element."""

    text: str
    bound: float
    varies: bool = False

    def _replace_varies(self, varies: bool) -> "Value":
        return dataclasses.replace(self, varies=self.varies or varies)


def squash(text: str, limit: float) -> str:
    """``limit * tanh(x / limit)``, written with ``x`` once (SymPy has no tanh in the spec language)."""
    return f"{limit} * (2 / (1 + exp(-2 * ({text}) / {limit})) - 1)"


def tame(v: Value, limit: float = LIMIT) -> Value:
    """``v`` if its bound is within ``limit``, else squashed smoothly under it."""
    return v if v.bound <= limit else Value(squash(v.text, limit), limit, v.varies)


class Scope:
    """What an equation may read: element, host and per-tensor values, by source name."""

    def __init__(self, hypers: list, options: list):
        self.hypers = hypers              # [(variable, domain)]
        self.options = options            # [variable]
        self.element = [Value("w", 4.0, True), Value("g", 4.0, True)]
        self.host = [Value("1 / t", 1.0), Value("Rational(1, 3)", 1.0), Value("2", 2.0)]
        self.tensor: list[Value] = []
        for var, domain in hypers:
            self.host.append(Value(var, 1.0))
            if domain == "[0, 1)":
                self.host.append(Value(f"{var}**t", 1.0))
                self.host.append(Value(f"1 / (1 - {var}**t)", 10.0))

    def decays(self) -> list[str]:
        return [v for v, d in self.hypers if d == "[0, 1)"] + ["0.5", "Rational(9, 10)"]

    def positives(self) -> list[str]:
        return [v for v, d in self.hypers if d == "positive"] + ["1", "Rational(1, 2)"]


@st.composite
def host_condition(draw, scope: Scope) -> str:
    forms = ["Eq(t, 1)", "t > 2", "Mod(t, 2) > 0"]
    forms += [f"Gt({v}, 0.5)" for v, _ in scope.hypers] + [f"Eq({v}, 0)" for v, d in scope.hypers if d != "positive"]
    forms += list(scope.options)
    return draw(st.sampled_from(forms))


@st.composite
def condition(draw, scope: Scope) -> str:
    kinds = ["host", "host", "element", "tensor"] + ([] if known_bug("oracle-mixed-conditions") else ["or"])
    kind = draw(st.sampled_from(kinds))
    if kind == "element":
        return draw(st.sampled_from(["g > 0", "Abs(g) > 1", "g < Rational(-1, 2)"]))
    if kind == "tensor" and scope.tensor:
        r = draw(st.sampled_from(scope.tensor)).text
        return draw(st.sampled_from([f"Eq({r}, 0)", f"{r} > 1"]))
    if kind == "or":
        return f"({draw(host_condition(scope))}) | (g > 0)"
    return draw(host_condition(scope))


@st.composite
def leaf(draw, scope: Scope, host_only: bool = False) -> Value:
    pools = [scope.host] if host_only else [scope.element, scope.element, scope.host] + (
        [scope.tensor] if scope.tensor else [])
    pool = draw(st.sampled_from(pools))
    if not host_only and draw(st.integers(0, 9)) == 0:
        return draw(st.sampled_from([Value("sign(g)", 1.0, True), Value("floor(4 * g) / 8", 2.0, True)]))
    return draw(st.sampled_from(pool))


@st.composite
def expression(draw, scope: Scope, depth: int = 3, host_only: bool = False) -> Value:
    """A random bounded expression of what ``scope`` holds."""
    if depth == 0 or draw(st.integers(0, 3)) == 0:
        return draw(leaf(scope, host_only))
    sub = lambda: draw(expression(scope, depth - 1, host_only))  # noqa: E731
    kind = draw(st.sampled_from(["add", "sub", "mul", "hmul", "squash", "ratio", "sqrt", "exp", "log",
                                 "max", "min", "square", "when", "abs"]))
    a = sub()
    b = sub() if kind in ("add", "sub", "mul", "max", "min", "ratio", "when") else Value("0", 0.0)
    return _combine(draw, kind, a, b, scope, host_only)._replace_varies(a.varies or b.varies)


def _combine(draw, kind: str, a: Value, b: Value, scope: Scope, host_only: bool) -> Value:
    """The node ``kind`` over ``a`` (and ``b``), its bound, squashed if it grew past LIMIT."""
    if kind == "add":
        return tame(Value(f"{a.text} + {b.text}", a.bound + b.bound))
    if kind == "sub":
        return tame(Value(f"{a.text} - ({b.text})", a.bound + b.bound))
    if kind == "mul":
        return tame(Value(f"({a.text}) * ({b.text})", a.bound * b.bound))
    if kind == "hmul":
        h = draw(expression(scope, 1, host_only=True))
        return tame(Value(f"({h.text}) * ({a.text})", h.bound * a.bound))
    if kind == "squash":
        return Value(squash(a.text, 1), 1.0)
    if kind == "ratio":
        d = draw(st.sampled_from(scope.positives()))
        return tame(Value(f"({a.text}) / ({d} + ({b.text})**2)", a.bound * 10))
    if kind == "sqrt":
        d = draw(st.sampled_from(scope.positives()))
        return tame(Value(f"sqrt({d} + ({a.text})**2)", a.bound + 1))
    if kind == "exp":
        return Value(f"exp(-Abs({a.text}))", 1.0)
    if kind == "log":
        return Value(f"log(1 + ({a.text})**2)", 2 * a.bound)
    if kind == "max":
        return Value(f"Max({a.text}, {b.text})", max(a.bound, b.bound))
    if kind == "min":
        return Value(f"Min({a.text}, {b.text})", max(a.bound, b.bound))
    if kind == "square":
        return tame(Value(f"({a.text})**2", a.bound**2))
    if kind == "abs":
        return Value(f"Abs({a.text})", a.bound)
    # when
    c = draw(host_condition(scope)) if host_only else draw(condition(scope))
    return Value(f"when({c}, {a.text}, {b.text})", max(a.bound, b.bound))


STATE_INITS = ["0", "0", "1", "Abs(g)", "w", "g / 2"]


@st.composite
def state_update(draw, scope: Scope, var: str) -> Value:
    """A contraction or a running maximum of ``var``; host-only ones become host states."""
    host_only = draw(st.integers(0, 4)) == 0
    e = tame(draw(expression(scope, 2, host_only=host_only)), 4.0)
    form = draw(st.sampled_from(["ema", "ema", "max", "when"]))
    c = draw(st.sampled_from(scope.decays()))
    if form == "max":
        return Value(f"Max({var}, {e.text})", 4.0)
    if form == "when":
        cond = draw(host_condition(scope))
        return Value(f"when({cond}, {e.text}, {c} * {var} + (1 - {c}) * ({e.text}))", 4.0)
    return Value(f"{c} * {var} + (1 - {c}) * ({e.text})", 4.0)


@st.composite
def intermediate(draw, scope: Scope) -> tuple[Value, str]:
    """(value, level): an element value, a host value, a reduction (of a summand with a
    per-tensor factor too) or a trust ratio."""
    kinds = ["element", "element", "host", "norm", "sum"] + (["ratio", "scaled"] if scope.tensor else [])
    kind = draw(st.sampled_from(kinds))
    if kind == "element":
        return tame(draw(expression(scope))), "element"
    if kind == "host":
        return tame(draw(expression(scope, 2, host_only=True))), "host"
    e = tame(draw(expression(scope, 2)), 4.0)
    if not e.varies and known_bug("oracle-constant-tensor-sum"):
        e = Value(f"({e.text}) * exp(-Abs(g))", e.bound, True)
    if kind == "norm":
        return Value(f"norm({e.text})", 4.0 * MAX_ELEMENTS**0.5), "tensor"
    if kind == "sum":
        return Value(f"tensor_sum({e.text}) / {MAX_ELEMENTS}", 4.0), "tensor"
    if kind == "scaled":  # a per-tensor factor in the summand: compiler/factor_sums.py takes it out
        r = draw(st.sampled_from(scope.tensor))
        return tame(Value(f"tensor_sum(({r.text}) * ({e.text})) / {MAX_ELEMENTS}", 4.0 * r.bound)), "tensor"
    r1, r2 = draw(st.sampled_from(scope.tensor)), draw(st.sampled_from(scope.tensor))
    d = draw(st.sampled_from(scope.positives()))
    return tame(Value(f"when(Eq({r1.text}, 0), 1, {r1.text} / ({d} + {r2.text}))", r1.bound / 0.1)), "tensor"


@st.composite
def hyper_decl(draw) -> tuple[str, float, object]:
    """(domain, default, value given to create: a number, a schedule, or None for the default)."""
    domain = draw(st.sampled_from(sorted(DOMAINS)))
    lo, hi = DOMAINS[domain]
    number = st.floats(lo, hi).map(lambda x: round(x, 4))  # no subnormals, short reproductions
    default = draw(number)
    how = draw(st.sampled_from(["default", "number", "number", "schedule"]))
    given = None if how == "default" else draw(number)
    if how == "schedule" and domain != "real":
        given = Decay(max(given, lo if lo > 0 else 0.1))
    return domain, default, given


@st.composite
def fuzz_spec(draw) -> FuzzSpec:
    """A random spec file and the hyperparameters given to ``create``."""
    n_hypers, n_options = draw(st.integers(1, 3)), draw(st.integers(0, 1))
    n_states, n_vars = draw(st.integers(1, 3)), draw(st.integers(0, 3))
    total = n_hypers + n_options + n_states + n_vars
    names = draw(st.lists(st.sampled_from(allowed_pool()), min_size=total, max_size=total, unique=True))
    refused = None
    if draw(st.integers(0, 7)) == 0:  # one name the spec language must refuse
        refused = draw(st.sampled_from(refused_pool()))
        names[draw(st.integers(0, total - 1))] = refused
    hypers = [(f"H{i}", *draw(hyper_decl())) for i in range(n_hypers)]
    options = [(f"O{i}", draw(st.booleans()), draw(st.sampled_from([None, False, True])))
               for i in range(n_options)]
    scope = Scope([(var, domain) for var, domain, _, _ in hypers], [var for var, _, _ in options])
    scope.element += [Value(f"S{i}", 4.0, True) for i in range(n_states)]
    inits = [draw(st.sampled_from(STATE_INITS)) for _ in range(n_states)]

    targets = [f"S{i}" for i in range(n_states)] + [f"V{i}" for i in range(n_vars)]
    targets = draw(st.permutations(targets))
    if n_states and draw(st.booleans()):
        targets.append(draw(st.sampled_from([f"S{i}" for i in range(n_states)])))  # a state assigned twice
    equations = []
    for target in targets:
        if target.startswith("S"):
            equations.append((target, draw(state_update(scope, target)).text))
            continue
        value, level = draw(intermediate(scope))
        equations.append((target, value.text))
        {"element": scope.element, "host": scope.host, "tensor": scope.tensor}[level].append(
            Value(target, value.bound, level == "element"))
    lr = draw(st.sampled_from(scope.positives()))
    if draw(st.integers(0, 3)) == 0:  # decoupled weight decay: w assigned twice
        equations.append(("w", f"w * (1 - {lr} * {draw(st.sampled_from(scope.decays()))} / 10)"))
    step = tame(draw(expression(scope)), 4.0)
    equations.append(("w", f"w - {lr} / 10 * ({step.text})"))

    eqs = "\n".join(f"    ({lhs}, {rhs})," for lhs, rhs in equations)
    used = set(re.findall(r"\b[HOSV]\d+\b", eqs))
    variables = ([var for var, *_ in hypers] + [var for var, *_ in options]
                 + [f"S{i}" for i in range(n_states)] + [f"V{i}" for i in range(n_vars)])
    symbol = dict(zip(variables, names))
    if refused is not None and not any(symbol[v] == refused for v in used):  # an unused hyper: not in the spec
        unused = next(v for v in variables if symbol[v] == refused)
        symbol[unused], symbol["S0"] = symbol["S0"], refused
    lines, given = [], {}
    for var, domain, default, value in hypers:
        lines.append(f"{var} = hyper({symbol[var]!r}, {default!r}, domain={domain!r})")
        if value is not None and var in used:
            given[symbol[var]] = value
    for var, default, value in options:
        lines.append(f"{var} = option({symbol[var]!r}, {default!r})")
        if value is not None and var in used:
            given[symbol[var]] = value
    lines += [f"S{i} = state({symbol[f'S{i}']!r}, {init})" for i, init in enumerate(inits)]
    lines += [f"V{i} = var({symbol[f'V{i}']!r})" for i in range(n_vars)]
    body = "\n".join(lines)
    digest = hashlib.sha256((body + eqs).encode()).hexdigest()[:12]
    name = f"fz_{digest}"
    text = (f'"""A fuzzed spec (tests/fuzz/specgen.py)."""\n{SPEC_IMPORTS}\n\n{body}\n\n'
            f"spec = Spec({name!r}, [\n{eqs}\n])\n")
    assert refused is None or must_refuse(refused)
    return FuzzSpec(name, text, given, refused)


SPEC_IMPORTS = ("from optgen.dsl import (Spec, hyper, option, state, var, when, tensor_sum, norm, w, g, t, "
           "sqrt, exp, log, Abs, Max, Min, sign, Mod, Eq, Gt, Rational)\nfrom sympy import floor")
