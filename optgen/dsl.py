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
:func:`~optgen.matrix.newton_schulz` orthogonalises a tensor viewed as a matrix (Muon), and
``rows``, ``cols`` are that matrix's shape (optgen/matrix.py, docs/matrix-steps.md).
"""
from __future__ import annotations

import sympy
from sympy import (Abs, Eq, Ge, Gt, Le, Lt, Max, Min, Mod, Ne, Piecewise, Rational, atan, atan2, cos, cosh, erf,
                   exp, log, sign, sin, sinh, sqrt, tanh)

from .declarations import Domain, record
from .matrix import cols, newton_schulz, rows
from .spec import GlobalSum, Hyper, Option, Spec, SpecError, State, TensorSum, g, t, w

__all__ = [
    "Spec", "SpecError", "hyper", "option", "state", "var", "when", "tensor_sum", "norm",
    "global_sum", "global_norm", "newton_schulz", "rows", "cols",
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


def state(name: str, init=0, latex: str | None = None, doc: str = "") -> State:
    """A per-element buffer with its value before the first step.

    ``init`` may use ``w`` (e.g. slow weights start at the parameter) and ``g``
    (the first gradient, e.g. RMSProp's sigma_0 = |g_0|); ``None``: assigned before it is read.
    """
    return record("state", name, None if init is None else sympy.sympify(init), latex=latex, doc=doc)


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


def global_norm(expr):
    """Euclidean norm of ``expr`` over every tensor of the step, as ``optax.global_norm`` and
    ``torch.nn.utils.clip_grad_norm_``: sqrt(sum over tensors and elements of expr^2)."""
    return sqrt(GlobalSum(expr**2))
