"""Pass 1: sequential assignments → single-assignment form, classified by level.

Each assignment becomes a node with a fresh *version* symbol (``m`` assigned
twice gives ``m_1`` and ``m_2``); right-hand sides refer to versions, so the
program is a DAG. ``tensor_sum(e)`` and ``global_sum(e)`` become reduction nodes
(a global one is listed in ``SSA.global_sums``: its element sums are added over
every tensor, not per tensor). Every node gets a level, from what it depends on:

* ``host``: only hyperparameters and ``t`` — computed once per step, float64;
* ``tensor``: also reduction results — computed once per tensor (a value made only
  of global sums and host values is the same for every tensor, and computed with them);
* ``row`` / ``col``: also row or column means (``row_mean``, ``col_mean``) or states of that
  shape — one value per row / column of a tensor's last two axes, computed in the per-tensor
  stage and read by a kernel at r[i] / c[j] (docs/axis-reductions.md);
* ``element``: also ``w``, ``g`` or states — computed per element in the kernel (a row value
  and a column value together are one too: r[i] c[j]).

A state's value before the first step is its ``init``: zero is the zeroed buffer;
anything else is read as ``init if t == 1 else m``, a host condition that the
staging pass turns into a kernel variant, never a per-element branch. A state
whose old value is never read is not memory at all (e.g. ``vmax`` when
``amsgrad`` is off): it is demoted to an intermediate and costs no traffic.

A state whose every update reads only ``t``, hyperparameters and host states
(NAdam's product of momentum factors, a step counter of an EMA) is a *host
state*: one float64 scalar kept by the runtime and updated in the host stage,
not an array in memory. So is a state whose update also reads sums over every
tensor (Prodigy's step-size estimate): its old value is a host value too, and its
new one is formed after the pass that makes those sums, with the per-tensor values.
"""
from __future__ import annotations

import dataclasses

import sympy

from ..matrix import NewtonSchulz, TensorShape
from ..names import TEMPLATE_NAMES, spec_names
from ..spec import AxisMean, GlobalSum, Grad, Hyper, Param, Spec, SpecError, State, Step, TensorSum, g, t, w

HOST, TENSOR, ROW, COL, ELEMENT = "host", "tensor", "row", "col", "element"
_LEVEL_RANK = {HOST: 0, TENSOR: 1, ROW: 2, COL: 2, ELEMENT: 3}
#: the levels of values with a shape between the tensor's and the element's (axis values)
AXES = (ROW, COL)


def input_symbol(name: str) -> sympy.Symbol:
    """The value of array ``name`` (``w``, ``g`` or a state) before the step."""
    return sympy.Symbol(name, real=True)


