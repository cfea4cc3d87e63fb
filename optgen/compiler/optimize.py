"""Pass 3: hoisting host work out of the loop, then common subexpressions.

*Hoisting.* Every maximal host-only subexpression of per-element work becomes a
host value, computed once per step in float64 and passed to the kernel: bias
corrections, ``1 - beta1``, and reciprocals — ``x / (1 - beta1**t)`` becomes
``x * h`` with ``h = 1 / (1 - beta1**t)``, because the host factors of a
product are grouped into one value. Measured on Adam: 0.8x of torch's fused
kernel with these in the loop, parity once hoisted (docs/design.md, "Performance model").

*CSE.* Within a pass, the values to store and to reduce are inlined down to
loads and host values and handed to ``sympy.cse``; temporaries that equal a
named value of the spec keep its name, so the kernel reads like the equations.
No ``simplify``: it is slow and may change the rounding. A value too big to
inline (``MAX_INLINE_SIZE``: long chains of intermediates) stays a named value
that the kernel assigns, so compile time grows with the spec, not with the size
of its inlined trees.
"""
from __future__ import annotations

import dataclasses
import heapq

import sympy
from sympy.functions.elementary.piecewise import ExprCondPair
from sympy.logic.boolalg import BooleanAtom

from ..names import fresh_names
from .ssa import AXES, ELEMENT, HOST, SSA, TENSOR
from .stage import Pass, Staged
from .traverse import post_order


@dataclasses.dataclass(frozen=True)
class KernelPass:
    """A pass ready to print: straight-line code per element."""

    index: int
    loads: dict          # array -> symbol
    body: list           # [(symbol, expr)] in order
    stores: dict         # array -> symbol or expr
    reductions: list     # [(reduction symbol, expr)]
    host_args: list      # host symbols the body reads (hypers, host values, t)
    tensor_args: list    # per-tensor symbols the body reads
    global_sums: frozenset = frozenset()  # the reductions summed over every tensor (global_sum)
    axis_args: list = dataclasses.field(default_factory=list)  # row / column values the body reads
    #: the kind ("row" / "col") of each axis argument and of each axis reduction (row_mean, col_mean)
    axis_kinds: dict = dataclasses.field(default_factory=dict)


@dataclasses.dataclass(frozen=True)
class KernelVariant:
    key: tuple
    host: list           # [(symbol, expr)] host values, in order (float64, per step)
    passes: list         # [KernelPass]
    tensor_stages: list  # [[(symbol, expr)]]
    host_states: dict = dataclasses.field(default_factory=dict)  # name -> symbol of its new value
    #: every value of the step with one value per row or column: symbol -> "row" / "col"
    axis_kinds: dict = dataclasses.field(default_factory=dict)
    axis_states: dict = dataclasses.field(default_factory=dict)  # name -> "row" / "col" (ssa.axis_states)
    matrix_steps: list = dataclasses.field(default_factory=list)  # [[(symbol, step)]] after each pass


