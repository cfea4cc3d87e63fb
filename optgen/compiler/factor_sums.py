"""Pass 1b: a per-tensor factor out of a sum or a mean, so that the sum can run in an earlier pass.

A per-tensor value is the same for every element of its tensor, so it leaves a tensor's sum or
a row's (column's) mean as a factor: ``row_mean((c g)^2) = c^2 row_mean(g^2)``. Where the
value is itself made of an earlier pass's sums, this moves the reduction before it. The case
that calls for it is ``clip_by_global_norm(adafactor)``: the clip factor ``c`` comes from the
global norm of pass 0, and Adafactor's row and column means of the clipped gradient's square
waited for it, a pass of their own (4 B a parameter, a seventh of the step). With ``c^2`` taken
out they join the norm in pass 0, and the step is three passes, as Adafactor's alone
(``optgen show`` on the spec, ``tests/test_factor_sums.py``).

What is rewritten: a per-tensor sum (``tensor_sum``) or a mean over an axis whose summand,
with its element values written out, is a product of factors of the host and tensor levels
(at least one of them a tensor's: a host value is known before any pass anyway) and a rest
that reads no per-tensor, row or column value. The sum becomes one of the rest, a new
reduction, and the old symbol a value of the per-tensor stage: the factors times that sum.
A sum over every tensor (``global_sum``) is left as it is: a tensor's factor differs between
tensors. Every built-in spec is unchanged by this pass (it finds nothing in them).

The sums differ from the unfactored ones by rounding only (``c^2`` multiplies once, in float64,
instead of scaling each element in the kernel's dtype).
"""
from __future__ import annotations

import dataclasses

import sympy

from .ssa import AXES, ELEMENT, HOST, SSA, TENSOR

#: the levels of the values a factor may read
_FACTOR_LEVELS = (HOST, TENSOR)


def factor_sums(ssa: SSA) -> SSA:
    """The SSA with each per-tensor factor taken out of the sums and means it multiplies."""
    rewrites = {}
    for r in ssa.reductions:
        if r in ssa.global_sums:
            continue
        found = _split_summand(ssa, r)
        if found is not None:
            rewrites[r] = found
    if not rewrites:
        return ssa
    names = set(ssa.names)
    reductions, level, axis_reductions = {}, dict(ssa.level), dict(ssa.axis_reductions)
    scaled = {}  # old reduction symbol -> its new node: factor * the new reduction
    for r, summand in ssa.reductions.items():
        if r not in rewrites:
            reductions[r] = summand
            continue
        factor, rest = rewrites[r]
        unscaled = _fresh(f"{r.name}_unscaled", names)
        reductions[unscaled] = rest
        level[unscaled] = ssa.level[r]
        if r in axis_reductions:
            axis_reductions[unscaled] = axis_reductions.pop(r)
        scaled[r] = factor * unscaled
    nodes = _insert_before_readers(ssa.nodes, scaled)
    if nodes is None:
        return ssa
    return dataclasses.replace(ssa, nodes=nodes, reductions=reductions, level=level,
                               axis_reductions=axis_reductions, names=names)


def _split_summand(ssa: SSA, r) -> tuple | None:
    """``(factor, rest)`` of reduction ``r``'s summand, or None when it has no per-tensor factor
    or the rest still reads a per-tensor, row or column value."""
    summand = _written_out(ssa, ssa.reductions[r])
    product = sympy.factor_terms(sympy.expand_power_base(sympy.powsimp(summand), force=True))
    factors, rest = [], []
    for f in sympy.Mul.make_args(product):
        levels = {ssa.level.get(s, HOST) for s in f.free_symbols}
        (factors if f.free_symbols and levels <= set(_FACTOR_LEVELS) else rest).append(f)
    if not any(ssa.level.get(s) == TENSOR for f in factors for s in f.free_symbols):
        return None
    rest_expr = sympy.Mul(*rest)
    if any(ssa.level.get(s, HOST) in (TENSOR, *AXES) for s in rest_expr.free_symbols):
        return None
    return sympy.Mul(*factors), rest_expr


def _written_out(ssa: SSA, expr):
    """``expr`` with its element values replaced by their expressions, down to the inputs."""
    replace = {s: _written_out(ssa, ssa.nodes[s]) for s in expr.free_symbols
               if ssa.level.get(s) == ELEMENT and s in ssa.nodes}
    return expr.xreplace(replace) if replace else expr


def _fresh(base: str, names: set) -> sympy.Symbol:
    name, k = base, 1
    while name in names:
        k += 1
        name = f"{base}{k}"
    names.add(name)
    return sympy.Symbol(name, real=True)


def _insert_before_readers(nodes: dict, scaled: dict) -> dict | None:
    """``nodes`` in order with each ``scaled`` value placed before its first reader (after what it
    reads); None if a reader comes before the factor's own values."""
    out: dict = {}
    pending = dict(scaled)
    for sym, expr in nodes.items():
        for r in [r for r in pending if r in expr.free_symbols]:
            value = pending.pop(r)
            if any(s in nodes and s not in out for s in value.free_symbols):
                return None
            out[r] = value
        out[sym] = expr
    out.update(pending)  # read by nothing but a final: after every node
    return out


__all__ = ["factor_sums"]
