"""Running matrix steps between passes (``abi.MatrixStep``: Muon's Newton–Schulz).

The pass before a step has stored its input, elementwise, into the step's own array
(one per tensor, the parameter's size and dtype, allocated with the states but not one
of them: it is scratch, rewritten every step and never checkpointed). Here each
tensor's array is viewed as its matrix (first dimension by the rest, a view, no copy)
and the step overwrites it with its result, on the array's own library: numpy's
matmul, so BLAS, for numpy arrays and for the CPU tensors optgen.torch hands over as
numpy views. The next pass loads the result.
"""
from __future__ import annotations

from typing import Sequence

from .. import abi
from ..matrix import check_matrix, orthogonalise


def check_matrix_shapes(module, shapes: Sequence, where: str) -> None:
    """Refuse a tensor that has no matrix (1-D, a scalar) when the module runs matrix steps."""
    steps = [m for v in module.VARIANTS.values() for after in v.matrix_steps for m in after]
    if not steps:
        return
    for i, shape in enumerate(shapes):
        check_matrix(shape, f"{where}: parameter {i}: {steps[0].equation}")


def run_matrix_step(step: abi.MatrixStep, arrays: Sequence, shapes: Sequence) -> None:
    """Overwrite each tensor's flat array ``arrays[k]`` (of shape ``shapes[k]``) with the step of it."""
    if step.kind != "newton_schulz":  # pragma: no cover - a module of a newer optgen
        raise ValueError(f"{step.equation}: unknown matrix step {step.kind!r}")
    for flat, shape in zip(arrays, shapes):
        x = flat.reshape(check_matrix(shape, step.equation))
        x[...] = orthogonalise(x, step.steps, step.coefficients, step.eps)


__all__ = ["check_matrix_shapes", "run_matrix_step"]
