"""Validation of a spec: every error names the spec file and the equation."""
from __future__ import annotations

import keyword
import warnings

import sympy
from sympy.core.symbol import Str
from sympy.logic.boolalg import Boolean, BooleanAtom
from sympy.matrices import MatrixBase

from .names import TEMPLATE_NAMES, intermediate_clash
from .matrix import NewtonSchulz, TensorShape
from .spec import (AxisMean, GlobalSum, Grad, Hyper, Option, Param, Spec, SpecError, SpecWarning, State, Step,
                   TensorSum)

# Transcendental functions beyond exp and log: math.* in kernels on both targets (Numba
# takes the float32 function for a float32 argument, libdevice's on CUDA), numpy's on the host.
ELEMENTWISE = (sympy.tanh, sympy.sinh, sympy.cosh, sympy.atan, sympy.atan2, sympy.erf, sympy.sin, sympy.cos)

# The functions a kernel can compute. Anything else is refused at load time, not
# discovered as a printer failure later.
SUPPORTED = (
    sympy.Add, sympy.Mul, sympy.Pow, sympy.Abs, sympy.Max, sympy.Min, sympy.sign,
    sympy.exp, sympy.log, sympy.Piecewise, sympy.Mod, sympy.floor, sympy.ceiling,
    sympy.core.relational.Relational, sympy.And, sympy.Or, sympy.Not, TensorSum,
    sympy.functions.elementary.piecewise.ExprCondPair, GlobalSum, AxisMean, NewtonSchulz, *ELEMENTWISE,
)
SUPPORTED_NAMES = ("+, -, *, /, **, sqrt, Abs, Max, Min, sign, exp, log, tanh, sinh, cosh, atan, atan2, erf, "
                   "sin, cos, Piecewise, Mod, floor, ceiling, comparisons, And/Or/Not, tensor_sum, norm, "
                   "global_sum, global_norm, row_mean, col_mean, newton_schulz")


# Generated code refers to these, and its templates name their own variables with a
# leading underscore: a spec symbol may use neither, or it would shadow them (optgen/names.py).
RESERVED = set(TEMPLATE_NAMES)


def _unsupported(expr):
    for node in sympy.preorder_traversal(expr):
        if isinstance(node, (sympy.Symbol, sympy.Number, BooleanAtom, sympy.NumberSymbol)):
            continue
        if isinstance(node, sympy.Tuple):
            continue
        if isinstance(node, Str):  # newton_schulz's dtype, the one place a spec holds a name that is no symbol
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

    for h in spec.declared("hyper"):
        if isinstance(h.default, bool) or not isinstance(h.default, (int, float)):
            raise SpecError(f"{where_file}: hyperparameter {h.name!r} of {spec.name!r} has default "
                            f"{h.default!r}; a real number is required")
        if not h.domain.contains(float(h.default)):
            raise SpecError(f"{where_file}: hyperparameter {h.name!r} of {spec.name!r} has default "
                            f"{h.default!r} outside its domain {h.domain.text}")

    # (a name declared as two kinds is refused when the spec is made: its table is by name)
    _check_targets(spec)
    _check_names(spec, where_file)
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
        if _has_matrix(rhs):
            raise SpecError(f"{where}: the right-hand side is or holds a SymPy Matrix; optgen equations are "
                            "per-element scalars (w, g and every state are one element of a tensor), "
                            "so write one scalar equation")
        if isinstance(rhs, Boolean) and not isinstance(rhs, sympy.Expr):
            raise SpecError(f"{where}: the right-hand side is a condition, not a value")
        bad = _unsupported(rhs)
        if bad is not None:
            raise SpecError(f"{where}: unsupported function {bad.func.__name__} in {bad}; "
                            f"supported: {SUPPORTED_NAMES}")
        for s in sorted(rhs.free_symbols, key=str):
            if isinstance(s, (Param, Grad, Step, Hyper, Option, TensorShape)):
                continue
            if isinstance(s, State):
                if spec.declarations[s.name].init is None and s not in assigned:
                    raise SpecError(f"{where}: state {s.name!r} is read before it is initialised "
                                    "(give it init=... or assign it above)")
                continue
            if s not in assigned:
                _read_before_assigned(spec, i, s)
                raise SpecError(f"{where}: unknown symbol {s.name!r}: not w, g, t, a hyperparameter, "
                                "a state, or an intermediate assigned above")
        assigned.add(lhs)
    _warn_constant_states(spec, assigned)
    _check_axis_shapes(spec)

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


