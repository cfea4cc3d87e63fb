"""The reference oracle: a spec's equations evaluated directly.

One equation at a time, in float64, with ``sympy.lambdify`` and numpy, per
tensor, with none of the compiler's stages (no staging, no CSE, no templates, no
Numba). It is slow and obviously right; every generated kernel is tested
against it. ``tensor_sum`` is ``numpy.sum`` over the tensor; ``global_sum`` is
``numpy.sum`` over each tensor, added over the tensors: each equation is evaluated
for every tensor before the next one is. ``row_mean`` and ``col_mean`` are
``numpy.mean`` over the last / second-to-last axis with ``keepdims``, so that numpy's
broadcasting is the spec's (r[i] at element (i, j)); a state of a reduced shape keeps
that shape. A per-tensor option (``factored``) is set from each tensor's shape, and
that tensor's equations are the spec resolved with it. ``newton_schulz(e)`` is
``e`` over the whole tensor, viewed as its matrix and orthogonalised in float64
(``optgen.matrix.orthogonalise``); ``rows`` and ``cols`` are that matrix's shape.
"""
from __future__ import annotations

import copy
import functools
import math
from typing import Any, Sequence

import numpy as np
import sympy
from sympy.printing.numpy import NumPyPrinter

from .registry import load_spec
from .runtime import hypers as hyper_values
from .runtime.checks import check_grads, check_params
from .axes import check_axes, options_for_shape, reduced_shape
from .matrix import NewtonSchulz, check_matrix, orthogonalise, shape_values
from .spec import ColMean, GlobalSum, RowMean, Spec, SpecError, TensorSum

_MODULES = [{"TensorSum": np.sum, "functools": functools,
             "RowMean": lambda x: np.mean(x, axis=-1, keepdims=True),
             "ColMean": lambda x: np.mean(x, axis=-2, keepdims=True),  # the printer reduces Max/Min with functools
             "erf": np.vectorize(math.erf, otypes=[np.float64])}, "numpy"]  # numpy has no erf
#: An array of ones of the tensor's shape: ``tensor_sum(e)`` is evaluated as ``sum(e * ones)``,
#: so that a summand that does not vary per element (a constant, a hyperparameter) is still
#: summed once per element. Multiplying by 1.0 is exact.
ONES = sympy.Symbol("_ones", real=True)


class _BroadcastingPrinter(NumPyPrinter):
    """``And``/``Or`` as pairwise ``numpy.logical_and``/``logical_or``, which broadcast.

    NumPyPrinter prints ``logical_or.reduce((a, b))``, which needs operands of one shape,
    and a host condition (a scalar) ORed with a per-element one (an array) has two.
    """

    def _print_And(self, expr):
        return self._pairwise("numpy.logical_and", expr.args)

    def _print_Or(self, expr):
        return self._pairwise("numpy.logical_or", expr.args)

    def _print_TensorSum(self, expr):
        return f"TensorSum({self._print(expr.args[0])})"  # numpy.sum, from _MODULES

    def _print_RowMean(self, expr):
        return f"RowMean({self._print(expr.args[0])})"  # numpy.mean over axis -1, from _MODULES

    def _print_ColMean(self, expr):
        return f"ColMean({self._print(expr.args[0])})"  # numpy.mean over axis -2, from _MODULES

    def _print_erf(self, expr):
        return f"erf({self._print(expr.args[0])})"  # from _MODULES

    def _pairwise(self, fn, args):
        out = self._print(args[0])
        for a in args[1:]:
            out = f"{self._module_format(fn)}({out}, {self._print(a)})"
        return out


