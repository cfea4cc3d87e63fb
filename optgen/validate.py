"""Validation of a spec: every error names the spec file and the equation."""
from __future__ import annotations

import sympy
from sympy.logic.boolalg import Boolean, BooleanAtom

from .names import TEMPLATE_NAMES, intermediate_clash
from .spec import Grad, Hyper, Option, Param, Spec, SpecError, State, Step, TensorSum

# The functions a kernel can compute. Anything else is refused at load time, not
# discovered as a printer failure later.
SUPPORTED = (
    sympy.Add, sympy.Mul, sympy.Pow, sympy.Abs, sympy.Max, sympy.Min, sympy.sign,
    sympy.exp, sympy.log, sympy.Piecewise, sympy.Mod, sympy.floor, sympy.ceiling,
    sympy.core.relational.Relational, sympy.And, sympy.Or, sympy.Not, TensorSum,
    sympy.functions.elementary.piecewise.ExprCondPair,
)
SUPPORTED_NAMES = "+, -, *, /, **, sqrt, Abs, Max, Min, sign, exp, log, Piecewise, Mod, floor, ceiling, comparisons, And/Or/Not, tensor_sum, norm"


# Generated code refers to these, and its templates name their own variables with a
# leading underscore: a spec symbol may use neither, or it would shadow them (optgen/names.py).
RESERVED = set(TEMPLATE_NAMES)


def _unsupported(expr):
    for node in sympy.preorder_traversal(expr):
        if isinstance(node, (sympy.Symbol, sympy.Number, BooleanAtom, sympy.NumberSymbol)):
            continue
        if isinstance(node, sympy.Tuple):
            continue
        if not isinstance(node, SUPPORTED):
            return node
    return None


def validate(spec: Spec) -> Spec:
    """Check a spec; return it unchanged or raise :class:`SpecError`."""
    where_file = spec.source or "<spec>"
    if not spec.name or not spec.name.replace("_", "a").isalnum() or spec.name[0].isdigit():
        raise SpecError(f"{where_file}: spec name {spec.name!r} must be a Python identifier "
                        "(letters, digits, underscores)")
    if not spec.equations:
        raise SpecError(f"{where_file}: spec {spec.name!r} has no equations")

    for h in spec.hyper_symbols:
        if isinstance(h.default, bool) or not isinstance(h.default, (int, float)):
            raise SpecError(f"{where_file}: hyperparameter {h.name!r} of {spec.name!r} has default "
                            f"{h.default!r}; a real number is required")
        if not h.domain.contains(float(h.default)):
            raise SpecError(f"{where_file}: hyperparameter {h.name!r} of {spec.name!r} has default "
                            f"{h.default!r} outside its domain {h.domain.text}")

    names: dict[str, object] = {}
    for s in [*spec.hyper_symbols, *spec.option_symbols, *spec.states]:
        other = names.setdefault(s.name, s)
        if type(other) is not type(s):
            raise SpecError(f"{where_file}: {s.name!r} is declared both as {type(other).__name__} "
                            f"and as {type(s).__name__} in {spec.name!r}")

    for lhs, rhs in spec.equations:
        for sym in [lhs, *rhs.free_symbols]:
            if sym.name.startswith("_") or (sym.name in RESERVED and sym.name != "t") or not sym.name.isidentifier():
                raise SpecError(f"{where_file}: symbol name {sym.name!r} in {spec.name!r} is reserved or not an "
                                f"identifier; use a name without a leading underscore, not one of "
                                f"{sorted(RESERVED - {'t'})}")
    clash = intermediate_clash(spec)
    if clash is not None:
        raise SpecError(f"{spec.where(clash[0])}: the intermediate {spec.equations[clash[0]][0]} has the name of "
                        f"{clash[1]}; give it a name of its own (or assign the declared symbol itself)")
    assigned: set = set()
    for i, (lhs, rhs) in enumerate(spec.equations):
        where = spec.where(i)
        if not isinstance(lhs, sympy.Symbol):
            raise SpecError(f"{where}: the left-hand side must be a symbol, not {lhs!r}")
        if isinstance(lhs, Grad):
            raise SpecError(f"{where}: the gradient g is read-only")
        if isinstance(lhs, Step):
            raise SpecError(f"{where}: the step counter t is read-only")
        if isinstance(lhs, (Hyper, Option)):
            raise SpecError(f"{where}: {lhs} is a hyperparameter and cannot be assigned; "
                            "use a named intermediate")
        if isinstance(rhs, Boolean) and not isinstance(rhs, sympy.Expr):
            raise SpecError(f"{where}: the right-hand side is a condition, not a value")
        bad = _unsupported(rhs)
        if bad is not None:
            raise SpecError(f"{where}: unsupported function {bad.func.__name__} in {bad}; "
                            f"supported: {SUPPORTED_NAMES}")
        for s in sorted(rhs.free_symbols, key=str):
            if isinstance(s, (Param, Grad, Step, Hyper, Option)):
                continue
            if isinstance(s, State):
                if s.init is None and s not in assigned:
                    raise SpecError(f"{where}: state {s.name!r} is read before it is initialised "
                                    "(give it init=... or assign it above)")
                continue
            if s not in assigned:
                raise SpecError(f"{where}: unknown symbol {s.name!r}: not w, g, t, a hyperparameter, "
                                "a state, or an intermediate assigned above")
        assigned.add(lhs)

    for s in spec.states:
        if s.init is None:
            continue
        for sym in s.init.free_symbols:
            if not isinstance(sym, (Param, Grad, Hyper)):
                raise SpecError(f"{where_file}: the init of state {s.name!r} in {spec.name!r} uses "
                                f"{sym}; only w, g (the first gradient) and hyperparameters are allowed")
        bad = _unsupported(s.init)
        if bad is not None:
            raise SpecError(f"{where_file}: the init of state {s.name!r} uses unsupported {bad.func.__name__}")

    if not any(isinstance(lhs, Param) for lhs, _ in spec.equations):
        raise SpecError(f"{where_file}: spec {spec.name!r} never updates w (no equation `(w, ...)`)")
    return spec
