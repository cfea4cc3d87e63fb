"""Claims: the derivations of the source texts, as data.

A claim says something checkable about specs or about formulas. The verifier
(:mod:`.check`) decides it; the report (:mod:`.report`) prints it; the tests read
the expected outcomes. Claims live in ``optgen/specs/derivations/*.py`` (a module-level
list named ``claims``) or in a spec's ``claims`` field.

Kinds
-----
:class:`Equivalence`
    two formulations (:class:`~optgen.verify.unroll.Side`) unrolled for k steps
    produce equal observables (default: the parameter) for every gradient
    sequence / gradient function; or differ by exactly a stated ``residual``.
:class:`ClosedForm`
    a closed form in ``t`` equals a spec's recursion (or a given recursion):
    by induction on symbolic ``t``, and for every ``t <= k`` by unrolling.
:class:`Identity`
    ``lhs = rhs`` as formulas (sums evaluated), for symbolic ``t`` or ``t <= k``.
:class:`Limit`
    ``lim expr = value``.
:class:`Expectation`
    ``E[expr] = value`` given the moments of the random atoms.
:class:`SolutionSet`
    ``{x in domain : condition} = expected set`` (e.g. where ``r_t`` is real).
:class:`ScaleInvariance`
    for a loss with ``L(c theta) = L(theta)``: ``<grad L, theta> = 0`` and
    ``grad L(c theta) = grad L(theta) / c``.
:class:`Bound`
    ``low <= f^n(x) <= high`` for every ``x`` in an interval: a map iterated ``n`` times
    (Newton–Schulz's quintic on a singular value), checked numerically on dense grids.

Every claim may be marked ``xfail="why"``: it is *expected to fail* (a misprint
in a source text), and the verifier must find the counterexample.
"""
from __future__ import annotations

import dataclasses
from typing import Any, ClassVar

import sympy

from .unroll import Side

__all__ = ["Claim", "Equivalence", "ClosedForm", "Identity", "Limit", "Expectation",
           "SolutionSet", "ScaleInvariance", "Bound", "Result", "PASS", "FAIL", "XFAIL", "XPASS", "ERROR"]

PASS, FAIL, XFAIL, XPASS, ERROR = "PASS", "FAIL", "XFAIL", "XPASS", "ERROR"


def evaluated(x):
    """A claim's expression, or a function returning one (evaluated at check time,
    e.g. an intermediate read from a spec that may not load)."""
    return sympy.sympify(x() if callable(x) and not isinstance(x, sympy.Basic) else x)


@dataclasses.dataclass(kw_only=True)
class Claim:
    """Common fields: a unique ``name``, a one-line ``statement``, where it comes
    from (``source``), the specs it is about (``about``), and ``xfail`` (the reason
    it is expected to fail, or None)."""

    kind: ClassVar[str] = "claim"
    name: str
    statement: str = ""
    source: str = ""
    about: tuple = ()
    xfail: str | None = None
    latex: str | None = None     # the claim as LaTeX for the report (else derived)
    origin: str = ""             # the file it was loaded from (set by the loader)
    declarations: dict = dataclasses.field(default_factory=dict)  # what that file declares (name -> Declaration)

    def specs(self) -> list[str]:
        return list(self.about)

    @property
    def expects(self) -> str:
        return "fail" if self.xfail else "hold"


