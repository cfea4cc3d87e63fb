"""The spec language: what a spec file imports.

A spec reads like the paper::

    from optgen.dsl import Spec, hyper, state, w, g, t, sqrt

    lr = hyper("lr", 1e-3, latex=r"\\eta", domain="positive", doc="step size")
    m = state("m", init=0)
    spec = Spec("mine", [(m, 0.9 * m + g), (w, w - lr * m)])

Everything here is SymPy: ``sqrt``, ``Abs``, ``Max``, ``Min``, ``sign``, ``exp``,
``log``, ``tanh``, ``sinh``, ``cosh``, ``atan``, ``atan2`` (``atan2(m, sqrt(v))``,
Adam-atan2), ``erf``, ``sin``, ``cos`` and ``Piecewise`` are SymPy's own;
:func:`tensor_sum` and :func:`norm` reduce over one tensor, :func:`global_sum` and
:func:`global_norm` over every tensor the optimizer updates (its parameters, all dtypes together);
:func:`row_mean` and :func:`col_mean` over one axis of a tensor's last two (Adafactor's factored
statistics), whose results a state of that reduced shape may hold (``state(..., shape="row")``), and
:func:`factored` is the per-tensor option that chooses between a factored and an unfactored branch
(docs/axis-reductions.md).
:func:`~optgen.matrix.newton_schulz` orthogonalises a tensor viewed as a matrix (Muon), and
``rows``, ``cols`` are that matrix's shape (optgen/matrix.py, docs/matrix-steps.md).
"""
from __future__ import annotations

import sympy
from sympy import (Abs, Eq, Ge, Gt, Le, Lt, Max, Min, Mod, Ne, Piecewise, Rational, atan, atan2, cos, cosh, erf,
                   exp, log, sign, sin, sinh, sqrt, tanh)

from .declarations import Domain, record
from .matrix import cols, newton_schulz, rows
from .spec import ColMean, GlobalSum, Hyper, Option, RowMean, Spec, SpecError, State, TensorSum, g, t, w

__all__ = [
    "Spec", "SpecError", "hyper", "option", "state", "var", "when", "tensor_sum", "norm",
    "global_sum", "global_norm", "row_mean", "col_mean", "factored", "newton_schulz", "rows", "cols",
    "w", "g", "t", "sqrt", "Abs", "Max", "Min", "sign", "exp", "log", "Piecewise",
    "tanh", "sinh", "cosh", "atan", "atan2", "erf", "sin", "cos",
    "Eq", "Ne", "Gt", "Ge", "Lt", "Le", "Mod", "Rational",
]


def hyper(name: str, default: float, latex: str | None = None, domain: str = "real",
          doc: str = "") -> Hyper:
    """A real hyperparameter with its default, LaTeX symbol, domain and a one-line doc.

    Returns the symbol ``Hyper(name)`` (one object everywhere) and records the declaration:
    the next ``Spec`` made from equations that use it takes this default and domain."""
    return record("hyper", name, default, latex=latex, domain=Domain.parse(domain), doc=doc)


def option(name: str, default: bool = False, doc: str = "") -> Option:
    """A boolean that changes the algorithm; each value gets its own kernel."""
    return record("option", name, bool(default), doc=doc)


def state(name: str, init=0, latex: str | None = None, doc: str = "", shape: str = "full") -> State:
    """A per-element buffer with its value before the first step.

    ``init`` may use ``w`` (e.g. slow weights start at the parameter) and ``g``
    (the first gradient, e.g. RMSProp's sigma_0 = |g_0|); ``None``: assigned before it is read.
    ``shape="row"`` / ``"col"``: one value per row / per column of the tensor's last two axes
    (shape (..., R, 1) / (..., 1, C)), for the results of :func:`row_mean` / :func:`col_mean`; its
    init is then a constant or a hyperparameter.
    """
    if shape not in ("full", "row", "col"):
        raise SpecError(f"state {name!r}: shape={shape!r}; one of 'full' (one value per element), 'row' "
                        "(one per row: row_mean's shape) or 'col' (one per column: col_mean's shape)")
    return record("state", name, None if init is None else sympy.sympify(init), latex=latex, doc=doc,
                  shape=shape)


def factored(name: str = "factored", min_dim_size_to_factor: int = 1, doc: str = "") -> Option:
    """An option the runtime sets per tensor, from its shape, when the optimizer is created: True
    where the tensor has at least two axes and its last two are both at least
    ``min_dim_size_to_factor`` long (optax.adafactor's name; torch factors every tensor of two or
    more axes: 1), else False. Each value gets its own kernels, as any option does; never a
    per-element branch. It cannot be given at create time: the shapes decide."""
    if isinstance(min_dim_size_to_factor, bool) or not isinstance(min_dim_size_to_factor, int) \
            or min_dim_size_to_factor < 1:
        raise SpecError(f"factored({name!r}): min_dim_size_to_factor={min_dim_size_to_factor!r}; "
                        "a positive integer is required")
    return record("option", name, True, doc=doc or f"factor the second moment of tensors of two or more axes "
                  f"whose last two are at least {min_dim_size_to_factor} long (set per tensor from its shape)",
                  factor_min_dim=min_dim_size_to_factor)


def var(name: str) -> sympy.Symbol:
    """A named intermediate (any undeclared symbol assigned in the equations is one)."""
    return sympy.Symbol(name, real=True)


def when(condition, then, otherwise):
    """``then`` if ``condition`` else ``otherwise`` (a two-branch Piecewise)."""
    return Piecewise((then, condition), (otherwise, True))


def tensor_sum(expr):
    """Sum of ``expr`` over the elements of one tensor."""
    return TensorSum(expr)


def norm(expr):
    """Euclidean norm of ``expr`` over one tensor: sqrt(sum expr^2)."""
    return sqrt(TensorSum(expr**2))


def global_sum(expr):
    """Sum of ``expr`` over every element of every tensor of the step.

    Its value exists only after a full pass over all the parameters, so what reads it runs in
    a later pass (the compiler says which in ``optgen show --stage passes``)."""
    return GlobalSum(expr)


def row_mean(expr):
    """Mean of ``expr`` over the last axis of one tensor: one value per row (shape (..., R, 1)),
    broadcast back when an element equation reads it (r[i] at element (i, j)). The tensor needs
    at least two axes (leading ones are batch axes)."""
    return RowMean(expr)


def col_mean(expr):
    """Mean of ``expr`` over the second-to-last axis of one tensor: one value per column (shape
    (..., 1, C)), broadcast back when an element equation reads it (c[j] at element (i, j))."""
    return ColMean(expr)


def global_norm(expr):
    """Euclidean norm of ``expr`` over every tensor of the step, as ``optax.global_norm`` and
    ``torch.nn.utils.clip_grad_norm_``: sqrt(sum over tensors and elements of expr^2)."""
    return sqrt(GlobalSum(expr**2))