class HostHoister:
    """Replaces host-only subexpressions with named host values (shared across passes).

    Memoised on the expression: the inlined values of a pass share subexpressions, and
    rebuilding each shared one for every value that contains it costs SymPy's
    constructor (and its assumption queries) again and again."""

    def __init__(self, ssa: SSA, prefix: str = "h"):
        self.ssa = ssa
        self.level = dict(ssa.level)  # the SSA's levels and the host values named here (the SSA stays as it is)
        self.values: dict = {}   # expr -> symbol
        self.assignments: list = []
        self.names = set(ssa.names)  # in use: the spec's, the SSA's, and the host values named here
        self._fresh = fresh_names(prefix, self.names)
        self._hoisted: dict = {}  # expr -> its hoisted form
        self._host: dict = {}     # expr -> whether it is host-only

    def is_host(self, e) -> bool:
        if e not in self._host:
            self._host[e] = all(self.level.get(s, HOST) == HOST for s in e.free_symbols)
        return self._host[e]

    def _name(self, e):
        if isinstance(e, (sympy.Symbol, sympy.Number, BooleanAtom)) or e.is_Number:
            return e
        if e not in self.values:
            sym = sympy.Symbol(next(self._fresh), real=True)
            self.values[e] = sym
            self.assignments.append((sym, e))
            self.level[sym] = HOST
        return self.values[e]

    def __call__(self, e):
        if e not in self._hoisted:
            self._hoisted[e] = self._hoist(e)
        return self._hoisted[e]

    def _hoist(self, e):
        if isinstance(e, ExprCondPair):  # a branch of a Piecewise is not a value: hoist inside it
            return ExprCondPair(self(e.expr), self(e.cond))
        if self.is_host(e):
            return self._name(e)
        if isinstance(e, (sympy.Add, sympy.Mul)):
            host = [a for a in e.args if self.is_host(a)]
            rest = [self(a) for a in e.args if not self.is_host(a)]
            if len(host) > 1 or (host and not (host[0].is_Symbol or host[0].is_Number)):
                numbers = [a for a in host if a.is_Number]
                if len(numbers) == len(host):
                    return e.func(*host, *rest)
                host = [self._name(e.func(*host))]
            return e.func(*host, *rest)
        if e.args:
            return e.func(*[self(a) for a in e.args])
        return e


class AxisHoister(HostHoister):
    """Replaces subexpressions with one value per row (or per column) of a matrix with named axis
    values, which the per-tensor stage before the first pass that reads them computes (float64,
    over every row or column of the group at once, then rounded to the kernel's dtype).

    Adafactor's ``r c / max(mean(r), eps1)``: ``c / max(mean(r), eps1)`` is one value per
    column, so the kernels divide once per column instead of once per element (two divisions
    and a square root per element were what held its factored passes to 0.4 of the streaming
    floor on GPT-2 small, ``optgen bench adafactor --model gpt2-small --paired``). Only in a
    pass after the first (a stage runs before it); host and per-tensor values may join in."""

    def __init__(self, ssa: SSA, host: HostHoister, kind: str):
        super().__init__(ssa, prefix=kind)
        self.level = host.level  # one table: the host values, and each kind's named values
        self.names = host.names
        self._fresh = fresh_names(f"{kind}_value", self.names, sep="_")
        self.kind = kind
        self.first_pass: dict = {}  # symbol -> the first pass that reads it
        self.current_pass = 0

    def is_host(self, e) -> bool:
        if e not in self._host:
            levels = {self.level.get(s, ELEMENT) for s in e.free_symbols}
            self._host[e] = levels <= {HOST, TENSOR, self.kind}
        return self._host[e]

    def _name(self, e):
        if not any(self.level.get(s) == self.kind for s in e.free_symbols) or isinstance(e, sympy.Symbol):
            return e  # a host or per-tensor value: not this hoister's
        sym = self.values.get(e)
        super()._name(e)
        if sym is None:
            sym = self.values[e]
            self.level[sym] = self.kind
            self.first_pass[sym] = self.current_pass
        return sym

    def stages(self, tensor_stages: list) -> None:
        """Append each named value to the stage before the first pass that reads it."""
        for sym, e in self.assignments:
            tensor_stages[self.first_pass[sym] - 1].append((sym, e))


# An element value whose inlined expression would be bigger than this is not inlined
# into the values that use it: it stays a named value the kernel assigns. Inlining is
# what lets CSE and the hoister see across equations, but an inlined tree doubles with
# every value used twice (and deepens with every value used once), and every SymPy
# pass, the printer and Python's parser walk trees. The largest inlined value of the
# specs in this repository has 123 nodes and depth 15, well under these.
MAX_INLINE_SIZE = 400
MAX_INLINE_DEPTH = 40


