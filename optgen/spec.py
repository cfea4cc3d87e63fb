"""The spec data model: what a spec file declares.

A :class:`Spec` is data. The compiler, the reference oracle, the docs and the
verifier all read the same object; nothing downstream is special-cased by name.

Symbols
-------
``w``  the parameter (one element of one tensor);
``g``  the gradient of the loss at ``w``;
``t``  the 1-based step counter (``t = 1`` on the first step).
:class:`Hyper` symbols carry a default, a LaTeX name, a domain and a doc line.
:class:`Option` symbols are booleans resolved at build time into separate kernels.
:class:`State` symbols are per-element buffers owned by the optimizer.
Any other symbol assigned in the equations is a named intermediate.
"""
from __future__ import annotations

import dataclasses
import itertools
import math
from typing import Any, Iterable, Sequence

import sympy

__all__ = [
    "Param", "Grad", "Step", "Hyper", "Option", "State", "TensorSum",
    "Spec", "SpecError", "SpecWarning", "Domain", "w", "g", "t",
]


class SpecError(ValueError):
    """A spec (or a value given for it) is invalid; the message names where and why."""


class SpecWarning(UserWarning):
    """A spec is valid but probably not what its author meant (e.g. a state never assigned)."""


class Param(sympy.Symbol):
    """The parameter being optimised (per element)."""


class Grad(sympy.Symbol):
    """The gradient (per element). Read-only."""


class Step(sympy.Symbol):
    """The 1-based step counter. Read-only."""


w = Param("w", real=True)
g = Grad("g", real=True)
t = Step("t", integer=True, positive=True)


# --- domains -----------------------------------------------------------------

@dataclasses.dataclass(frozen=True, order=True)
class Domain:
    """A set of allowed real values, written like ``"positive"`` or ``"[0, 1)"``.

    Ordered because SymPy orders a product's factors by comparing the symbols'
    hashable content field by field, with ``>``, even when they are equal: two uses
    of one hyperparameter reach its domain (``sqrt(a + eps) / sqrt(b + eps)``)."""

    text: str
    low: float = -math.inf
    high: float = math.inf
    low_closed: bool = False
    high_closed: bool = False
    integer: bool = False

    @classmethod
    def parse(cls, text: str) -> "Domain":
        s = text.strip()
        named = {
            "real": cls(s),
            "positive": cls(s, low=0.0),
            "nonnegative": cls(s, low=0.0, low_closed=True),
            "negative": cls(s, high=0.0),
            "positive_integer": cls(s, low=1.0, low_closed=True, integer=True),
            "nonnegative_integer": cls(s, low=0.0, low_closed=True, integer=True),
            "integer": cls(s, integer=True),
        }
        if s in named:
            return named[s]
        if len(s) >= 5 and s[0] in "[(" and s[-1] in "])" and "," in s:
            lo, hi = (p.strip() for p in s[1:-1].split(",", 1))
            try:
                low = -math.inf if lo in ("-inf", "") else float(lo)
                high = math.inf if hi in ("inf", "") else float(hi)
            except ValueError:
                pass
            else:
                return cls(s, low, high, s[0] == "[", s[-1] == "]")
        raise SpecError(
            f"unknown domain {text!r}: use one of {sorted(named)} or an interval "
            "such as '[0, 1)' or '(0, inf)'")

    def contains(self, value: float) -> bool:
        if not math.isfinite(value):
            return False
        if self.integer and value != int(value):
            return False
        above = value >= self.low if self.low_closed else value > self.low
        below = value <= self.high if self.high_closed else value < self.high
        return above and below


# --- declared symbols ----------------------------------------------------------

# Declared symbols carry metadata (default, domain, doc), so they bypass SymPy's
# symbol cache (``Symbol.__xnew__``) and compare equal only when their metadata is
# equal too: SymPy caches expressions, and an ``lr * g`` built for one spec must
# not hand its ``lr`` (with that spec's default) to another spec. Two specs that
# declare ``lr`` identically share the symbol; the verifier matches by name.

_declaration_order = itertools.count()


class Hyper(sympy.Symbol):
    """A real hyperparameter: a host value, fixed or a schedule in ``t``."""

    default: float
    latex_name: str
    domain: Domain
    doc: str

    def __new__(cls, name: str, default: float, latex: str | None = None,
                domain: str = "real", doc: str = ""):
        obj = sympy.Symbol.__xnew__(cls, name, real=True)
        obj.default = default
        obj.order = next(_declaration_order)
        obj.latex_name = latex or name
        obj.domain = Domain.parse(domain)
        obj.doc = doc
        return obj

    def _hashable_content(self):
        return super()._hashable_content() + (self.default, self.latex_name, self.domain, self.doc)

    def _latex(self, printer):  # SymPy's LatexPrinter hook
        return self.latex_name


