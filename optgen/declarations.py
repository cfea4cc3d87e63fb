"""What a spec declares about its symbols, kept beside the symbols, never on them.

A hyperparameter, an option or a state is a SymPy symbol of a kind class
(:class:`~optgen.spec.Hyper`, :class:`~optgen.spec.Option`,
:class:`~optgen.spec.State`) and nothing more: SymPy caches it by name like any
symbol, so the ``lr`` of one spec file is the very object of another's, and an
expression built for one spec can be shared with another without carrying the
wrong default. What a declaration says (default or init, domain, LaTeX name,
doc line) is a :class:`Declaration` record, and each :class:`~optgen.spec.Spec`
holds a table of them (``spec.declarations``: name -> Declaration).

``optgen.dsl.hyper(...)`` and its siblings *record* a declaration in the module
that makes it (a spec file, a claims file, a test module: in its globals); a
``Spec`` built from equations takes, for each declared symbol it uses, the latest
declaration of the innermost module on the call stack that declared it: the spec
file being executed, or the module whose function builds the spec (a claim's
``Side(make_spec)`` builds it long after the file ran). So two files that declare
``lr`` with different defaults never see each other's, even when one loads the
other while it runs, and a spec made in memory (a test declares ``lr`` and builds
a ``Spec`` right after) finds its own. A symbol declared by no module on the
stack takes the latest declaration made in the process.
"""
from __future__ import annotations

import dataclasses
import itertools
import math
import sys
from typing import Any

from .symbols import symbol_of

__all__ = ["Domain", "Declaration", "SpecError", "SpecWarning", "KINDS", "record", "lookup", "declared_in", "MODULE_KEY"]

#: A declaration's kind, and how messages name it.
KINDS = {"hyper": "hyperparameter", "option": "option", "state": "state"}


class SpecError(ValueError):
    """A spec (or a value given for it) is invalid; the message names where and why.
    (Defined here, where a domain is parsed; :mod:`optgen.spec` exports it.)"""


class SpecWarning(UserWarning):
    """A spec is valid but probably not what its author meant (e.g. a state never assigned)."""


@dataclasses.dataclass(frozen=True)
class Domain:
    """A set of allowed real values, written like ``"positive"`` or ``"[0, 1)"``."""

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

    def narrowed(self, other: "Domain") -> "Domain":
        """The intersection of two interval domains (a name two specs of one claim declare)."""
        if other == self:
            return self
        a, b = self, other
        low, lc = (a.low, a.low_closed) if a.low > b.low or (a.low == b.low and not a.low_closed) \
            else (b.low, b.low_closed)
        high, hc = (a.high, a.high_closed) if a.high < b.high or (a.high == b.high and not a.high_closed) \
            else (b.high, b.high_closed)
        return Domain(f"{a.text} & {b.text}", low, high, lc, hc, a.integer or b.integer)


REAL = Domain("real")


@dataclasses.dataclass(frozen=True)
class Declaration:
    """What a spec says about one of its symbols.

    ``default`` is a hyperparameter's default value, an option's default (a bool),
    or a state's value before the first step (its ``init``: a SymPy expression in
    ``w``, ``g`` and hyperparameters, or ``None`` for a state assigned before it is
    read). ``order`` numbers declarations as they are made: a spec built from
    equations lists its declarations in that order (a transform lists its inner
    spec's first, in the inner spec's order, and orders nothing by it).
    """

    name: str
    kind: str                 # "hyper", "option" or "state"
    default: Any
    latex: str = ""
    domain: Domain = REAL
    doc: str = ""
    order: int = 0
    #: a state's shape: "full" (one value per element), "row" (per row: the last axis reduced, shape
    #: (..., R, 1)) or "col" (per column: shape (..., 1, C)); see docs/axis-reductions.md
    shape: str = "full"
    #: an option the runtime sets per tensor from its shape (``optgen.dsl.factored``): True where the
    #: tensor has at least two axes and its last two are both at least this long; None: a build-time option
    factor_min_dim: int | None = None

    def __post_init__(self):
        if self.kind not in KINDS:
            raise ValueError(f"unknown kind {self.kind!r} of declaration {self.name!r}; one of {sorted(KINDS)}")
        if not self.latex:
            object.__setattr__(self, "latex", self.name)

    @property
    def symbol(self):
        """The symbol this declares (the same object wherever it is made)."""
        return symbol_of(self.kind, self.name)

    @property
    def init(self):
        """A state's value before the first step (its ``default``)."""
        return self.default

    @property
    def what(self) -> str:
        """``"hyperparameter 'lr'"``, for messages."""
        return f"{KINDS[self.kind]} {self.name!r}"

    def with_default(self, default) -> "Declaration":
        return dataclasses.replace(self, default=default)


# --- where declarations are recorded ---------------------------------------------------

#: the key of a module's own declarations in its globals: ``{symbol: Declaration}``, latest last
MODULE_KEY = "__optgen_declarations__"

_counter = itertools.count(1)
_latest: dict = {}   # symbol -> the declaration made last in the process (the fallback)


def record(kind: str, name: str, default, *, latex: str | None = None, domain: Domain = REAL,
           doc: str = "", stacklevel: int = 2, **fields):
    """Record a declaration in the module that makes it (the code ``stacklevel`` frames up: the
    caller of ``optgen.dsl.hyper``); return its symbol. ``fields``: a state's ``shape``, an
    option's ``factor_min_dim``."""
    decl = Declaration(name, kind, default, latex or name, domain, doc, next(_counter), **fields)
    symbol = decl.symbol
    own = sys._getframe(stacklevel).f_globals.setdefault(MODULE_KEY, {})
    for table in (own, _latest):
        table.pop(symbol, None)     # a declaration made again moves to the end
        table[symbol] = decl
    return symbol


def lookup(symbol) -> Declaration | None:
    """The declaration of ``symbol`` that the code running now sees: the latest one made by the
    innermost module on the call stack that declared it (the spec file, or the module of the
    function building a spec), else the latest made anywhere in the process."""
    frame = sys._getframe(1)
    while frame is not None:
        own = frame.f_globals.get(MODULE_KEY)
        if own and symbol in own:
            return own[symbol]
        frame = frame.f_back
    return _latest.get(symbol)


def declared_in(namespace: dict) -> dict[str, Declaration]:
    """``{name: Declaration}`` a module (a spec or claims file's namespace) declared, latest of each name."""
    return {d.name: d for d in namespace.get(MODULE_KEY, {}).values()}