@dataclasses.dataclass(frozen=True)
class SSA:
    """A step as a DAG of named values. Frozen: a later pass builds a new one (or its own
    tables beside it) and never changes it, so every intermediate a ``Build`` keeps stays
    what its stage made."""

    spec: Spec
    nodes: dict          # version symbol -> expression over versions and inputs (in order)
    reductions: dict     # reduction symbol -> the element expression it sums
    arrays: list         # names of the arrays in memory: 'w', states that are read, then 'g'
    finals: dict         # array name -> symbol of its value after the step
    hypers: list         # Hyper symbols used
    level: dict = dataclasses.field(default_factory=dict)  # symbol -> HOST/TENSOR/ELEMENT
    host_states: dict = dataclasses.field(default_factory=dict)  # name -> symbol of its new value
    names: set = dataclasses.field(default_factory=set)  # every name in use: the spec's, the templates', versions
    global_sums: frozenset = frozenset()  # reduction symbols summed over every tensor (global_sum)
    #: reduction symbols that are means over an axis (row_mean, col_mean): symbol -> "row" / "col"
    axis_reductions: dict = dataclasses.field(default_factory=dict)
    #: states of a reduced shape, kept by the runtime per row or column (not arrays of the passes):
    #: name -> "row" / "col"; their new values are ``finals[name]``, computed in a per-tensor stage
    axis_states: dict = dataclasses.field(default_factory=dict)
    #: matrix step symbol -> its step over the symbol of its input (``NewtonSchulz(input, ...)``):
    #: an element value that exists only after the whole tensor's input is formed (optgen/matrix.py)
    matrix_steps: dict = dataclasses.field(default_factory=dict)
    matrix_where: dict = dataclasses.field(default_factory=dict)  # matrix step symbol -> its equation

    def expr(self, sym):
        if sym in self.matrix_steps:
            return self.matrix_steps[sym]
        return self.nodes.get(sym, self.reductions.get(sym))

    @property
    def scratch(self) -> list[str]:
        """The arrays of the matrix steps (each holds its input, then its result): not states."""
        return [s.name for s in self.matrix_steps]

    @property
    def states(self) -> list[str]:
        return [a for a in self.arrays if a not in ("w", "g")]

    def deps(self, sym) -> set:
        e = self.expr(sym)
        return set() if e is None else set(e.free_symbols)

    def reachable(self, roots) -> set:
        seen, stack = set(), list(roots)
        while stack:
            s = stack.pop()
            if s in seen:
                continue
            seen.add(s)
            stack.extend(self.deps(s))
        return seen

    def pretty(self) -> str:
        lines = []
        for sym, e in {**self.nodes, **self.reductions}.items():
            tag = "sum" if sym in self.reductions else self.level.get(sym, "?")
            kind = ("global_sum" if sym in self.global_sums else
                    f"{self.axis_reductions[sym]}_mean" if sym in self.axis_reductions else "tensor_sum")
            lines.append(f"  [{tag:7}] {sym} = {(kind + '(%s)' % e) if sym in self.reductions else e}")
        for sym, step in self.matrix_steps.items():
            lines.append(f"  [matrix ] {sym} = {step}")
        lines.append("  finals: " + ", ".join(f"{a} <- {s}" for a, s in self.finals.items()))
        return "\n".join(lines)


def join_levels(a: str, b: str) -> str:
    """The level of a value made of one of level ``a`` and one of level ``b`` (a row value and a
    column value make an element value)."""
    if a == b:
        return a
    ra, rb = _LEVEL_RANK[a], _LEVEL_RANK[b]
    if ra == rb:
        return ELEMENT
    return a if ra > rb else b


class MeanOverMatrix(sympy.Function):
    """``col_mean`` of a value with one value per row (``row_mean`` of one per column): the mean of
    those values over each matrix, the same in every column (row). It needs no pass over the
    elements: the per-tensor stage computes it from the row (column) values. Adafactor's
    ``col_mean(r)``, the mean of its row statistics, was a whole pass that loaded nothing
    (``optgen bench adafactor --model gpt2-small --paired``, docs/axis-reductions.md)."""

    nargs = 1
    is_real = True
    shape = ""   # the shape of the result: "col" (from row values) or "row"
    source = ""  # the level of the argument


class ColMeanOfRows(MeanOverMatrix):
    shape, source = "col", "row"


class RowMeanOfCols(MeanOverMatrix):
    shape, source = "row", "col"


def _over_matrix(ts, level: dict):
    """The stage's form of an axis mean whose argument is constant along the reduced axis (a row
    value's col_mean), or None. Only over row (column) and host values: a per-tensor value in it
    would need indexing by the other axis's tensor."""
    cls = {"col": ColMeanOfRows, "row": RowMeanOfCols}[ts.shape]
    levels = {level[x] for x in ts.args[0].free_symbols}
    return cls(ts.args[0]) if cls.source in levels and levels <= {HOST, cls.source} else None


def _level_of(expr, level: dict) -> str:
    out = HOST
    for s in expr.free_symbols:
        out = join_levels(out, level[s])
    return out


