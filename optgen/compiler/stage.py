"""Pass 2: staging — kernel variants for host conditions, and passes over memory.

*Variants.* A ``Piecewise`` in per-element (or per-tensor) work whose condition
depends only on host values (``t == 1``, RAdam's ``rho_t > 4``, lookahead's
``t mod k == 0``) is decided on the host once per step: each combination of
such conditions gets its own kernel, in which the Piecewise has collapsed.

*Passes.* A reduction's result is available only after a full pass over the
tensor, so values that use it are computed in a later pass. Each array is
written in the earliest pass that can compute its final value, unless a later
pass still needs its old value (then the write waits). A later pass loads a
value already written back instead of recomputing it; everything else it needs
it recomputes from what memory holds. This gives the fewest passes the data
dependencies allow, and never a temporary buffer. A matrix step (``newton_schulz``) is
placed like a sum: the pass before it stores its input into the step's own array, the
runtime runs it between the passes, and later passes load its result (``matrix.py``).

*Axis reductions* (``row_mean``, ``col_mean``) are reductions like the sums: each ends the
pass that accumulates it, and the values made of it (one per row or column: Adafactor's
new row and column statistics) are computed in the per-tensor stage after it, like the
per-tensor values, and read by later passes as per-tensor inputs with a shape. A state of
a reduced shape is such a value too: its new value is a per-tensor stage's, which the
runtime keeps (like a host state made of global sums).
"""
from __future__ import annotations

import dataclasses
import itertools

import sympy
from sympy.logic.boolalg import BooleanAtom

from . import matrix
from .ssa import AXES, HOST, SSA, TENSOR, input_symbol
from .traverse import post_order


@dataclasses.dataclass(frozen=True)
class Pass:
    """One loop over every element of every tensor."""

    index: int
    loads: dict          # array name -> the symbol its loaded value stands for
    compute: list        # [(symbol, expr)] element values, in dependency order
    stores: dict         # array name -> symbol of the value written back
    reductions: list     # [(reduction symbol, element expr summed)]
    tensor_inputs: list  # per-tensor symbols this pass reads


@dataclasses.dataclass(frozen=True)
class Variant:
    """The step for one combination of host conditions."""

    key: tuple           # truth value of each host condition
    passes: list
    tensor_stages: list  # tensor_stages[q]: [(symbol, expr)] computed after pass q
    host: list           # [(symbol, expr)] host values this variant needs, in order
    matrix_steps: list = dataclasses.field(default_factory=list)  # matrix_steps[q]: [(symbol, step)] after pass q


@dataclasses.dataclass(frozen=True)
class Staged:
    ssa: SSA
    conditions: list     # host-only boolean expressions that select the variant
    condition_host: list  # [(symbol, expr)] host values the conditions need
    variants: dict       # key -> Variant


def host_conditions(ssa: SSA) -> list:
    """Conditions of Piecewise nodes in per-element/tensor work that only the host decides."""
    found: list = []
    exprs = [e for s, e in ssa.nodes.items() if ssa.level[s] != HOST] + list(ssa.reductions.values())
    for e in exprs:
        for pw in e.atoms(sympy.Piecewise):
            for _, cond in pw.args:
                if isinstance(cond, BooleanAtom):
                    continue
                if all(ssa.level.get(s, HOST) == HOST for s in cond.free_symbols) and cond not in found:
                    found.append(cond)
    return found


def _specialise(ssa: SSA, conditions: list, key: tuple) -> SSA:
    repl = {c: sympy.true if v else sympy.false for c, v in zip(conditions, key)}
    nodes = {s: e.xreplace(repl) for s, e in ssa.nodes.items()}
    reds = {s: e.xreplace(repl) for s, e in ssa.reductions.items()}
    finals = dict(ssa.finals)
    for array, sym in ssa.finals.items():  # a variant that leaves a state as it is:
        while isinstance(nodes.get(sym), sympy.Symbol):  # no store, and no load for it
            sym = nodes[sym]
        if sym == input_symbol(array):
            finals[array] = sym
    return dataclasses.replace(ssa, nodes=nodes, reductions=reds, finals=finals, level=dict(ssa.level))


