"""Axis reductions' shapes and the per-tensor options: what the oracle and the runtimes share.

A tensor of shape (..., R, C) has rows (the last axis reduced: a row state has shape
(..., R, 1)) and columns (shape (..., 1, C)); leading axes are batch axes. A spec that
reduces over an axis says which tensors qualify with a per-tensor option
(``optgen.dsl.factored``): the runtime sets it from each tensor's shape when the optimizer
is made, so a 1-D tensor (or one whose last two axes are short) takes the other branch of
the equations, with its own kernels (docs/axis-reductions.md).
"""
from __future__ import annotations

import sympy

from .spec import AxisMean, Spec, SpecError


#: The shapes a value can have, as the names the messages use: one value per tensor (or step),
#: per matrix of the batch axes, per row, per column, per element.
SCALAR, BATCH, ROW, COL, FULL = "scalar", "batch", "row", "col", "full"


def _join(a: str, b: str) -> str:
    """The shape of a value made of an ``a`` and a ``b`` (numpy's broadcasting)."""
    rank = {SCALAR: 0, BATCH: 1, ROW: 2, COL: 2, FULL: 3}
    if a == b or rank[a] > rank[b]:
        return a if rank[a] >= rank[b] else b
    if rank[b] > rank[a]:
        return b
    return FULL  # a row and a column: a matrix


def _reduce(kind: str, operand: str) -> str:
    """The shape of row_mean / col_mean (``kind`` "row" / "col") of a value of shape ``operand``."""
    other = COL if kind == ROW else ROW
    if operand in (FULL, kind):
        return kind
    if operand == other:
        return BATCH  # the mean over a row of a per-column value: one per matrix
    return operand


def shape_of(expr, shapes: dict) -> str:
    """The shape of ``expr`` (one of ``SCALAR``, ``BATCH``, ``ROW``, ``COL``, ``FULL``), given the
    shapes of the symbols it reads (``shapes``: symbol -> shape; w and g are full, a symbol not in
    it is a scalar); a sum over a tensor or every tensor is a scalar."""
    from .spec import GlobalSum, TensorSum
    if isinstance(expr, (TensorSum, GlobalSum)):
        return SCALAR
    if isinstance(expr, AxisMean):
        return _reduce(expr.shape, shape_of(expr.args[0], shapes))
    if isinstance(expr, sympy.Symbol):
        return shapes.get(expr, SCALAR)
    out = SCALAR
    for a in expr.args:
        out = _join(out, shape_of(a, shapes))
    return out


def reduced_shape(shape: tuple, kind: str) -> tuple:
    """The shape of a ``kind`` ("full", "row", "col") value of a tensor of ``shape`` (keepdims)."""
    shape = tuple(shape)
    if kind == "row":
        return shape[:-1] + (1,)
    if kind == "col":
        return shape[:-2] + (1, shape[-1])
    return shape


def per_tensor_options(spec: Spec) -> dict:
    """``{name: min_dim_size_to_factor}`` of the options the runtime sets from each tensor's shape."""
    return {d.name: d.factor_min_dim for d in spec.declared("option") if d.factor_min_dim is not None}


def options_for_shape(spec: Spec, shape: tuple) -> dict:
    """The per-tensor options' values for a tensor of ``shape``: True where it has two or more axes
    and its last two are at least the option's ``min_dim_size_to_factor``."""
    shape = tuple(shape)
    return {name: len(shape) >= 2 and min(shape[-2:]) >= least
            for name, least in per_tensor_options(spec).items()}


def axis_reductions(spec: Spec) -> list[tuple[int, AxisMean]]:
    """``[(equation index, row_mean/col_mean node)]`` of a (resolved) spec, in order."""
    return [(i, node) for i, (_, rhs) in enumerate(spec.equations)
            for node in sorted(rhs.atoms(AxisMean), key=sympy.count_ops)]


def check_axes(spec: Spec, shape: tuple, where: str) -> None:
    """Refuse a tensor of fewer than two axes for a (resolved) spec that reduces over an axis."""
    found = axis_reductions(spec)
    if found and len(tuple(shape)) < 2:
        i, node = found[0]
        raise SpecError(f"{where}: a parameter of shape {tuple(shape)} meets {node} in {spec.where(i)}; "
                        f"row_mean and col_mean need a tensor of at least two axes (the last two are "
                        f"reduced, leading ones are batch axes): declare optgen.dsl.factored() and write the "
                        f"reduction in its branch, when(factored, ..., ...), so that such tensors take the other")



__all__ = ["shape_of", "SCALAR", "BATCH", "ROW", "COL", "FULL", "reduced_shape", "per_tensor_options", "options_for_shape", "axis_reductions", "check_axes"]
