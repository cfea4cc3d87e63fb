"""The kinds of symbol a spec is written in: ``w``, ``g``, ``t``, hyperparameters, options, states.

A symbol is a name and a kind, nothing more (what a spec says about it is its
:class:`~optgen.declarations.Declaration`). Any other symbol in a spec is a named
intermediate: a plain ``sympy.Symbol(name, real=True)``.
"""
from __future__ import annotations

import sympy

__all__ = ["Param", "Grad", "Step", "Hyper", "Option", "State", "w", "g", "t",
           "SYMBOL_CLASSES", "DECLARED", "symbol_of", "kind_of"]


class _Kind(sympy.Symbol):
    """A symbol whose class says what it is, and nothing else: SymPy caches it by class,
    name and assumptions, so every spec's ``lr`` is one object and every claim's too.

    The kind is a class, not a table lookup on a plain ``Symbol``, because SymPy orders
    the terms of a sum and the factors of a product by class name first: the order in
    which the generated kernels evaluate them, and so their rounding, follows it."""

    ASSUMPTIONS: dict = {"real": True}

    def __new__(cls, name: str, **assumptions):
        return super().__new__(cls, name, **{**cls.ASSUMPTIONS, **assumptions})


class Param(_Kind):
    """The parameter being optimised (per element)."""


class Grad(_Kind):
    """The gradient (per element). Read-only."""


class Step(_Kind):
    """The 1-based step counter. Read-only."""

    ASSUMPTIONS = {"integer": True, "positive": True}


class Hyper(_Kind):
    """A real hyperparameter: a host value, fixed or a schedule in ``t``."""


class Option(_Kind):
    """A boolean that changes the algorithm's structure; resolved at build time."""

    ASSUMPTIONS: dict = {}


class State(_Kind):
    """A per-element buffer; its declaration gives its value before the first step."""


w = Param("w")
g = Grad("g")
t = Step("t")

#: the symbol class of each kind of declaration
SYMBOL_CLASSES = {"hyper": Hyper, "option": Option, "state": State}
DECLARED = tuple(SYMBOL_CLASSES.values())


def symbol_of(kind: str, name: str) -> sympy.Symbol:
    """The symbol a declaration of ``kind`` named ``name`` declares."""
    return SYMBOL_CLASSES[kind](name)


def kind_of(symbol) -> str | None:
    """``"hyper"``, ``"option"`` or ``"state"`` for a declared symbol, else None."""
    for kind, cls in SYMBOL_CLASSES.items():
        if isinstance(symbol, cls):
            return kind
    return None