def _measure(e, memo: dict) -> tuple:
    """(tree size, depth) of ``e``, memoised on shared subexpressions."""
    for x in post_order(e, lambda x: x.args, memo):
        sizes = [memo[a] for a in x.args]
        memo[x] = (1 + sum(s for s, _ in sizes), 1 + max((d for _, d in sizes), default=0))
    return memo[e]


def _inline_pass(p: Pass, loaded: set) -> tuple[dict, list]:
    """Every computed element value of ``p`` inlined down to loads, in definition order.

    Returns ``(inlined, kept)``: ``inlined[s]`` is what stands for ``s`` in the values
    that use it, ``kept`` the ``[(s, inlined expression)]`` too big to inline (see
    ``MAX_INLINE_SIZE``), for which ``inlined[s]`` is ``s`` itself. One pass in order,
    no recursion: ``p.compute`` is in dependency order.
    """
    inlined, kept, memo = {}, [], {}
    for sym, e in p.compute:
        repl = {s: inlined[s] for s in e.free_symbols if s in inlined and s not in loaded}
        x = e.xreplace(repl) if repl else e
        size, depth = _measure(x, memo)
        if size > MAX_INLINE_SIZE or depth > MAX_INLINE_DEPTH:
            kept.append((sym, x))
            x = sym
        inlined[sym] = x
    return inlined, kept


def _inline(inlined: dict, expr, loaded: set):
    """``expr`` with the pass's computed values substituted (``inlined`` from ``_inline_pass``)."""
    repl = {s: inlined[s] for s in expr.free_symbols if s in inlined and s not in loaded}
    return expr.xreplace(repl) if repl else expr


def optimise_pass(ssa: SSA, p: Pass, hoist: HostHoister, axis_hoists: tuple = ()) -> KernelPass:
    loaded = set(p.loads.values())
    inlined, kept = _inline_pass(p, loaded)
    kept_symbols = {s for s, _ in kept}
    names = {}  # inlined expression -> the spec's name for it
    for sym, _ in p.compute:
        if sym not in kept_symbols:
            names.setdefault(inlined[sym], sym)
    outputs = [e for _, e in kept]
    outputs += [_inline(inlined, s, loaded) for s in p.stores.values()]
    outputs += [_inline(inlined, e, loaded) for _, e in p.reductions]
    outputs = [hoist(o) for o in outputs]
    for axis_hoist in axis_hoists if p.index > 0 else ():
        axis_hoist.current_pass = p.index
        outputs = [axis_hoist(o) for o in outputs]
    levels = {**ssa.level, **{s: ah.kind for ah in axis_hoists for s in ah.first_pass}}
    hoisted_names = {hoist(k): v for k, v in names.items()}
    # temporaries named outside every name in use (sympy.cse skips only identical symbols)
    symbols = (sympy.Symbol(n) for n in fresh_names("x", set(hoist.names)))
    temps, reduced = sympy.cse(outputs, symbols=symbols, order="none")
    rename, body, expanded = {}, [], {}
    for tmp, e in temps:
        e = e.xreplace(rename)
        full = _expand(e, expanded)
        named = hoisted_names.get(full)
        new = named if named is not None and named not in expanded and named not in kept_symbols else tmp
        rename[tmp] = new
        expanded[new] = full
        body.append((new, e))
    reduced = [r.xreplace(rename) for r in reduced]
    if kept:
        body = _in_dependency_order(body + [(s, e) for (s, _), e in zip(kept, reduced)])
        reduced = reduced[len(kept):]
    n_stores = len(p.stores)
    stores = dict(zip(p.stores, reduced[:n_stores]))
    # name the stored values after the spec's values where the store is not a plain symbol
    for array, e in list(stores.items()):
        if not e.is_Symbol:
            sym = p.stores[array]
            body.append((sym, e))
            stores[array] = sym
    reductions = [(r, e) for (r, _), e in zip(p.reductions, reduced[n_stores:])]
    free = set().union(*[e.free_symbols for _, e in body], *[e.free_symbols for _, e in reductions],
                       *[e.free_symbols for e in stores.values()]) if (body or reductions or stores) else set()
    defined = {s for s, _ in body} | loaded
    host_args = sorted((s for s in free - defined if hoist.level.get(s) == HOST), key=lambda s: s.name)
    tensor_args = [s for s in p.tensor_inputs if s in free and ssa.level.get(s) not in AXES]
    axis_args = [s for s in p.tensor_inputs if s in free and ssa.level.get(s) in AXES]
    axis_args += sorted((s for ah in axis_hoists for s in ah.first_pass if s in free), key=lambda s: s.name)
    kinds = {s: levels[s] for s in [*axis_args, *(r for r, _ in reductions if r in ssa.axis_reductions)]}
    return KernelPass(p.index, p.loads, body, stores, reductions, host_args, tensor_args,
                      frozenset(r for r, _ in reductions if r in ssa.global_sums), axis_args, kinds)