class _Equation:
    """One assignment, compiled by lambdify over the symbols it reads.

    Each ``global_sum`` in it is a symbol (``_global_0``, ...) whose value
    :meth:`global_sums` computes first, from the summand in every tensor's environment."""

    def __init__(self, target, expr, where: str = ""):
        self.target = target
        self.where = where
        self.reads = frozenset(s.name for s in expr.free_symbols)  # also inside its sums and matrix steps
        self.matrices = []  # [(symbol, _Equation of its input, NewtonSchulz)], innermost first
        for step in sorted(expr.atoms(NewtonSchulz), key=sympy.count_ops):
            sym = sympy.Symbol(f"_matrix_{id(self)}_{len(self.matrices)}", real=True)
            self.matrices.append((sym, _Equation(sym, step.args[0]), step))
            expr = expr.xreplace({step: sym})
        self.globals = []  # [(symbol, _Equation of its summand)], innermost first
        for gs in sorted(expr.atoms(GlobalSum), key=sympy.count_ops):
            sym = sympy.Symbol(f"_global_{id(self)}_{len(self.globals)}", real=True)
            self.globals.append((sym, _Equation(sym, gs.args[0])))
            expr = expr.xreplace({gs: sym})
        for reduction in (TensorSum, RowMean, ColMean):  # a constant summand still counts every element
            expr = expr.replace(reduction, lambda summand, r=reduction: r(summand * ONES))
        self.args = sorted(expr.free_symbols, key=lambda s: s.name)
        self.fn = sympy.lambdify(self.args, expr, modules=_MODULES, printer=_BroadcastingPrinter)

    def matrix_steps(self, env: dict, shape) -> None:
        """Put the value of each of its matrix steps into the tensor's environment: the iteration in
        float64 whatever precision the kernels run it in (``dtype``: how they compute, not what)."""
        for sym, inner, step in self.matrices:
            x = np.broadcast_to(np.asarray(inner(env), np.float64), shape).reshape(check_matrix(shape, self.where))
            env[sym.name] = orthogonalise(x, step.steps, step.coefficients, step.eps).reshape(shape)

    def __call__(self, env: dict):
        return self.fn(*(env[a.name] for a in self.args))


def _global_sums(equations: list, envs: list) -> None:
    """Put the value of each global sum of one equation (``equations[k]``: tensor k's version of
    it) into every tensor's environment: the sum over the tensors of each one's summand."""
    counts = {len(eq.globals) for eq in equations}
    if len(counts) > 1:
        raise SpecError(f"{equations[0].target}: a global sum sits in a branch of a per-tensor option "
                        "(factored); it would sum over the tensors of one branch only. Assign it above the branch")
    for j in range(counts.pop() if counts else 0):
        summands = [eq.globals[j][1] for eq in equations]
        _global_sums(summands, envs)
        total = sum(float(np.sum(summand(env) * env[ONES.name])) for summand, env in zip(summands, envs))
        for eq, env in zip(equations, envs):
            env[eq.globals[j][0].name] = total


