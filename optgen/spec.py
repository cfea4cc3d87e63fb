"""The spec data model: what a spec file declares.

A :class:`Spec` is data. The compiler, the reference oracle, the docs and the
verifier all read the same object; nothing downstream is special-cased by name.

Symbols
-------
``w``  the parameter (one element of one tensor);
``g``  the gradient of the loss at ``w``;
``t``  the 1-based step counter (``t = 1`` on the first step).
:class:`Hyper` symbols are real hyperparameters (host values).
:class:`Option` symbols are booleans resolved at build time into separate kernels.
:class:`State` symbols are per-element buffers owned by the optimizer.
Any other symbol assigned in the equations is a named intermediate.

A symbol is only a name and a kind. What a spec says about it (a default, an
init, a domain, a LaTeX name, a doc line) is a
:class:`~optgen.declarations.Declaration` in the spec's ``declarations`` table.
"""
from __future__ import annotations

import dataclasses
from typing import Iterable, Sequence

import sympy

from . import declarations as _declarations
from .declarations import KINDS, Declaration, Domain, SpecError, SpecWarning
from .symbols import DECLARED, Grad, Hyper, Option, Param, State, Step, g, kind_of, symbol_of, t, w

__all__ = [
    "Param", "Grad", "Step", "Hyper", "Option", "State", "TensorSum", "GlobalSum", "AxisMean", "RowMean", "ColMean",
    "AXIS_MEANS",
    "Spec", "SpecError", "SpecWarning", "Domain", "Declaration", "w", "g", "t", "symbol_of",
]


class TensorSum(sympy.Function):
    """Sum of an element expression over all elements of one tensor (a "layer")."""

    nargs = 1
    is_real = True

    def _latex(self, printer):
        return r"\sum_{i} \left(%s\right)" % printer._print(self.args[0])


class GlobalSum(sympy.Function):
    """Sum of an element expression over every element of every tensor of the step (all the
    parameters one optimizer updates): the global gradient norm, Prodigy's dot products."""

    nargs = 1
    is_real = True

    def _latex(self, printer):
        return r"\sum_{\ell, i} \left(%s\right)" % printer._print(self.args[0])


class AxisMean(sympy.Function):
    """Mean of an element expression over one axis of a tensor's last two, broadcast back.

    For a tensor of shape (..., R, C) (leading axes are batch axes), :class:`RowMean` is the mean
    over the last axis (one value per row, shape (..., R, 1)) and :class:`ColMean` the mean over the
    second-to-last (one per column, shape (..., 1, C)). Read in an element equation, the value
    broadcasts: r[i] at element (i, j), c[j]. ``shape`` names the reduced shape, as a state that
    holds it declares it (``state(..., shape="row")``)."""

    nargs = 1
    is_real = True
    axis = 0      # numpy's axis of the reduction (-1 or -2)
    shape = ""    # "row" or "col"

    def _latex(self, printer):
        return r"\operatorname{%s\_mean}\left(%s\right)" % (self.shape, printer._print(self.args[0]))


class RowMean(AxisMean):
    """Mean over the last axis: one value per row (Adafactor's row statistics)."""
    axis, shape = -1, "row"


class ColMean(AxisMean):
    """Mean over the second-to-last axis: one value per column (Adafactor's column statistics)."""
    axis, shape = -2, "col"


#: The axis reductions, by the reduced shape they make.
AXIS_MEANS = {"row": RowMean, "col": ColMean}


# --- the spec ----------------------------------------------------------------------

Assignment = tuple  # (target Symbol, sympy expression)


@dataclasses.dataclass
class Spec:
    """An optimizer as an ordered list of assignments.

    Each assignment sees the values assigned above it, as in the papers. The
    targets are ``w``, states, and named intermediates.

    ``declarations`` is the table of what the spec declares (name -> Declaration),
    one entry per hyperparameter, option and state the equations use, in order. It
    is filled when the spec is made: from ``declarations`` if given (a transform
    passes its inner spec's, with its own changes), else, for each declared symbol
    used, from the declaration recorded last for it in the spec file being executed
    (or in the process, for a spec made in memory), in the order they were declared.
    """

    name: str
    equations: Sequence[Assignment]
    doc: str = ""
    references: Sequence[str] = ()
    source: str | None = None          # the file it came from, for error messages
    transforms: Sequence[str] = ()     # how it was derived from other specs, if it was
    claims: list = dataclasses.field(default_factory=list)  # derivations to verify
    declarations: dict = None          # name -> Declaration (filled when made)

    def __post_init__(self):
        self.equations = [(lhs, sympy.sympify(rhs)) for lhs, rhs in self.equations]
        given = self.declarations
        if given is not None and not isinstance(given, dict):
            given = {d.name: d for d in given}
        self.declarations = self._table(given or {})

    def _table(self, given: dict) -> dict[str, Declaration]:
        """The declarations of the declared symbols the equations (and those symbols' inits) use."""
        found: dict = {}
        todo = [s for lhs, rhs in self.equations for s in (lhs, *rhs.free_symbols)]
        while todo:
            s = todo.pop()
            if not isinstance(s, DECLARED) or s in found:
                continue
            decl = given.get(s.name)
            if decl is None or decl.symbol != s:
                decl = _declarations.lookup(s)
            if decl is None:
                kind = KINDS[kind_of(s)]
                raise SpecError(f"{self.source or '<spec>'}: the {kind} {s.name!r} of {self.name!r} is never "
                                f"declared; make it with optgen.dsl.{kind_of(s)}({s.name!r}, ...)")
            found[s] = decl
            if decl.kind == "state" and decl.init is not None:
                todo += list(sympy.sympify(decl.init).free_symbols)
        by_name: dict = {}
        for decl in found.values():
            other = by_name.setdefault(decl.name, decl)
            if other.kind != decl.kind:
                first, second = sorted([other, decl], key=lambda d: d.order)
                raise SpecError(f"{self.source or '<spec>'}: {decl.name!r} is declared both as "
                                f"{KINDS[first.kind]} and as {KINDS[second.kind]} in {self.name!r}")
        rank = {name: i for i, name in enumerate(given)}
        ordered = sorted(by_name.values(), key=lambda d: (rank.get(d.name, len(rank)), d.order))
        return {d.name: d for d in ordered}

    # -- what it declares, in order --
    def declared(self, kind: str) -> list[Declaration]:
        """The declarations of one kind (``"hyper"``, ``"option"``, ``"state"``), in order."""
        return [d for d in self.declarations.values() if d.kind == kind]

    @property
    def hyper_symbols(self) -> list[Hyper]:
        return [d.symbol for d in self.declared("hyper")]

    @property
    def option_symbols(self) -> list[Option]:
        return [d.symbol for d in self.declared("option")]

    @property
    def states(self) -> list[Declaration]:
        """The states' declarations (``.name``, ``.init``, ``.latex``, ``.doc``, ``.symbol``)."""
        return self.declared("state")

    @property
    def hypers(self) -> dict[str, float]:
        """``{name: default}`` for every real hyperparameter and build-time option."""
        out = {d.name: d.default for d in self.declared("hyper")}
        out.update(self.options)
        return out

    @property
    def options(self) -> dict[str, bool]:
        return {d.name: d.default for d in self.declared("option")}

    @property
    def latex_names(self) -> dict:
        """``{symbol: LaTeX}`` of the hyperparameters and states, for ``sympy.latex(..., symbol_names=...)``
        (an option has no LaTeX name of its own: SymPy prints its name)."""
        return {d.symbol: d.latex for d in self.declarations.values() if d.kind != "option"}

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
