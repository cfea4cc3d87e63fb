"""Matrix steps: updates that are not elementwise, on a tensor viewed as a matrix.

A spec writes ``newton_schulz(expr, steps=5, coefficients=(a, b, c), eps=1e-7)``:
the orthogonalisation of Muon (Jordan et al. 2024, torch.optim.Muon's
``_zeropower_via_newtonschulz``). The element expression ``expr`` is formed for
every element of a tensor; the tensor is viewed as a matrix (its first dimension by
the product of the others, as torch's and optax's Muon reshape an N-D weight) and::

    X = expr / max(||expr||_F, eps)      (torch's clamp(min=eps) of the Frobenius norm)
    X = X^T                               if rows > cols
    repeat steps times:  A = X X^T;  X = a X + (b A + c A^2) X
    X = X^T                               if rows > cols

Each singular value s of X goes through the odd quintic p(s) = a s + b s^3 + c s^5,
``steps`` times; the singular vectors stay (``optgen/specs/derivations/muon.py``
checks the band that p's iterates keep). The result is an element value again:
what reads it is elementwise, and the compiler fuses it on either side
(``optgen/compiler/matrix.py`` places the step between passes,
``optgen/runtime/matrix.py`` runs it on the tensor's own array library).

``dtype="bfloat16"`` runs the iteration in bfloat16, as torch.optim.Muon does
(``grad.bfloat16()`` before its loop): X is rounded to bfloat16, the loop's matmuls are
torch's bfloat16 ones (numpy has no bfloat16), and the result is widened back. It is how
the kernels compute, not what: the oracle evaluates the same equation in float64.

``rows`` and ``cols`` are per-tensor values: the matrix's shape (Muon's learning-rate
adjustment, torch's ``adjust_lr_fn``). A tensor of fewer than two dimensions has no
matrix: a spec with a matrix step refuses it (so does torch.optim.Muon).
"""
from __future__ import annotations

import math

import numpy as np
import sympy
from sympy.core.symbol import Str

from .declarations import SpecError

#: torch.optim.Muon's defaults (Keller Jordan's coefficients: the largest slope at zero).
DEFAULT_COEFFICIENTS = (3.4445, -4.7750, 2.0315)
DEFAULT_STEPS = 5
DEFAULT_EPS = 1e-7
MAX_STEPS = 99  # torch: "Number of steps must be less than 100"
#: the precisions an iteration may run in other than its input's own (None)
MATRIX_DTYPES = ("bfloat16",)

ALLOWED = "tensors of two or more dimensions (an N-D tensor is its first dimension by the product of the rest)"


class TensorShape(sympy.Symbol):
    """A per-tensor value of the tensor's matrix shape: ``rows`` or ``cols``."""

    def __new__(cls, name: str):
        return super().__new__(cls, name, positive=True, integer=True)


rows = TensorShape("rows")
cols = TensorShape("cols")


class NewtonSchulz(sympy.Function):
    """``newton_schulz(expr, steps, a, b, c, eps[, dtype])``: the orthogonalised matrix of ``expr``,
    an element value. Its arguments after the first are the iteration's constants (numbers) and,
    where given, the precision it runs in (a ``Str``)."""

    nargs = (6, 7)
    is_real = True

    @property
    def dtype(self) -> str | None:
        """The precision of the iteration (``MATRIX_DTYPES``), or None: the dtype of its input."""
        return str(self.args[6]) if len(self.args) > 6 else None

    @property
    def steps(self) -> int:
        return int(self.args[1])

    @property
    def coefficients(self) -> tuple[float, float, float]:
        return tuple(float(c) for c in self.args[2:5])

    @property
    def eps(self) -> float:
        return float(self.args[5])

    def _sympystr(self, printer):
        return (f"newton_schulz({printer._print(self.args[0])}, steps={self.steps}, "
                f"coefficients={self.coefficients}, eps={self.eps:g}"
                + (f", dtype={self.dtype!r})" if self.dtype else ")"))

    def _latex(self, printer):
        return r"\operatorname{NS}_{%d}\left(%s\right)" % (self.steps, printer._print(self.args[0]))