class Option(sympy.Symbol):
    """A boolean that changes the algorithm's structure; resolved at build time."""

    default: bool
    doc: str

    def __new__(cls, name: str, default: bool = False, doc: str = ""):
        obj = sympy.Symbol.__xnew__(cls, name)
        obj.default = bool(default)
        obj.order = next(_declaration_order)
        obj.doc = doc
        return obj

    def _hashable_content(self):
        return super()._hashable_content() + (self.default, self.doc)


class State(sympy.Symbol):
    """A per-element buffer. ``init`` is its value before the first step; it may
    use ``w``, ``g`` (the first gradient: e.g. RMSProp's sigma_0 = |g_0|) and hypers."""

    init: sympy.Expr | None
    latex_name: str
    doc: str

    def __new__(cls, name: str, init: Any = 0, latex: str | None = None, doc: str = ""):
        obj = sympy.Symbol.__xnew__(cls, name, real=True)
        obj.init = None if init is None else sympy.sympify(init)
        obj.order = next(_declaration_order)
        obj.latex_name = latex or name
        obj.doc = doc
        return obj

    def _hashable_content(self):
        return super()._hashable_content() + (self.init, self.latex_name, self.doc)

    def _latex(self, printer):
        return self.latex_name


class TensorSum(sympy.Function):
    """Sum of an element expression over all elements of one tensor (a "layer")."""

    nargs = 1
    is_real = True

    def _latex(self, printer):
        return r"\sum_{i} \left(%s\right)" % printer._print(self.args[0])


# --- the spec ----------------------------------------------------------------------

Assignment = tuple  # (target Symbol, sympy expression)


@dataclasses.dataclass
class Spec:
    """An optimizer as an ordered list of assignments.

    Each assignment sees the values assigned above it, as in the papers. The
    targets are ``w``, states, and named intermediates.
    """

    name: str
    equations: Sequence[Assignment]
    doc: str = ""
    references: Sequence[str] = ()
    source: str | None = None          # the file it came from, for error messages
    transforms: Sequence[str] = ()     # how it was derived from other specs, if it was
    claims: list = dataclasses.field(default_factory=list)  # derivations to verify
    declared: Sequence[str] = ()       # names in the order the file declares them (set on load)

    def __post_init__(self):
        self.equations = [(lhs, sympy.sympify(rhs)) for lhs, rhs in self.equations]

    # -- what it declares (found from the equations, in order of appearance) --
    def _symbols_of(self, kind) -> list:
        seen: dict = {}
        for lhs, rhs in self.equations:
            for s in [lhs, *sorted(rhs.free_symbols, key=str)]:
                if isinstance(s, kind):
                    seen.setdefault(s.name, s)
            if isinstance(lhs, State) and lhs.init is not None:
                for s in sorted(lhs.init.free_symbols, key=str):
                    if isinstance(s, kind):
                        seen.setdefault(s.name, s)
        # As declared in the file. ``order`` alone is not enough: SymPy's expression cache
        # may hand this spec an equal symbol declared (identically) by another spec file.
        rank = {n: i for i, n in enumerate(self.declared)}
        return sorted(seen.values(), key=lambda s: (rank.get(s.name, len(rank)), s.order))

    @property
    def hyper_symbols(self) -> list[Hyper]:
        return self._symbols_of(Hyper)

    @property
    def option_symbols(self) -> list[Option]:
        return self._symbols_of(Option)

    @property
    def states(self) -> list[State]:
        return self._symbols_of(State)

    @property
    def hypers(self) -> dict[str, float]:
        """``{name: default}`` for every real hyperparameter and build-time option."""
        out: dict[str, Any] = {h.name: h.default for h in self.hyper_symbols}
        out.update({o.name: o.default for o in self.option_symbols})
        return out

    @property
    def options(self) -> dict[str, bool]:
        return {o.name: o.default for o in self.option_symbols}

    @property
    def summary(self) -> str:
        return (self.doc.strip().splitlines() or [""])[0]

    def where(self, index: int) -> str:
        """'optgen/specs/adam.py, adam equation 3 (v = ...)' for error messages."""
        lhs, rhs = self.equations[index]
        place = self.source or "<spec>"
        return f"{place}, spec {self.name!r}, equation {index + 1} ({lhs} = {rhs})"

    def resolve(self, **options: bool) -> "Spec":
        """The spec with build-time options substituted (Piecewise branches collapse)."""
        unknown = set(options) - set(self.options)
        if unknown:
            raise SpecError(f"{self.source or self.name}: unknown option(s) {sorted(unknown)}; "
                            f"{self.name!r} has {sorted(self.options) or 'none'}")
        values = {**self.options, **options}
        repl = {o: sympy.true if values[o.name] else sympy.false for o in self.option_symbols}
        eqs = [(lhs, rhs.xreplace(repl)) for lhs, rhs in self.equations]
        return dataclasses.replace(self, equations=eqs)

    def with_equations(self, equations: Iterable[Assignment], **changes) -> "Spec":
        return dataclasses.replace(self, equations=list(equations), **changes)