@dataclasses.dataclass(kw_only=True)
class Equivalence(Claim):
    """``left`` and ``right`` give equal observables for ``steps`` steps.

    ``observe``: pairs ``(left expression, right expression)`` in each side's
    symbols (strings name a symbol: ``"w"``, a state, an intermediate); the
    default compares the parameters. ``grads``: ``"sequence"``, ``"function"`` or
    ``"scale_invariant"`` (see :mod:`.oracles`); ``dim``: components of the
    parameter. ``start="symbolic"``: one or more steps from arbitrary states at an
    arbitrary step ``T`` (``T + start_offset``: e.g. 1 to stay past a spec's
    ``t = 1`` special case) instead of from the inits at ``t = 1``.
    ``residual``: an expression in the left side's symbols, the claimed
    difference ``left - right`` of the first observable (a proved residual).
    ``substitute``: applied to each difference before it is tested (to state
    assumptions, e.g. ``beta2**T -> 1 - c2`` with ``c2 > 0``); ``ranges`` and
    ``fixed`` constrain the random points of the numeric checks. ``atomize`` maps
    a state name to ``"positive"`` or ``"real"``: its new value after each step
    becomes an atom shared by both sides when provably equal (see
    :class:`~optgen.verify.oracles.Atoms`), so the claim is about every value of
    that state (e.g. every second moment ``v > 0``). ``state_map`` gives the
    right side's initial values (``"w"`` or a state name) as expressions in the
    left side's symbols: with ``start="symbolic"`` it relates the two state spaces
    (Nesterov's ``u = theta + alpha v``); from the inits it overrides the right's.
    """

    kind: ClassVar[str] = "equivalence"
    left: Side
    right: Side
    steps: int = 3
    observe: list = dataclasses.field(default_factory=lambda: [("w", "w")])
    grads: str = "sequence"
    dim: int = 1
    start: Any = "init"
    start_offset: int = 0
    residual: Any = None
    substitute: dict = dataclasses.field(default_factory=dict)
    ranges: dict = dataclasses.field(default_factory=dict)
    fixed: dict = dataclasses.field(default_factory=dict)
    atomize: dict = dataclasses.field(default_factory=dict)
    state_map: dict = dataclasses.field(default_factory=dict)

    def specs(self) -> list[str]:
        return [*self.about, *self.left.spec_names(), *self.right.spec_names()]


@dataclasses.dataclass(kw_only=True)
class ClosedForm(Claim):
    """``target`` after step ``t`` equals ``closed`` (an expression in ``t``).

    The recursion comes from ``side`` (one step of its equations from symbolic
    states), or is given: ``recurrence`` is an expression for the new value in
    terms of ``previous`` (the value before the step) and ``t``, with the value
    ``initial`` before the first step. ``t`` is the symbol ``closed`` uses;
    ``assume_false`` lists conditions to take as false (``Eq(beta2, 1)``).
    ``steps``: also check ``t = 1..steps`` by unrolling. ``at`` and ``bind`` check
    the closed form at step ``at(n)`` of the side, with extra atoms bound from the
    trajectory (``bind(trajectory, n) -> {atom: value}``), for ``n = 1..steps``.
    """

    kind: ClassVar[str] = "closed form"
    closed: Any
    t: Any
    target: str = "w"
    side: Side | None = None
    recurrence: Any = None
    previous: Any = None
    initial: Any = 0
    steps: int = 4
    assume_false: tuple = ()
    at: Any = None
    bind: Any = None
    induction: bool = True

    def specs(self) -> list[str]:
        return [*self.about, *(self.side.spec_names() if self.side else [])]


@dataclasses.dataclass(kw_only=True)
class Identity(Claim):
    """``lhs = rhs``. Sums are evaluated (``doit``), ``assume_false`` conditions
    dropped, ``substitute`` applied. If ``t`` is given and no proof for symbolic
    ``t`` is found, each ``t = 1..steps`` is checked instead (and reported so)."""

    kind: ClassVar[str] = "identity"
    lhs: Any
    rhs: Any
    t: Any = None
    steps: int = 6
    assume_false: tuple = ()
    substitute: dict = dataclasses.field(default_factory=dict)
    ranges: dict = dataclasses.field(default_factory=dict)


@dataclasses.dataclass(kw_only=True)
class Limit(Claim):
    """``lim_{var -> point} expr = value``; ``substitute`` may reparametrise a
    symbol to encode its domain (``beta2 = exp(-lam)``, ``lam > 0``, for
    ``0 < beta2 < 1``)."""

    kind: ClassVar[str] = "limit"
    expr: Any
    var: Any
    point: Any
    value: Any
    substitute: dict = dataclasses.field(default_factory=dict)


