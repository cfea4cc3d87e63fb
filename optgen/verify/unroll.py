"""Symbolic unrolling of a spec for k steps.

A spec is a list of assignments; one step applies them in order. Unrolling
applies them k times to symbolic inputs, so that after step j the parameter and
every state is an expression in

* the initial parameter ``w_0`` (one symbol per component),
* the initial states: their ``init`` (``0``, ``w_0``, ``|g_1|`` ...) or, with
  ``states0="symbolic"``, free symbols ``m_0, v_0, ...``,
* the gradients given by an :mod:`~optgen.verify.oracles` oracle (a sequence
  ``g_1..g_k`` or an uninterpreted ``grad F`` at the points the formulation
  evaluates it),
* the hyperparameters (the spec's symbols, which are the claim's: see :mod:`.symbols`;
  or values and expressions given by the claim, which may use ``t``),
* the step ``t``: ``1, 2, ..., k`` (Piecewise branches on ``t`` collapse), or
  ``T, T+1, ...`` from a symbolic start ``T``.

A :class:`Side` is one formulation: a spec (by name, object, or a function that
builds it) with options, hyperparameter values, initial values, and the point
where the gradient is taken (``grad_at``, default ``w``: Nesterov's shifted
form takes it at ``w + alpha v``). A vector parameter (``dim > 1``) is unrolled
per component; ``tensor_sum`` sums over the components.
"""
from __future__ import annotations

import dataclasses
from typing import Any

import sympy

from ..spec import GlobalSum, Spec, TensorSum
from ..symbols import g as G_SYM, t as T_SYM, w as W_SYM
from .oracles import Oracle, Sequence
from .symbols import sym

__all__ = ["Side", "Trajectory", "unroll", "W_PREV", "recursion", "intermediate", "symbol_named", "in_symbols_of"]

W_PREV = sym("w_prev", r"w_{\mathrm{prev}}")   # in observables: w before the step


@dataclasses.dataclass
class Side:
    """One formulation to unroll: a spec and how to run it."""

    spec: Any                                   # name, Spec, or a callable returning a Spec
    options: dict = dataclasses.field(default_factory=dict)
    hypers: dict = dataclasses.field(default_factory=dict)   # name -> value or expression
    init: dict = dataclasses.field(default_factory=dict)     # "w" or state -> expression in w (= w_0);
    #                                                          ``hypers`` do not apply to it
    grad_at: Any = None                         # point where g is evaluated (default: w)
    label: str = ""

    def load(self) -> Spec:
        spec = self.spec
        if callable(spec) and not isinstance(spec, Spec):
            spec = spec()
        from ..registry import load_spec
        spec = load_spec(spec)  # by name; a Spec object is validated
        return spec.resolve(**self.options) if spec.options or self.options else spec

    @property
    def name(self) -> str:
        if self.label:
            return self.label
        spec = self.spec
        base = spec if isinstance(spec, str) else getattr(spec, "name", getattr(spec, "__name__", "spec"))
        extra = [f"{k}={v}" for k, v in {**self.options, **self.hypers}.items()]
        return f"{base}({', '.join(extra)})" if extra else str(base)

    def spec_names(self) -> list[str]:
        return [self.spec] if isinstance(self.spec, str) else []


def _hyper_map(spec: Spec, given: dict) -> dict:
    out = {}
    names = {h.name for h in spec.hyper_symbols}
    for name, value in given.items():
        if name not in names:
            raise KeyError(f"spec {spec.name!r} has no hyperparameter {name!r} (it has {sorted(names)})")
        out[spec.declarations[name].symbol] = sympy.sympify(value)
    return out


def symbol_named(spec: Spec, name: str) -> sympy.Symbol:
    """The symbol ``name`` stands for in ``spec``: ``w``, ``g``, ``t``, a declared symbol, else an
    intermediate (what a claim's observable ``"m"`` or ``"w + momentum*v"`` names)."""
    if name in spec.declarations:
        return spec.declarations[name].symbol
    return {"w": W_SYM, "g": G_SYM, "t": T_SYM}.get(name) or sympy.Symbol(name, real=True)


def in_symbols_of(spec: Spec, x):
    """An observable in ``spec``'s symbols: an expression as it is, a string parsed, each name
    being the spec's symbol of that name."""
    if not isinstance(x, str):
        return sympy.sympify(x)
    parsed = sympy.parse_expr(x)
    return parsed.xreplace({s: symbol_named(spec, s.name) for s in parsed.free_symbols})


def _tensor_sums(expr, envs, i):
    """``expr`` for component ``i``, with each tensor_sum summed over all components."""
    if not expr.has(TensorSum, GlobalSum):
        return expr.xreplace(envs[i])
    sums = {ts: sympy.Add(*[_tensor_sums(ts.args[0], envs, k) for k in range(len(envs))])
            for ts in expr.atoms(TensorSum, GlobalSum)}
    return expr.xreplace(sums).xreplace(envs[i])


@dataclasses.dataclass
class Trajectory:
    """The unrolled values: ``envs[j][i]`` maps the spec's symbols to values after step
    ``j`` (``j = 0``: before the first step) for component ``i``."""

    side: Side
    spec: Spec
    steps: int
    t_values: list
    envs: list
    w0: list
    assignments: list = dataclasses.field(default_factory=list)  # [j][i] -> [(lhs, value)]

    def assigned(self, j: int, name: str, occurrence: int = 0, i: int = 0):
        """The value of the ``occurrence``-th assignment to ``name`` during step ``j``
        (e.g. the fast weights a lookahead step computes before it syncs them)."""
        found = [v for lhs, v in self.assignments[j][i] if lhs.name == name]
        return found[occurrence]

    def value(self, expr, j: int) -> list:
        """``expr`` (in the spec's symbols, ``w``, states, intermediates, ``t``,
        :data:`W_PREV`; a string names them) after step ``j``, one entry per component."""
        e = in_symbols_of(self.spec, expr)
        out = []
        for i, env in enumerate(self.envs[j]):
            full = dict(env)
            full[T_SYM] = self.t_values[j] if j else self.t_values[1] - 1
            full[W_PREV] = self.envs[j - 1][i][W_SYM] if j else env[W_SYM]
            out.append(_tensor_sums(e, [{**x, T_SYM: full[T_SYM]} for x in self.envs[j]], i).xreplace(full))
        return out