def newton_schulz(expr, steps: int = DEFAULT_STEPS, coefficients=DEFAULT_COEFFICIENTS, eps: float = DEFAULT_EPS,
                  dtype: str | None = None):
    """Muon's orthogonalisation of ``expr`` viewed as a matrix (module docstring); ``dtype`` None
    iterates in the parameter's dtype, "bfloat16" as torch.optim.Muon does."""
    if isinstance(steps, bool) or not isinstance(steps, int) or not 1 <= steps <= MAX_STEPS:
        raise SpecError(f"newton_schulz: steps={steps!r}; an integer from 1 to {MAX_STEPS} is allowed")
    coefficients = tuple(coefficients)
    if len(coefficients) != 3 or not all(isinstance(c, (int, float)) and math.isfinite(c) for c in coefficients):
        raise SpecError(f"newton_schulz: coefficients={coefficients!r}; three finite numbers (a, b, c) are allowed")
    if not isinstance(eps, (int, float)) or not eps > 0:
        raise SpecError(f"newton_schulz: eps={eps!r}; a positive number is allowed")
    if dtype is not None and dtype not in MATRIX_DTYPES:
        raise SpecError(f"newton_schulz: dtype={dtype!r}; allowed: None (the parameter's dtype) or 'bfloat16' "
                        "(torch.optim.Muon's precision, through torch's matmul)")
    return NewtonSchulz(sympy.sympify(expr), sympy.Integer(steps), *[sympy.Float(c) for c in coefficients],
                        sympy.Float(eps), *([Str(dtype)] if dtype else []))


def matrix_equations(spec) -> list[int]:
    """Indices of the equations with a matrix step or a tensor's matrix shape (``rows``, ``cols``)."""
    return [i for i, (_, rhs) in enumerate(spec.equations)
            if rhs.atoms(NewtonSchulz) or any(isinstance(s, TensorShape) for s in rhs.free_symbols)]


def uses_matrices(spec) -> bool:
    """Whether a spec has matrix steps or reads a tensor's matrix shape (then its tensors need two or
    more dimensions, and only the CPU target builds it)."""
    return bool(matrix_equations(spec))


def matrix_shape(shape) -> tuple[int, int]:
    """(rows, cols) of a tensor viewed as a matrix: the first dimension by the product of the rest."""
    shape = tuple(int(n) for n in shape)
    if len(shape) < 2:
        raise ValueError(f"shape {shape} has no matrix; allowed: {ALLOWED}")
    return shape[0], math.prod(shape[1:])


def check_matrix(shape, where: str) -> tuple[int, int]:
    """``matrix_shape``, or a :class:`SpecError` naming ``where`` (the spec file and equation)."""
    try:
        return matrix_shape(shape)
    except ValueError:
        raise SpecError(f"{where}: a matrix step (newton_schulz) cannot run on a tensor of shape {tuple(shape)} "
                        f"({len(tuple(shape))}-D); allowed: {ALLOWED}. Give such tensors (biases, norms) "
                        "to another optimizer, as torch.optim.Muon asks") from None


def orthogonalise(x: np.ndarray, steps: int, coefficients, eps: float) -> np.ndarray:
    """The Newton–Schulz iteration on a 2-D array, in its own dtype (numpy matmul: BLAS)."""
    a, b, c = (x.dtype.type(v) for v in coefficients)
    tall = x.shape[0] > x.shape[1]
    X = x.T if tall else x
    X = X / max(np.linalg.norm(X), x.dtype.type(eps))
    for _ in range(steps):
        A = X @ X.T
        X = a * X + (b * A + c * (A @ A)) @ X
    return X.T if tall else X


def shape_values(shapes) -> dict:
    """``rows`` and ``cols`` of each tensor (float64, one per tensor); 1 where a tensor has no matrix."""
    pairs = [matrix_shape(s) if len(s) >= 2 else (1, 1) for s in shapes]
    return {"rows": np.array([p[0] for p in pairs], np.float64), "cols": np.array([p[1] for p in pairs], np.float64)}


__all__ = ["newton_schulz", "uses_matrices", "NewtonSchulz", "TensorShape", "rows", "cols", "matrix_shape", "check_matrix",
           "orthogonalise", "shape_values", "DEFAULT_COEFFICIENTS", "DEFAULT_STEPS", "DEFAULT_EPS", "MATRIX_DTYPES",
           "ALLOWED"]
