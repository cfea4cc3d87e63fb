"""Canonical symbols for verification, and random values drawn from their domains.

Two specs that both declare ``lr`` mean the same quantity when a claim compares
them, but their :class:`~optgen.spec.Hyper` objects differ (they carry their own
default, domain and doc). Before unrolling, every declared symbol is replaced by a
*canonical* symbol chosen by name alone:

* a hyperparameter ``lr``       -> ``Symbol("lr", real=True)`` (its domain is recorded
  in :data:`DOMAINS` for sampling, its LaTeX name in :data:`LATEX` for the report);
* the parameter, the gradient, the step -> ``w``, ``g``, ``t``;
* a state ``m``                 -> ``Symbol("m", real=True)`` (LaTeX: its name, since
  two specs may print one state differently, e.g. objax calls Adam's m "v").

:class:`Sampler` gives every free symbol of an expression a random value inside
its domain (a hyperparameter's declared domain; a positive symbol gets a positive
value; an integer one a small integer). The values are exact rationals with
small denominators, so an expression without radicals evaluates *exactly*; with
radicals (or exp, log) the values enter as 50-digit floats (mpmath, through
SymPy), since exact nested radicals grow without bound.
"""
from __future__ import annotations

import math
import random
from typing import Iterable

import sympy

from ..spec import Domain, Grad, Hyper, Option, Param, State, Step

__all__ = ["canon", "hyper", "sym", "set_latex", "variables", "DOMAINS", "LATEX", "Sampler", "latex", "PREC"]

PREC = 50  # decimal digits of the numeric checks

DOMAINS: dict[str, Domain] = {}
LATEX: dict[str, str] = {}

w = sympy.Symbol("w", real=True)
g = sympy.Symbol("g", real=True)
t = sympy.Symbol("t", integer=True, positive=True)


def _narrow(a: Domain, b: Domain) -> Domain:
    """The intersection of two interval domains (for a name declared twice)."""
    low, lc = (a.low, a.low_closed) if a.low > b.low or (a.low == b.low and not a.low_closed) else (b.low, b.low_closed)
    high, hc = (a.high, a.high_closed) if a.high < b.high or (a.high == b.high and not a.high_closed) else (b.high, b.high_closed)
    return Domain(f"{a.text} & {b.text}", low, high, lc, hc, a.integer or b.integer)


def hyper(name: str, domain: str | Domain | None = None, latex: str | None = None) -> sympy.Symbol:
    """The canonical symbol of hyperparameter ``name`` (optionally recording its domain)."""
    if domain is not None:
        d = Domain.parse(domain) if isinstance(domain, str) else domain
        DOMAINS[name] = _narrow(DOMAINS[name], d) if name in DOMAINS else d
    if latex:
        LATEX.setdefault(name, latex)
    return sympy.Symbol(name, real=True)


def set_latex(name: str, latex: str) -> None:
    """Fix the LaTeX name of a canonical symbol (the first declaration wins otherwise)."""
    LATEX[name] = latex


def sym(name: str, latex: str | None = None, **assumptions) -> sympy.Symbol:
    """A plain verification symbol (``real=True`` unless other assumptions are given)."""
    if latex:
        LATEX.setdefault(name, latex)
    return sympy.Symbol(name, **(assumptions or {"real": True}))


def canon(expr, extra: dict | None = None):
    """``expr`` with every declared spec symbol replaced by its canonical symbol."""
    expr = sympy.sympify(expr)
    repl = {}
    for s in expr.free_symbols:
        if isinstance(s, Hyper):
            repl[s] = hyper(s.name, s.domain, s.latex_name)
        elif isinstance(s, Param):
            repl[s] = w
        elif isinstance(s, Grad):
            repl[s] = g
        elif isinstance(s, Step):
            repl[s] = t
        elif isinstance(s, State):   # by name only: specs give one state different LaTeX names
            repl[s] = sym(s.name)
        elif isinstance(s, Option):
            raise TypeError(f"option {s.name} must be resolved before verification")
    if extra:
        repl.update(extra)
    return expr.xreplace(repl) if repl else expr


def variables(expr) -> set:
    """The free symbols of ``expr`` that take values: Indexed atoms such as ``g[3]``
    count, the labels of their bases (``g``) do not."""
    expr = sympy.sympify(expr)
    free = set(expr.free_symbols)
    for ix in expr.atoms(sympy.Indexed):
        free.discard(ix.base.label)
        free -= ix.base.label.free_symbols
    return free