def to_ssa(spec: Spec) -> SSA:
    """Rename every assignment to a fresh version; extract reductions; classify."""
    current: dict = {}        # declared symbol -> its current version (or input symbol)
    level: dict = {}
    nodes: dict = {}
    reductions: dict = {}
    global_sums: set = set()
    axis_reductions: dict = {}
    matrix_steps: dict = {}
    matrix_where: dict = {}
    count: dict[str, int] = {}
    # versions are named outside every spec name (a hyperparameter `m_1` is not state m's version)
    used_names = spec_names(spec) | TEMPLATE_NAMES

    def fresh(base: str) -> sympy.Symbol:
        count[base] = count.get(base, 0) + 1
        name = f"{base}_{count[base]}"
        while name in used_names:
            count[base] += 1
            name = f"{base}_{count[base]}"
        used_names.add(name)
        return sympy.Symbol(name, real=True)

    W, G = input_symbol("w"), input_symbol("g")
    level.update({W: ELEMENT, G: ELEMENT, t: HOST})

    def declare(s) -> None:
        """First sight of an input: give it its symbol (and its first-step rule)."""
        if isinstance(s, (Hyper, Step)):
            current[s], level[s] = s, HOST
        elif isinstance(s, TensorShape):  # rows, cols: per-tensor values the runtime gives
            current[s], level[s] = s, TENSOR
        elif isinstance(s, (Param, Grad)):
            current[s] = W if isinstance(s, Param) else G
        elif isinstance(s, State):
            sym = current[s] = input_symbol(s.name)
            shape = spec.declarations[s.name].shape
            level[sym] = shape if shape in AXES else ELEMENT
            init0 = spec.declarations[s.name].init
            if init0 is not None and init0 != 0:
                for h in init0.free_symbols:
                    declare(h) if h not in current else None
                init = init0.xreplace({w: W, g: G})
                first = current[s] = fresh(f"{s.name}_old")
                nodes[first] = sympy.Piecewise((init, sympy.Eq(t, 1)), (sym, True))
                level[first] = level[sym]

    for index, (lhs, rhs) in enumerate(spec.equations):
        for s in [lhs, *sorted(rhs.free_symbols, key=str)]:
            if s not in current:
                declare(s)
        expr = rhs.xreplace({k: current[k] for k in rhs.free_symbols if k in current})
        for ts in sorted(expr.atoms(TensorSum, GlobalSum, AxisMean), key=sympy.count_ops):  # innermost first
            red = fresh("gsum" if isinstance(ts, GlobalSum) else f"{ts.shape}_mean" if isinstance(ts, AxisMean)
                        else "sum")
            over_matrix = _over_matrix(ts, level) if isinstance(ts, AxisMean) else None
            if over_matrix is not None:  # a value of the per-tensor stage, not a sum of a pass
                nodes[red], level[red] = over_matrix, ts.shape
                expr = expr.xreplace({ts: red})
                continue
            reductions[red] = ts.args[0]
            level[red] = ts.shape if isinstance(ts, AxisMean) else TENSOR
            if isinstance(ts, GlobalSum):
                global_sums.add(red)
            if isinstance(ts, AxisMean):
                axis_reductions[red] = ts.shape
            expr = expr.xreplace({ts: red})
            for other in reductions:
                reductions[other] = reductions[other].xreplace({ts: red})
        expr = _extract_matrix_steps(spec, index, expr, fresh, nodes, level, matrix_steps, matrix_where)
        _check_global_sums_unconditional(spec, index, expr, global_sums, nodes, level)
        if expr == current.get(lhs):  # `x = x` (e.g. an option that leaves a state as it is)
            continue
        if isinstance(lhs, (Param, State)) or lhs.name in count:
            version = fresh(lhs.name)
        else:  # an intermediate keeps its own name on its first assignment
            version = sympy.Symbol(lhs.name, real=True)
            count[lhs.name] = 1
        nodes[version] = expr
        level[version] = _level_of(expr, level)
        current[lhs] = version

    arrays = ["w"] + [s.name for s in spec.states if s.shape not in AXES]
    finals = {s.name: current.get(s, input_symbol(s.name)) for s in [w, *(d.symbol for d in spec.states)]}
    ssa = SSA(spec, nodes, reductions, arrays, finals,
              [s for s in level if isinstance(s, Hyper)], level, names=used_names,
              global_sums=frozenset(global_sums), axis_reductions=axis_reductions,
              axis_states={s.name: s.shape for s in spec.states if s.shape in AXES},
              matrix_steps=matrix_steps, matrix_where=matrix_where)
    return _find_host_states(_demote_unread_states(ssa))


