"""Running matrix steps between passes (``abi.MatrixStep``: Muon's Newton–Schulz).

The pass before a step has stored its input, elementwise, into the step's own array
(one per tensor, the parameter's size and dtype, allocated with the states but not one
of them: it is scratch, rewritten every step and never checkpointed). Here each
tensor's array is viewed as its matrix (first dimension by the rest, a view, no copy)
and the step overwrites it with its result, on the array's own library: numpy's
matmul, so BLAS, for numpy arrays and for the CPU tensors optgen.torch hands over as
numpy views, into buffers kept from step to step; torch's matmul for an iteration in
bfloat16 (which numpy does not have). The next pass loads the result.
"""
from __future__ import annotations

from typing import Sequence

import numpy as np

from .. import abi
from ..matrix import check_matrix


def check_matrix_shapes(module, shapes: Sequence, where: str) -> None:
    """Refuse a tensor that has no matrix (1-D, a scalar) when the module runs matrix steps."""
    steps = [m for v in module.VARIANTS.values() for after in v.matrix_steps for m in after]
    if not steps:
        return
    for i, shape in enumerate(shapes):
        check_matrix(shape, f"{where}: parameter {i}: {steps[0].equation}")


def run_matrix_step(step: abi.MatrixStep, arrays: Sequence, shapes: Sequence, work: dict | None = None) -> None:
    """Overwrite each tensor's flat array ``arrays[k]`` (of shape ``shapes[k]``) with the step of it;
    ``work`` keeps the iteration's buffers from step to step (one set per matrix shape and dtype)."""
    if step.kind != "newton_schulz":  # pragma: no cover - a module of a newer optgen
        raise ValueError(f"{step.equation}: unknown matrix step {step.kind!r}")
    work = {} if work is None else work
    iterate = newton_schulz_in_place if step.dtype is None else newton_schulz_bfloat16
    for flat, shape in zip(arrays, shapes):
        x = flat.reshape(check_matrix(shape, step.equation))
        iterate(x, step.steps, step.coefficients, step.eps, work)


def newton_schulz_in_place(x: np.ndarray, steps: int, coefficients, eps: float, work: dict) -> None:
    """Muon's iteration on the C-contiguous matrix ``x``, in place, in its dtype: the values of
    :func:`optgen.matrix.orthogonalise` (the oracle's, as the docs write it) to rounding, without
    its temporaries.

    ``a X + (b A + c A^2) X`` is formed as one matmul, ``(a I + b A + c A^2) X``: the identity
    folded into the small (k by k) matrix instead of two more passes over X per iteration (on a
    100k-parameter MLP those passes were a fifth of the step; the rounding moves by about an ulp
    of the diagonal, tests/test_muon.py). A tall ``x`` (rows > cols) is iterated as itself rather
    than as its transpose: ``A = x^T x``, ``x <- x B^T`` is the transpose of ``X <- B X`` for
    ``X = x^T``, and every array stays C-contiguous. Three matmuls per iteration into buffers kept
    in ``work``; no allocation the size of the matrix (on GPT-2 small the temporaries cost more
    than the matmuls: ``optgen bench muon --model gpt2-small --paired``)."""
    rows, cols = x.shape
    tall = rows > cols
    k = min(rows, cols)
    key = (x.shape, x.dtype.str)
    if key not in work:
        work[key] = (np.empty((k, k), x.dtype), np.empty((k, k), x.dtype), np.empty_like(x))
    gram, update, other = work[key]
    a, b, c = (x.dtype.type(v) for v in coefficients)
    np.divide(x, max(np.linalg.norm(x), x.dtype.type(eps)), out=x)
    diagonal = update.reshape(-1)[::k + 1]  # a view of the diagonal
    current, spare = x, other
    for _ in range(steps):
        np.matmul(current.T, current, out=gram) if tall else np.matmul(current, current.T, out=gram)
        np.matmul(gram, gram, out=update)
        update *= c
        gram *= b
        update += gram                   # b A + c A^2
        diagonal += a                    # a I + b A + c A^2
        np.matmul(current, update.T, out=spare) if tall else np.matmul(update, current, out=spare)
        current, spare = spare, current
    if current is not x:
        x[...] = current


def newton_schulz_bfloat16(x: np.ndarray, steps: int, coefficients, eps: float, work: dict) -> None:
    """The iteration as torch.optim.Muon runs it (``newton_schulz(..., dtype="bfloat16")``) on the
    numpy matrix ``x``: :func:`newton_schulz_torch` in bfloat16 on a torch view of ``x``'s memory
    (numpy has no bfloat16).

    On GPT-2 small's matrices torch's bfloat16 iteration ran 2.4x faster than numpy's float32 one
    on the 2-core machine (`optgen bench muon --model gpt2-small --paired`); it rounds each product
    to 8 bits of mantissa, as torch.optim.Muon does."""
    torch = _torch()
    newton_schulz_torch(torch.from_numpy(x), steps, coefficients, eps, work, torch.bfloat16)


def newton_schulz_torch(target, steps: int, coefficients, eps: float, work: dict, dtype=None) -> None:
    """torch.optim.Muon's iteration on the torch matrix ``target`` (CPU or CUDA), overwriting it:
    ``target`` rounded to ``dtype`` (None: its own), a tall matrix transposed, torch's matmuls in
    torch's order (``A = X X^T``, ``B = b A + c A A``, ``X = a X + B X``, each an ``addmm``), and the
    result written back in ``target``'s dtype. In bfloat16 the result is torch's
    ``_zeropower_via_newtonschulz`` to the bit (tests/test_muon.py). The products go into buffers
    kept in ``work``, contiguous ones only: X starts as a transposed view for a tall matrix, and an
    ``out=`` of that layout made torch compute into a temporary and copy (GPT-2's embedding, 922 ms
    a step against torch's 656)."""
    torch = _torch()
    a, b, c = (float(v) for v in coefficients)
    tall = target.shape[0] > target.shape[1]
    X = target.to(dtype or target.dtype, copy=True)
    X = X.T if tall else X
    key = ("torch", str(X.dtype), str(X.device), tuple(X.shape))
    if key not in work:
        k = X.shape[0]
        work[key] = tuple(torch.empty(shape, dtype=X.dtype, device=X.device)
                          for shape in ((k, k), (k, k), *[X.shape] * 2))
    gram, update, *results = work[key]
    X.div_(X.norm().clamp(min=eps))
    for i in range(steps):
        out = results[i % 2]
        torch.mm(X, X.T, out=gram)
        torch.addmm(gram, gram, gram, beta=b, alpha=c, out=update)
        torch.addmm(X, update, X, beta=a, out=out)
        X = out
    target.copy_(X.T if tall else X)


def _torch():
    try:
        import torch
    except ImportError:  # pragma: no cover - torch is installed wherever the tests run
        raise RuntimeError("this matrix step runs on torch's matmul (a bfloat16 iteration, or a CUDA array): "
                           "install torch (pip install torch), or leave newton_schulz's dtype out to iterate "
                           "in the parameter's dtype through numpy") from None
    return torch


__all__ = ["check_matrix_shapes", "run_matrix_step", "newton_schulz_in_place", "newton_schulz_bfloat16",
           "newton_schulz_torch"]