def _expand(e, expanded: dict):
    """``e`` with the temporaries defined so far substituted (to match a spec name).
    ``expanded`` holds each earlier temporary already expanded, so one substitution does."""
    repl = {s: expanded[s] for s in e.free_symbols if s in expanded}
    return e.xreplace(repl) if repl else e


def _in_dependency_order(assignments: list) -> list:
    """``[(symbol, expr)]`` reordered so that each comes after what it reads, otherwise
    as given (CSE temporaries first, then the kept values): Kahn's algorithm, earliest first."""
    index = {s: i for i, (s, _) in enumerate(assignments)}
    waiting = [{d for d in e.free_symbols if d in index} for _, e in assignments]
    readers: dict = {}
    for i, deps in enumerate(waiting):
        for d in deps:
            readers.setdefault(d, []).append(i)
    ready = [i for i, deps in enumerate(waiting) if not deps]
    heapq.heapify(ready)
    out = []
    while ready:
        i = heapq.heappop(ready)
        out.append(assignments[i])
        for j in readers.get(assignments[i][0], ()):
            waiting[j].discard(assignments[i][0])
            if not waiting[j]:
                heapq.heappush(ready, j)
    return out


def live_host_values(pairs, needed) -> list:
    """The host assignments that ``needed`` depends on, in order. A value the hoister named and
    CSE then made unused (RAdam's ``h4`` in the branch a variant does not take) is dropped."""
    live, keep = set(needed), []
    for sym, expr in reversed(pairs):
        if sym in live:
            keep.append((sym, expr))
            live |= expr.free_symbols
    return keep[::-1]


def optimise(staged: Staged) -> dict:
    """Every variant, hoisted and CSE'd: ``{key: KernelVariant}``, its host stage only what the
    kernels, the per-tensor stages and the host states take."""
    out = {}
    host_states = dict(staged.ssa.host_states)
    axis_kinds = {s: level for s, level in staged.ssa.level.items() if level in AXES}
    for key, v in staged.variants.items():
        hoist = HostHoister(staged.ssa)
        axis_hoists = tuple(AxisHoister(staged.ssa, hoist, kind) for kind in AXES) if axis_kinds else ()
        passes = [optimise_pass(staged.ssa, p, hoist, axis_hoists) for p in v.passes]
        tensor_stages = [[(s, e) for s, e in st] for st in v.tensor_stages]
        kinds = dict(axis_kinds)
        for ah in axis_hoists:
            ah.stages(tensor_stages)
            kinds.update({s: ah.kind for s in ah.first_pass})
        needed = {s for p in passes for s in p.host_args} | set(host_states.values())
        needed |= {s for st in tensor_stages for _, e in st for s in e.free_symbols}
        out[key] = KernelVariant(key, live_host_values([*v.host, *hoist.assignments], needed), passes,
                                 tensor_stages, host_states, axis_kinds=kinds,
                                 axis_states=dict(staged.ssa.axis_states), matrix_steps=v.matrix_steps)
    return out