def _extract_matrix_steps(spec: Spec, index: int, expr, fresh, nodes: dict, level: dict, matrix_steps: dict,
                          matrix_where: dict):
    """Each ``newton_schulz(e)`` becomes a matrix step symbol (``ns_1``) over a node of its input
    (``ns_input_1 = e``), an element value the stager stores before the step."""
    for step in sorted(expr.atoms(NewtonSchulz), key=sympy.count_ops):
        if step.args[0].atoms(NewtonSchulz):
            raise SpecError(f"{spec.where(index)}: a newton_schulz inside another; assign the inner one to an "
                            "intermediate in an equation above")
        out = fresh("ns")
        inp = fresh("ns_input")
        nodes[inp] = step.args[0]
        level[inp] = _level_of(step.args[0], level)
        matrix_steps[out] = step.func(inp, *step.args[1:])
        matrix_where[out] = spec.where(index)
        level[out] = ELEMENT
        expr = expr.xreplace({step: out})
    return expr


def _uniform(sym, global_sums: set, nodes: dict, level: dict) -> bool:
    """Whether ``sym`` has one value for every tensor and element: host values, global sums
    and what is made of them only."""
    if level.get(sym, HOST) == HOST or sym in global_sums:
        return True
    e = nodes.get(sym)
    return e is not None and all(_uniform(s, global_sums, nodes, level) for s in e.free_symbols)


def _check_global_sums_unconditional(spec: Spec, index: int, expr, global_sums: set, nodes: dict,
                                     level: dict) -> None:
    """A global sum written inside a branch that is chosen per tensor or per element reads as a
    sum over that branch's elements only, which it is not: refuse it, and say what to write."""
    for pw in expr.atoms(sympy.Piecewise):
        for arm, cond in pw.args:
            inside = sorted(s.name for s in arm.free_symbols if s in global_sums)
            varying = [s for s in cond.free_symbols if not _uniform(s, global_sums, nodes, level)]
            if inside and varying:
                raise SpecError(
                    f"{spec.where(index)}: a global sum sits in a branch chosen per tensor or per element "
                    f"(when {cond}); it would still sum over every element of every tensor, not over "
                    f"that branch. Assign the global sum to an intermediate in an equation above, or put the "
                    f"condition inside it: global_sum(when(condition, x, 0)) sums only where it holds")


def _find_host_states(ssa: SSA) -> SSA:
    """States that are scalars per step: assume all are, drop those that are not, repeat."""
    candidates = set(ssa.states)
    while True:
        level = dict(ssa.level)
        for name in candidates:
            level[input_symbol(name)] = HOST
        for sym, e in ssa.nodes.items():
            level[sym] = _level_of(e, level)
        bad = {c for c in candidates
               if level[ssa.finals[c]] != HOST and not _uniform(ssa.finals[c], ssa.global_sums, ssa.nodes, level)}
        if not bad:
            break
        candidates -= bad
    if not candidates:
        return ssa
    order = [a for a in ssa.arrays if a in candidates]
    return dataclasses.replace(
        ssa, level=level, arrays=[a for a in ssa.arrays if a not in candidates],
        finals={a: f for a, f in ssa.finals.items() if a not in candidates},
        host_states={**ssa.host_states, **{name: ssa.finals[name] for name in order}})


def _demote_unread_states(ssa: SSA) -> SSA:
    """A state whose old value no final depends on is an intermediate, not memory."""
    live = ssa.reachable([f for a, f in ssa.finals.items() if f != input_symbol(a)])
    unread = {name for name in [*ssa.states, *ssa.axis_states] if input_symbol(name) not in live}
    arrays = [a for a in ssa.arrays if a not in unread]
    axis_states = {a: kind for a, kind in ssa.axis_states.items() if a not in unread}
    finals = {a: f for a, f in ssa.finals.items() if a not in unread}
    if input_symbol("g") in ssa.reachable([*finals.values()]):
        arrays.append("g")
    return dataclasses.replace(ssa, arrays=arrays, finals=finals, axis_states=axis_states)