def unroll(side: Side, steps: int, oracle: Oracle | None = None, *, dim: int = 1,
           start: Any = 1, states0: str = "init", w0: list | None = None,
           hyper_map: dict | None = None, atoms: dict | None = None,
           given0: dict | None = None) -> Trajectory:
    """Apply ``side``'s equations ``steps`` times; see the module docstring.

    ``atoms`` maps a state name to an :class:`~optgen.verify.oracles.Atoms` table:
    its new value after each step is replaced by a (shared) atom. ``given0`` maps
    names (``"w"``, states) to initial values (one per component), overriding
    both the inits and the symbolic start (a state map from another formulation)."""
    spec = side.load()
    oracle = oracle or Sequence(dim)
    hmap = _hyper_map(spec, side.hypers)
    if hyper_map:
        hmap.update(hyper_map)
    eqs = [(lhs, rhs.xreplace(hmap)) for lhs, rhs in spec.equations]
    state_decl = {d.symbol: d for d in spec.states}
    states = list(state_decl)
    if w0 is None:
        w0 = [sym("w_0", "w_{0}")] if dim == 1 else [sym(f"w_0{i}", "w_{0,%d}" % i) for i in range(dim)]
    start = sympy.sympify(start)
    t_values = [start - 1 + j for j in range(steps + 1)]
    envs0 = [{W_SYM: w0[i]} for i in range(dim)]
    late: list = []   # states whose init needs the first gradient
    for s in states:
        if states0 == "symbolic":
            for i in range(dim):
                envs0[i][s] = sym(f"{s.name}_0", "%s_{0}" % s.name) if dim == 1 else \
                    sym(f"{s.name}_0{i}", "%s_{0,%d}" % (s.name, i))
            continue
        if s.name in side.init:   # a claim's expression: hypers not mapped
            init = sympy.sympify(side.init[s.name])
        elif state_decl[s].init is None:
            continue  # assigned before it is read (validated)
        else:
            init = state_decl[s].init.xreplace(hmap)
        if init.has(G_SYM):
            late.append((s, init))
            continue
        for i in range(dim):
            envs0[i][s] = init.xreplace({W_SYM: w0[i], T_SYM: t_values[1]})
    if "w" in side.init:
        for i in range(dim):
            envs0[i][W_SYM] = sympy.sympify(side.init["w"]).xreplace({W_SYM: w0[i]})
    for name, values in (given0 or {}).items():
        key = symbol_named(spec, name)
        for i in range(dim):
            envs0[i][key] = values[i]
    grad_at = in_symbols_of(spec, side.grad_at).xreplace(hmap) if side.grad_at is not None else W_SYM
    g_sym = G_SYM
    envs = [envs0]
    assignments: list = [[[] for _ in range(dim)]]
    for j in range(1, steps + 1):
        tj = t_values[j]
        cur = [dict(e) for e in envs[-1]]
        for e in cur:
            e[T_SYM] = tj
        point = [_tensor_sums(grad_at, cur, i) for i in range(dim)]
        grads = oracle.gradient(tj, point)
        for i in range(dim):
            cur[i][g_sym] = grads[i]
        if j == 1:
            for s, init in late:
                for i in range(dim):
                    cur[i][s] = init.xreplace({W_SYM: w0[i], g_sym: grads[i], T_SYM: tj})
        log: list = [[] for _ in range(dim)]
        for lhs, rhs in eqs:
            new = [_tensor_sums(rhs, cur, i) for i in range(dim)]
            if atoms and lhs.name in atoms:
                new = [atoms[lhs.name].atom(x, lhs.name) for x in new]
            for i in range(dim):
                cur[i][lhs] = new[i]
                log[i].append((lhs, new[i]))
        for e in cur:
            del e[T_SYM]
        envs.append(cur)
        assignments.append(log)
    return Trajectory(side, spec, steps, t_values, envs, w0, assignments)


def recursion(side: Side, target: str, start=None) -> tuple:
    """One step of ``side`` from symbolic states at a symbolic step ``T``.

    Returns ``(new value of target, {state name: its symbol before the step},
    gradient atom, T)``: the recursion ``target_T = f(target_{T-1}, g_T, T)`` that a
    closed form must satisfy.
    """
    T = start if start is not None else sym("T", integer=True, positive=True)
    traj = unroll(side, 1, Sequence(), start=T, states0="symbolic")
    before = {s.name: value for s, value in traj.envs[0][0].items()}
    new = traj.value(target, 1)[0]
    from .oracles import GRAD
    return new, before, GRAD[T], T



def intermediate(side: Side, name: str):
    """The value a spec assigns to ``name`` (an intermediate such as RAdam's ``rho_t``)
    in one step at a symbolic step ``t`` from symbolic states, in the spec's symbols."""
    T = sym("T", integer=True, positive=True)
    traj = unroll(side, 1, Sequence(), start=T, states0="symbolic")
    return traj.value(name, 1)[0].xreplace({T: T_SYM})