def _ordered(ssa: SSA, wanted: set) -> list:
    order = [*ssa.nodes, *ssa.reductions]
    return [s for s in order if s in wanted]


class _Earliest:
    """The first pass that can compute each symbol: the latest of its inputs', one later past
    a sum (a reduction's result exists only after the pass that sums it). Memoised."""

    def __init__(self, ssa: SSA):
        self.ssa = ssa
        self.avail: dict = {}  # element symbol -> earliest pass; tensor symbol -> first pass that can use it

    def _inputs(self, s):
        e = self.ssa.expr(s)
        return () if e is None else e.free_symbols

    def __call__(self, sym) -> int:
        for s in post_order(sym, self._inputs, self.avail):
            latest = max([self.avail[d] for d in self._inputs(s)], default=0)
            self.avail[s] = latest + 1 if s in self.ssa.reductions or s in self.ssa.matrix_steps else latest
        return self.avail[sym]


@dataclasses.dataclass
class _Needs:
    """What one pass must load or compute for the values it stores and sums."""

    loads: dict = dataclasses.field(default_factory=dict)  # array -> the symbol its loaded value stands for
    compute: set = dataclasses.field(default_factory=set)
    tensor_inputs: set = dataclasses.field(default_factory=set)
    conflict: str | None = None  # an array whose old value this pass reads, already overwritten


def _gather(ssa: SSA, q: int, root, write_pass: dict, finals_by_symbol: dict, need: _Needs,
            before: frozenset = frozenset()) -> None:
    """Add to ``need`` everything pass ``q`` must load or compute for ``root`` (depth-first, a stack).

    A value an earlier pass wrote back is loaded, not recomputed; an input array's old
    value is loaded, and if an earlier pass already overwrote that array that is a conflict.
    A matrix step's result is loaded from its array; a per-tensor value in ``before`` (made of
    shapes and host values only) is computed like an element value."""
    stack = [root]
    while stack:
        sym = stack.pop()
        level = ssa.level.get(sym, HOST)
        if level == HOST:
            continue
        if (level == TENSOR or level in AXES) and sym not in before:  # per tensor, row or column
            need.tensor_inputs.add(sym)
            continue
        if sym in ssa.matrix_steps:         # written by the matrix step after an earlier pass
            need.loads[sym.name] = sym
            continue
        array = finals_by_symbol.get(sym)
        if array is not None and write_pass[array] < q:
            need.loads[array] = sym         # written back by an earlier pass: load it
            continue
        if sym not in ssa.nodes:            # an input array's old value
            if write_pass.get(sym.name, q) < q:
                need.conflict = need.conflict or sym.name
            need.loads[sym.name] = sym
            continue
        if sym not in need.compute:
            need.compute.add(sym)
            stack.extend(reversed(list(ssa.nodes[sym].free_symbols)))


def _passes_of(ssa: SSA, write_pass: dict, red_pass: dict, matrix_pass: dict | None = None,
               before: frozenset = frozenset()) -> tuple[list, tuple | None]:
    """The passes of a schedule (the pass that writes each array, the pass that sums each
    reduction), or the first conflict ``(array, pass)`` that makes it impossible."""
    matrix_pass = matrix_pass or {}
    n_passes = 1 + max([*write_pass.values(), *red_pass.values(), *matrix_pass.values(), 0])
    finals_by_symbol = {ssa.finals[a]: a for a in write_pass}
    order = [*ssa.arrays, *ssa.scratch]
    passes = []
    for q in range(n_passes):
        stores = {a: ssa.finals[a] for a, p in write_pass.items() if p == q}
        stores.update(matrix.input_stores(ssa, matrix_pass, q))
        reds = [(r, ssa.reductions[r]) for r, p in red_pass.items() if p == q]
        need = _Needs()
        for root in [*stores.values(), *[d for _, e in reds for d in e.free_symbols]]:
            _gather(ssa, q, root, write_pass, finals_by_symbol, need, before)
        if need.conflict is not None:
            return passes, (need.conflict, q)
        passes.append(Pass(q, dict(sorted(need.loads.items(), key=lambda kv: order.index(kv[0]))),
                           [(s, ssa.nodes[s]) for s in _ordered(ssa, need.compute)],
                           stores, reds, _ordered(ssa, need.tensor_inputs) + matrix.shape_inputs(need.tensor_inputs)))
    return passes, None