def _check_axis_shapes(spec: Spec) -> None:
    """Axis reductions and the states of reduced shape (docs/axis-reductions.md): a row or column
    state holds only values of its shape or smaller, starts from a constant, and no reduction over
    a tensor or every tensor holds an axis reduction (it would sum the same: sum the operand)."""
    from .axes import COL, FULL, ROW, shape_of
    from .spec import g, w
    shapes: dict = {w: FULL, g: FULL}
    shapes.update({s.symbol: s.shape for s in spec.states})
    allowed = {ROW: "a constant, a hyperparameter, a per-tensor value, a row state or row_mean(...)",
               COL: "a constant, a hyperparameter, a per-tensor value, a column state or col_mean(...)"}
    for s in spec.states:
        if s.shape != FULL and s.init is not None and s.init.free_symbols & {w, g}:
            raise SpecError(f"{spec.source or '<spec>'}: the {s.shape} state {s.name!r} of {spec.name!r} starts "
                            f"from {s.init}, a value per element; a state of shape {s.shape!r} starts from a "
                            f"constant or a hyperparameter")
    for i, (lhs, rhs) in enumerate(spec.equations):
        for total in rhs.atoms(TensorSum, GlobalSum):
            inner = total.args[0].atoms(AxisMean)
            if inner:
                kind = "tensor_sum" if isinstance(total, TensorSum) else "global_sum"
                raise SpecError(f"{spec.where(i)}: {next(iter(inner))} inside {kind}(...); a sum over the "
                                f"tensor{'s' if kind == 'global_sum' else ''} of a row or column mean is the sum "
                                f"of its operand: write {kind} of the operand itself")
        shape = shape_of(rhs, shapes)
        if isinstance(lhs, State) and spec.declarations[lhs.name].shape != FULL:
            want = spec.declarations[lhs.name].shape
            if shape in (FULL, COL if want == ROW else ROW):
                raise SpecError(f"{spec.where(i)}: the {want} state {lhs.name!r} is assigned a value of shape "
                                f"{shape!r}; it holds one value per {want.replace('col', 'column')}: "
                                f"{allowed[want]}")
        elif not isinstance(lhs, (Param, State)):
            shapes[lhs] = shape


def _check_targets(spec: Spec) -> None:
    """Every left-hand side is a symbol (checked first: the checks below read its name)."""
    for i, (lhs, _) in enumerate(spec.equations):
        if isinstance(lhs, sympy.Symbol):
            continue
        if isinstance(lhs, (int, float, sympy.Number)) or getattr(lhs, "is_Number", False):
            what = f"the constant {lhs}"
        else:
            what = f"the expression {lhs}"
        raise SpecError(f"{spec.where(i)}: cannot assign to {what}; the left-hand side must be w, a state, "
                        "or a named intermediate (var('x')), and any factor belongs on the right-hand side "
                        "(e.g. (w, w - lr * g), not (2*w, ...))")


# The names of the step's own inputs: a declared symbol called so would be printed as them.
INPUT_NAMES = {"w": Param, "g": Grad, "t": Step}


#: ``optgen.create(name, params, device=..., nonfinite=..., **hyperparameters_and_options)``
CREATE_ARGUMENTS = frozenset({"name", "params", "device", "nonfinite"})


