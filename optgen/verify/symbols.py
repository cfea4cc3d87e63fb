"""The verifier's own symbols, and random values drawn from the symbols' domains.

A claim is written in the symbols the specs are written in: ``optgen.dsl``'s
``w``, ``g``, ``t``, ``hyper(...)``, ``state(...)`` and ``var(...)``. A symbol is its
name and kind (see :mod:`optgen.symbols`), the same object in every spec and every
claim, so unrolling two specs and comparing them needs no translation. What is
declared about a hyperparameter (its domain) is in the declarations of the specs
and of the claims file (:func:`domains_of`); :func:`sym` makes a symbol that only
a claim uses (``T``, ``sigma2``), with a LaTeX name for the report.

:class:`Sampler` gives every free symbol of an expression a random value inside
its domain (a hyperparameter's declared domain; a positive symbol gets a positive
value; an integer one a small integer). The values are exact rationals with
small denominators, so an expression without radicals evaluates *exactly*; with
radicals (or exp, log, tanh, ...) the values enter as 50-digit floats (mpmath, through
SymPy), since exact nested radicals grow without bound.
"""
from __future__ import annotations

import math
import random
from typing import Iterable

import sympy

from ..symbols import g, t, w
from ..validate import ELEMENTWISE

__all__ = ["sym", "domains_of", "claim_domains", "variables", "LATEX", "Sampler", "latex", "PREC", "w", "g", "t"]

PREC = 50  # decimal digits of the numeric checks

#: LaTeX names of the symbols made by :func:`sym` (a claim's own; the specs' are in their declarations)
LATEX: dict[str, str] = {}


def sym(name: str, latex: str | None = None, **assumptions) -> sympy.Symbol:
    """A plain verification symbol (``real=True`` unless other assumptions are given)."""
    if latex:
        LATEX.setdefault(name, latex)
    return sympy.Symbol(name, **(assumptions or {"real": True}))


def domains_of(*tables) -> dict:
    """``{symbol: Domain}`` of the hyperparameters declared in ``tables`` (each name -> Declaration),
    narrowed to the intersection where several declare one (two specs a claim compares)."""
    out: dict = {}
    for table in tables:
        for decl in (table or {}).values():
            if decl.kind == "hyper":
                s = decl.symbol
                out[s] = out[s].narrowed(decl.domain) if s in out else decl.domain
    return out


def claim_domains(claim, specs=()) -> dict:
    """The declared domains of the hyperparameters a claim samples: those of the specs it unrolls
    and of the specs it is about (narrowed where they differ), and those its own file declares."""
    from ..registry import load_spec
    tables = [s.declarations for s in specs]
    for name in claim.specs():
        try:
            tables.append(load_spec(name).declarations)
        except Exception:  # a spec that does not load: its own claims report it
            continue
    return domains_of(*tables, claim.declarations)


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
    """LaTeX of ``expr``: a declared symbol by ``names`` (symbol -> LaTeX: the declarations of
    the specs a claim is about, then of its file), a :func:`sym` symbol by :data:`LATEX`."""
    expr = sympy.sympify(expr)
    chosen = {}
    for s in getattr(expr, "free_symbols", ()):
        if names and s in names:
            chosen[s] = names[s]
        elif type(s) is sympy.Symbol and s.name in LATEX:
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
    ``fixed`` maps symbols to given values. ``domains`` maps hyperparameters to their
    declared domains (:func:`domains_of`).
    """

    def __init__(self, seed: int = 0, ranges: dict | None = None, fixed: dict | None = None,
                 t_max: int = 12, domains: dict | None = None):
        self.rng = random.Random(seed)
        self.domains = dict(domains or {})
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
        d = self.domains.get(s)
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


# the functions a spec may use (optgen.validate) whose value at a rational is not rational
TRANSCENDENTAL = (sympy.exp, sympy.log, *ELEMENTWISE)


def _irrational(expr) -> bool:
    """Has a radical or a transcendental function (its value at rationals is not rational)."""
    for node in sympy.preorder_traversal(expr):
        if node.is_Pow and not node.exp.is_Integer and not (node.exp.is_Symbol or node.exp.is_Add):
            return True
        if isinstance(node, TRANSCENDENTAL):
            return True
    return False