def _tensor_stages(ssa: SSA, passes: list, earliest: _Earliest, before: frozenset = frozenset()) -> list:
    """The per-tensor values computed after each pass, each after the pass that makes its
    inputs: those some pass reads, and the new values of host states made of sums over
    every tensor (the runtime keeps them for the next step; one may need a stage after the
    last pass)."""
    after_passes = [f for f in ssa.host_states.values() if ssa.level.get(f) == TENSOR]
    after_passes += [ssa.finals[a] for a in ssa.axis_states if ssa.finals[a] in ssa.nodes]  # kept per row or column
    needed = ssa.reachable([*[s for p in passes for s in p.tensor_inputs], *after_passes])
    wanted = [s for s in ssa.nodes
              if (ssa.level[s] == TENSOR or ssa.level[s] in AXES) and s in needed and s not in before]
    stages: list = [[] for _ in range(max(len(passes) - 1, *[earliest(s) for s in wanted], 0))]
    for s in wanted:
        stages[earliest(s) - 1].append((s, ssa.nodes[s]))
    return stages


def plan_passes(ssa: SSA) -> tuple[list, list]:
    """Split a (specialised) SSA into passes and per-tensor stages.

    Each array is first scheduled in the earliest pass that can compute its final value,
    each sum in the pass before its first use; a pass that would read an array's old value
    after an earlier pass overwrote it moves that write to itself, and the passes are
    planned again (each retry moves a write later, so this ends)."""
    earliest = _Earliest(ssa)
    arrays = [a for a in ssa.arrays if a != "g"]
    write_pass = {a: earliest(ssa.finals[a]) for a in arrays if ssa.finals[a] != input_symbol(a)}
    live = ssa.reachable([ssa.finals[a] for a in write_pass]  # a sum nothing uses costs no pass
                         + [ssa.finals[a] for a in ssa.axis_states])
    red_pass = {r: earliest(r) - 1 for r in ssa.reductions if r in live}
    matrix_pass = matrix.input_passes(ssa, earliest, live)
    before = frozenset(matrix.known_before_passes(ssa))
    while True:
        passes, conflict = _passes_of(ssa, write_pass, red_pass, matrix_pass, before)
        if conflict is None:
            return passes, _tensor_stages(ssa, passes, earliest, before)
        name, q = conflict
        write_pass = {**write_pass, name: q}  # a later pass still reads the old value: write it there


def _host_closure(ssa: SSA, exprs) -> list:
    """Host nodes the given expressions need, in definition order."""
    roots = set().union(*[e.free_symbols for e in exprs]) if exprs else set()
    wanted = {s for s in ssa.reachable(roots) if s in ssa.nodes and ssa.level[s] == HOST}
    return [(s, ssa.nodes[s]) for s in _ordered(ssa, wanted)]


def stage(ssa: SSA) -> Staged:
    conditions = host_conditions(ssa)
    variants = {}
    for key in itertools.product((False, True), repeat=len(conditions)):
        v = _specialise(ssa, conditions, key)
        passes, tensor_stages = plan_passes(v)
        exprs = [e for p in passes for _, e in [*p.compute, *p.reductions]]
        exprs += [e for st in tensor_stages for _, e in st]
        exprs += list(v.host_states.values())  # host states advance every step
        exprs += [s for p in passes for s in p.stores.values()]  # a store of a host value: (w, 1.0), (m, lr)
        variants[key] = Variant(key, passes, tensor_stages, _host_closure(v, exprs),
                                matrix.steps_after_passes(v, passes))
    return Staged(ssa, conditions, _host_closure(ssa, conditions), variants)