def _check_names(spec: Spec, where_file: str) -> None:
    """Names become Python identifiers in generated code: no keywords, no second w, g or t."""
    symbols = {s for lhs, rhs in spec.equations for s in [lhs, *rhs.free_symbols]}
    symbols |= {s for st in spec.states if st.init is not None for s in st.init.free_symbols}
    symbols |= {d.symbol for d in spec.declarations.values()}
    for sym in sorted(symbols, key=lambda s: s.name):
        kind = _kind(sym)
        if keyword.iskeyword(sym.name):
            raise SpecError(f"{where_file}: the {kind} {sym.name!r} of {spec.name!r} is named with a Python "
                            f"keyword, which generated code cannot use as a variable; rename it (e.g. "
                            f"{sym.name + '_'!r}) and keep the symbol shown in docs with latex=...")
        if sym.name in CREATE_ARGUMENTS and isinstance(sym, (Hyper, Option)):
            raise SpecError(f"{where_file}: the {kind} {sym.name!r} of {spec.name!r} has the name of an argument "
                            f"of optgen.create ({', '.join(sorted(CREATE_ARGUMENTS))}), so it could not be set; "
                            "choose another name")
        wanted = INPUT_NAMES.get(sym.name)
        if wanted is not None and not isinstance(sym, wanted):
            raise SpecError(f"{where_file}: the {kind} {sym.name!r} of {spec.name!r} has the name of the "
                            f"{_kind(wanted(sym.name))}; w, g and t are reserved for the parameter, the "
                            "gradient and the step: choose another name")


def _kind(sym) -> str:
    for cls, text in ((Hyper, "hyperparameter"), (Option, "option"), (State, "state"), (Param, "parameter w"),
                      (Grad, "gradient g"), (Step, "step counter t")):
        if isinstance(sym, cls):
            return text
    return "intermediate"


def _has_matrix(expr) -> bool:
    return isinstance(expr, MatrixBase) or any(
        isinstance(node, MatrixBase) for node in sympy.preorder_traversal(expr))


def _read_before_assigned(spec: Spec, index: int, sym) -> None:
    """Raise if ``sym``, read by equation ``index``, is an intermediate assigned only later:
    a cyclic definition (listed) or a value used before it exists."""
    later = [j for j in range(index, len(spec.equations)) if spec.equations[j][0] == sym]
    if not later:
        return
    where = spec.where(index)
    cycle = _cycle_through(spec, index)
    hint = (f"intermediates are recomputed each step from the equations above them; a value carried "
            f"from the previous step is a state: {sym.name} = state({sym.name!r}, init=...)")
    if cycle:
        raise SpecError(f"{where}: cyclic definition: {' -> '.join(cycle)}; {hint}")
    raise SpecError(f"{where}: {sym.name!r} is read before equation {later[0] + 1} assigns it; "
                    f"move that equation above this one ({hint})")


def _cycle_through(spec: Spec, index: int) -> list[str]:
    """Intermediates ``[a, b, ..., a]`` that define each other, starting from equation ``index``."""
    defs = {}
    for lhs, rhs in spec.equations:  # an intermediate's dependencies on other intermediates
        if type(lhs) is sympy.Symbol:
            defs.setdefault(lhs, set()).update(s for s in rhs.free_symbols if type(s) is sympy.Symbol)
    start = spec.equations[index][0]
    stack = [(start, [start])]
    while stack:
        node, path = stack.pop()
        for nxt in sorted(defs.get(node, ()), key=str):
            if nxt == start:
                return [s.name for s in path] + [start.name]
            if nxt not in path:
                stack.append((nxt, path + [nxt]))
    return []


def _warn_constant_states(spec: Spec, assigned: set) -> None:
    """A state that is read, never assigned and initialised without w or g is a constant.

    Once per spec object: ``create`` validates again the spec the registry validated."""
    if getattr(spec, "_constant_states_warned", False):
        return
    spec._constant_states_warned = True
    for s in spec.states:
        if s.symbol in assigned or s.init is None or any(isinstance(x, (Param, Grad)) for x in s.init.free_symbols):
            continue  # assigned, or a snapshot of the first w or g (read-only on purpose)
        reads = [i + 1 for i, (_, rhs) in enumerate(spec.equations) if s.symbol in rhs.free_symbols]
        warnings.warn(f"{spec.source or '<spec>'}: state {s.name!r} of {spec.name!r} is read (equation "
                      f"{', '.join(map(str, reads))}) but never assigned, so it keeps its init {s.init} on "
                      f"every step; assign it with an equation ({s.name}, ...), or use a hyperparameter or "
                      "a number if it is meant to be constant", SpecWarning, stacklevel=3)
