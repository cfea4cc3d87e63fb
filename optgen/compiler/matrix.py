"""Placing matrix steps between passes (``newton_schulz``, optgen/matrix.py).

A matrix step's result exists only after its input is formed for every element of
the tensor, like a sum's: the pass planner (``stage.py``) treats it as one. The pass
before it stores the input into the step's own array (``ns_1``, elementwise, fused
with whatever else that pass computes); between that pass and the next the runtime
runs the step on that array in place (``runtime/matrix.py``); later passes load the
result like any array written back. What the step reads and what reads it stay
elementwise kernels, fused on either side.

A value made of ``rows``, ``cols`` and host values only (Muon's learning-rate
adjustment) is per tensor but known before any pass: the kernels compute it from the
per-tensor shape table, so it needs no stage of its own.

The CUDA target runs the step on torch's device matmul (runtime/cuda_matrix.py).
"""
from __future__ import annotations

from .. import abi
from ..matrix import TensorShape
from .ssa import SSA, TENSOR


def input_passes(ssa: SSA, earliest, live: set) -> dict:
    """The pass that stores each matrix step's input: the one before the first that can use its result."""
    return {m: earliest(m) - 1 for m in ssa.matrix_steps if m in live}


def input_stores(ssa: SSA, matrix_pass: dict, q: int) -> dict:
    """The stores of pass ``q`` into the matrix steps' arrays: array name -> the input's symbol."""
    return {m.name: ssa.matrix_steps[m].args[0] for m, p in matrix_pass.items() if p == q}


def known_before_passes(ssa: SSA) -> set:
    """Per-tensor values that need no sum and no matrix step (only shapes and host values):
    the kernels compute them like element values."""
    pending = set(ssa.reductions) | set(ssa.matrix_steps)
    return {s for s in ssa.nodes if ssa.level[s] == TENSOR and not (ssa.reachable([s]) & pending)}


def shape_inputs(tensor_inputs) -> list:
    """The tensor's matrix shape among a pass's per-tensor inputs (``rows``, ``cols``), by name."""
    return sorted((s for s in tensor_inputs if isinstance(s, TensorShape)), key=lambda s: s.name)


def steps_after_passes(ssa: SSA, passes: list) -> list:
    """``out[q]``: the matrix steps to run after pass ``q`` (those whose input it stores)."""
    by_array = {m.name: m for m in ssa.matrix_steps}
    out = [[(by_array[a], ssa.matrix_steps[by_array[a]]) for a in p.stores if a in by_array] for p in passes]
    while out and not out[-1]:
        out.pop()
    return out


def step_abi(ssa: SSA, symbol, step) -> abi.MatrixStep:
    """The ABI of one matrix step: its array, its constants, and its equation (for errors)."""
    return abi.MatrixStep(array=symbol.name, kind="newton_schulz", steps=step.steps,
                          coefficients=step.coefficients, eps=step.eps, equation=ssa.matrix_where[symbol],
                          dtype=step.dtype)


__all__ = ["input_passes", "input_stores", "shape_inputs", "known_before_passes", "steps_after_passes", "step_abi"]