@dataclasses.dataclass(kw_only=True)
class Expectation(Claim):
    """``E[expr] = value`` where ``E[base[j]**k] = moments[k]`` for every ``j``."""

    kind: ClassVar[str] = "expectation"
    expr: Any
    value: Any
    moments: dict
    base: Any = None
    assume_false: tuple = ()


@dataclasses.dataclass(kw_only=True)
class SolutionSet(Claim):
    """``{var in domain : condition} = expected``."""

    kind: ClassVar[str] = "solution set"
    condition: Any
    var: Any
    domain: Any
    expected: Any


@dataclasses.dataclass(kw_only=True)
class ScaleInvariance(Claim):
    """The lemma of the note on exponential learning rates for ``loss`` (a function of a list of ``dim`` symbols;
    default: ``F(theta / |theta|)`` with ``F`` uninterpreted, which is every
    scale-invariant loss). Checks the hypothesis ``L(c theta) = L(theta)`` for
    ``c > 0`` and both conclusions."""

    kind: ClassVar[str] = "loss property"
    dim: int = 3
    loss: Any = None


@dataclasses.dataclass(kw_only=True)
class Bound(Claim):
    """``band[0] <= f^iterations(x) <= band[1]`` for every ``x`` in ``interval`` (closed), where ``f`` is
    ``expr`` as a function of ``var``. Decided numerically: on ``points`` points of a linear and of a
    geometric grid of the interval and at its ends, in float64 (a symbolic proof of a bound on
    an iterated polynomial of degree 5^n is out of SymPy's reach); the report gives the range found."""

    kind: ClassVar[str] = "bound"
    expr: Any
    var: Any
    interval: tuple
    band: tuple
    iterations: int = 1
    points: int = 200_001


@dataclasses.dataclass
class Result:
    """What the verifier found about one claim."""

    claim: Claim
    holds: bool | None            # True: shown; False: refuted; None: undecided / error
    method: str                   # "symbolic" or "numeric" (with details in ``how``)
    how: str = ""
    detail: str = ""
    counterexample: dict | None = None
    first_step: int | None = None
    difference: Any = None        # a SymPy expression (shown in the report) or None
    values: dict | None = None    # e.g. {"left": ..., "right": ...} at the counterexample
    seconds: float = 0.0
    error: str | None = None

    @property
    def outcome(self) -> str:
        if self.error is not None or self.holds is None:
            return ERROR
        if self.claim.xfail:
            return XPASS if self.holds else XFAIL
        return PASS if self.holds else FAIL

    @property
    def ok(self) -> bool:
        """The outcome is the expected one (PASS, or XFAIL for an expected failure)."""
        return self.outcome in (PASS, XFAIL)

    def __str__(self) -> str:
        return details(self)

    def counterexample_text(self) -> str:
        if not self.counterexample:
            return ""
        return ", ".join(f"{k} = {short_value(v)}" for k, v in sorted(self.counterexample.items(), key=lambda kv: str(kv[0])))


def short_value(v) -> str:
    v = sympy.sympify(v)
    if v.is_Rational:
        return str(v) if len(str(v)) <= 12 else f"{float(v):.6g}"
    if v.is_number:
        c = complex(v)
        return f"{c.real:.6g}" if c.imag == 0 else f"{c.real:.6g}{c.imag:+.6g}i"
    return str(v)


def details(r) -> str:
    """A few lines on what was found (for failures, errors, and -v)."""
    out = [f"{r.claim.name}: {r.outcome} ({r.method}: {r.how})"]
    if r.claim.statement:
        out.append(f"  claim: {r.claim.statement}")
    if r.claim.xfail:
        out.append(f"  expected to fail: {r.claim.xfail}")
    if r.error:
        out.append(f"  error: {r.error}")
    if r.detail:
        out.append(f"  {r.detail}")
    if r.counterexample:
        out.append(f"  counterexample: {r.counterexample_text()}")
    if r.values:
        out.append("  values there: " + ", ".join(f"{k} = {short_value(v)}" for k, v in r.values.items()))
    if r.difference is not None:
        out.append(f"  difference: {r.difference}")
    return "\n".join(out)