class ReferenceOptimizer:
    """Same interface as :func:`optgen.create`: ``step``, ``state_dict``, ``load_state_dict``."""

    def __init__(self, spec: Spec, params: Sequence[np.ndarray], **given: Any):
        where = f"optgen.reference({spec.name!r})"
        self.params = check_params(params, where)
        self.options, self.values = hyper_values.resolve(spec, given)
        self.spec = spec.resolve(**self.options)
        self._where = where
        by_options: dict = {}  # the spec resolved with each tensor's per-tensor options
        compiled: dict = {}    # and its equations, compiled once each
        self._equations = []   # per tensor: its equations
        self._held = []        # per tensor: the states its equations leave as they are (identities)
        for p in self.params:
            shaped = options_for_shape(spec, p.shape)
            key = tuple(sorted(shaped.items()))
            if key not in by_options:
                by_options[key] = spec.resolve(**{**self.options, **shaped})
            resolved = by_options[key]
            check_axes(resolved, p.shape, where)
            if key not in compiled:  # an identity (a state the branch leaves alone) is no equation
                compiled[key] = [_Equation(lhs, rhs, f"{where}: {resolved.where(i)}") if rhs != lhs else None
                                 for i, (lhs, rhs) in enumerate(resolved.equations)]
            self._equations.append(compiled[key])
            self._held.append({lhs.name for lhs, rhs in resolved.equations if rhs == lhs})
        self._inits = {s.name: _Equation(s, s.init) for s in self.spec.states if s.init is not None}
        self._first_values = {s.name for s in self.spec.states if s.init is not None and s.init != 0}
        self._shapes = {s.name: s.shape for s in self.spec.states}
        self.t = 0
        self.states: list[dict[str, np.ndarray]] = [{} for _ in self.params]

    def step(self, grads: Sequence[np.ndarray]) -> None:
        grads = check_grads(grads, self.params, self._where)
        t = self.t + 1
        hyper = hyper_values.values_at(self.spec, self.values, t)
        envs = []
        with np.errstate(all="ignore"):  # Piecewise evaluates every branch
            for p, gr, states, eqs, held in zip(self.params, grads, self.states, self._equations, self._held):
                env: dict[str, Any] = dict(hyper)
                env.update(w=p.astype(np.float64), g=np.asarray(gr, dtype=np.float64), t=t)
                env[ONES.name] = np.ones(p.shape)
                env.update({k: float(v[0]) for k, v in shape_values([p.shape]).items()})  # rows, cols
                if t == 1 or not states:
                    for name, init in self._inits.items():
                        # a state held as it is with a first value other than zero keeps that value
                        # (a zero one is no memory): as the compiled step has it (compiler/ssa.py)
                        if not (self._uses(eqs, name) or (name in held and name in self._first_values)):
                            continue
                        shape = reduced_shape(p.shape, self._shapes[name]) if p.ndim >= 2 else p.shape
                        states[name] = np.broadcast_to(np.asarray(init(env), np.float64), shape).copy()
                env.update(states)
                envs.append(env)
            for i in range(len(self.spec.equations)):  # each equation for every tensor: a global sum sees them all
                pairs = [(p, eqs[i], env) for p, eqs, env in zip(self.params, self._equations, envs) if eqs[i]]
                _global_sums([eq for _, eq, _ in pairs], [env for _, _, env in pairs])
                for p, eq, env in pairs:
                    eq.matrix_steps(env, p.shape)
                    name = eq.target.name
                    if name != "w" and name not in self._shapes:  # an intermediate keeps numpy's shape
                        env[name] = eq(env)                      # (a row mean's stays one per row)
                        continue
                    shape = reduced_shape(p.shape, self._shapes.get(name, "full")) if p.ndim >= 2 \
                        else p.shape  # a row or column state keeps its shape; w and the others are the tensor's
                    env[name] = np.broadcast_to(eq(env), shape) if p.ndim else eq(env)
            for p, states, env in zip(self.params, self.states, envs):
                for s in self.spec.states:
                    if s.name in env:
                        states[s.name] = np.array(env[s.name], dtype=np.float64)
                p[...] = env["w"]
        self.t = t

    @staticmethod
    def _uses(equations: list, name: str) -> bool:
        """Whether a tensor's equations read or assign state ``name`` (the other branch's are not its states)."""
        return any(eq is not None and (eq.target.name == name or name in eq.reads)
                   for eq in equations)

    def state_dict(self) -> dict:
        return {"t": self.t, "states": copy.deepcopy(self.states),
                "hypers": dict(self.values), "options": dict(self.options)}

    def load_state_dict(self, sd: dict) -> None:
        self.t = int(sd["t"])
        self.states = copy.deepcopy(sd["states"])
        hyper_values.restore(self.values, sd.get("hypers", {}))


def reference(name: str | Spec, params: Sequence[np.ndarray], **hypers: Any) -> ReferenceOptimizer:
    """The oracle for optimizer ``name``: same interface as :func:`optgen.create`."""
    return ReferenceOptimizer(load_spec(name), params, **hypers)