def latex(expr, names: dict | None = None) -> str:
    """LaTeX of ``expr`` with the LaTeX names of canonical symbols (``names``, by
    symbol name, first: e.g. those of the spec a claim is about; then :data:`LATEX`)."""
    expr = sympy.sympify(expr)
    chosen = {}
    for s in getattr(expr, "free_symbols", ()):
        if names and s.name in names:
            chosen[s] = names[s.name]
        elif s.name in LATEX:
            chosen[s] = LATEX[s.name]
    return sympy.latex(expr, symbol_names=chosen)


# --- random values ----------------------------------------------------------------

def _rational(x: float, den: int = 97) -> sympy.Rational:
    return sympy.Rational(round(x * den), den)


class Sampler:
    """Random exact values for free symbols, respecting their domains.

    ``ranges`` maps a symbol to ``(low, high)`` (numbers or expressions in other
    symbols, evaluated once those have values), for a symbol whose admissible
    range depends on another (e.g. a growth rate between the momentum and 1).
    ``fixed`` maps symbols to given values.
    """

    def __init__(self, seed: int = 0, ranges: dict | None = None, fixed: dict | None = None,
                 t_max: int = 12):
        self.rng = random.Random(seed)
        self.ranges = dict(ranges or {})
        self.values: dict = {k: sympy.sympify(v) for k, v in (fixed or {}).items()}
        self.t_max = t_max

    def value(self, s: sympy.Symbol):
        if s not in self.values:
            self.values[s] = self._draw(s)
        return self.values[s]

    def assign(self, symbols: Iterable[sympy.Symbol]) -> dict:
        symbols = sorted(set(symbols), key=lambda s: (s in self.ranges, str(s)))
        for s in symbols:
            self.value(s)
        return self.values

    def _draw(self, s: sympy.Symbol):
        r = self.rng
        if s in self.ranges:
            for b in self.ranges[s]:
                for f in variables(b):
                    self.value(f)
            lo, hi = (float(sympy.sympify(b).xreplace(self.values)) for b in self.ranges[s])
            return _rational(lo + (hi - lo) * r.uniform(0.1, 0.9), 997)
        if s.is_integer:
            low = 1 if s.is_positive else (0 if s.is_nonnegative else -self.t_max)
            return sympy.Integer(r.randint(low, self.t_max))
        d = DOMAINS.get(getattr(s, "name", None) or str(s))
        if d is not None:
            lo = d.low if math.isfinite(d.low) else (d.high - 3 if math.isfinite(d.high) else -2.0)
            hi = d.high if math.isfinite(d.high) else lo + (3 if math.isfinite(d.low) else 4)
            if d.integer:
                return sympy.Integer(r.randint(max(1, math.ceil(lo)), max(1, math.ceil(lo)) + 4))
            x = lo + (hi - lo) * r.uniform(0.05, 0.95)
            return _rational(x, 97 if hi - lo > 0.5 else 997)
        if s.is_positive or s.is_nonnegative:
            return _rational(r.uniform(0.2, 2.0))
        return _rational(r.uniform(-2.0, 2.0)) or sympy.Rational(1, 3)

    def evaluate(self, expr, prec: int = PREC):
        """``expr`` at the sampled values: exact when rational, else ``prec`` digits."""
        expr = sympy.sympify(expr)
        self.assign(variables(expr))
        values = self.values
        if _irrational(expr):  # exact algebraic numbers would nest without bound: use floats
            values = {k: (sympy.Float(v, prec) if v.is_Rational and not v.is_Integer else v)
                      for k, v in values.items()}
        val = expr.xreplace(values)
        if variables(val):
            raise ValueError(f"cannot evaluate {val}: free symbols {val.free_symbols}")
        if val.is_Rational:
            return val
        return val.evalf(prec)


def _irrational(expr) -> bool:
    """Has a radical or a transcendental function (its value at rationals is not rational)."""
    for node in sympy.preorder_traversal(expr):
        if node.is_Pow and not node.exp.is_Integer and not (node.exp.is_Symbol or node.exp.is_Add):
            return True
        if isinstance(node, (sympy.exp, sympy.log, sympy.sin, sympy.cos)):
            return True
    return False
