"""Matrix steps on the CUDA target (``abi.MatrixStep``: Muon's Newton–Schulz) between two passes.

The pass before a step has stored its input into the step's own device array (scratch of the
runtime's, one flat buffer per group, never checkpointed). Here each tensor's part of it is viewed
as its matrix and overwritten with the step of it, on the device's array library: numba-cuda has
no matmul, so the step runs on torch's (cuBLAS) through ``__cuda_array_interface__``, no copy, on
torch's current stream, which is the stream optgen.torch launches the kernels on. The issue's
"without a new heavy dependency": torch is already the integration, and a GPU user has it. Where
torch cannot reach the array (the CUDA simulator, whose device memory is host memory, or no torch
with CUDA), the matrix goes through the host: copied there, iterated by the CPU runtime's numpy (or
torch bfloat16) iteration, copied back. That is correct everywhere and slow on a real GPU: there
install torch.

The matrix shape of each tensor (``rows``, ``cols``: Muon's learning-rate factor) is a per-tensor
value the compiler gives the first columns of the per-tensor tables (compiler/cuda.py); the runtime
writes them once, here, and no kernel writes them.
"""
from __future__ import annotations

import importlib.util

import numpy as np

from .. import abi, matrix
from .cuda_arrays import wait_for_copies
from .matrix import newton_schulz_torch, run_matrix_step


def shape_columns(module) -> dict:
    """``{"rows": column, "cols": column}`` of the per-tensor tables, for the shape values any
    variant reads; the compiler puts them at the same columns in every variant."""
    out = {}
    for v in module.VARIANTS.values():
        for name in ("rows", "cols"):
            if name in v.columns:
                out[name] = v.columns.index(name)
    return out


def shape_table(shapes, columns: dict, n_columns: int) -> np.ndarray:
    """The per-tensor table's start (float64, one row per tensor): the shape columns written."""
    table = np.zeros((len(shapes), max(n_columns, 1)), np.float64)
    values = matrix.shape_values(shapes)
    for name, j in columns.items():
        table[:, j] = values[name]
    return table


def torch_reaches_device_arrays(simulator: bool) -> bool:
    """Whether torch can run the step on the device arrays themselves (a GPU and torch with CUDA)."""
    if simulator or importlib.util.find_spec("torch") is None:
        return False
    import torch
    return bool(torch.cuda.is_available())


def run_device_matrix_step(step: abi.MatrixStep, views, shapes, work: dict, on_device: bool, stream=0) -> None:
    """Overwrite each tensor's flat device array ``views[k]`` (of shape ``shapes[k]``) with the step
    of it: by torch on the device where ``on_device``, else through the host."""
    if on_device:
        if step.kind != "newton_schulz":  # pragma: no cover - a module of a newer optgen
            raise ValueError(f"{step.equation}: unknown matrix step {step.kind!r}")
        import torch
        ordered = _is_torchs_stream(stream, torch)
        if not ordered:  # a numba stream of the caller's: its kernels first, torch's matmuls before the next
            stream.synchronize()
        dtype = torch.bfloat16 if step.dtype == "bfloat16" else None
        for view, shape in zip(views, shapes):
            rows, cols = matrix.check_matrix(shape, step.equation)
            target = torch.as_tensor(view).view(rows, cols)  # on the array's own device (its interface says)
            newton_schulz_torch(target, step.steps, step.coefficients, step.eps, work, dtype)
        if not ordered:
            torch.cuda.current_stream().synchronize()
        return
    for view, shape in zip(views, shapes):  # through the host: the CPU runtime's step on a copy
        x = np.ascontiguousarray(view.copy_to_host(stream=stream))
        wait_for_copies(stream)
        run_matrix_step(step, [x], [shape], work)
        view.copy_to_device(x, stream=stream)


def _is_torchs_stream(stream, torch) -> bool:
    """Whether kernels on ``stream`` are ordered with torch's work: the default stream (0), or the
    numba view of torch's current stream that optgen.torch launches on."""
    if isinstance(stream, int):
        return True
    handle = getattr(stream, "handle", None)  # ctypes (c_void_p: .value) or cuda-python (CUstream: int())
    try:
        address = handle.value if hasattr(handle, "value") else int(handle)
    except (TypeError, ValueError):
        return False  # unknown: order them by synchronising
    return address == torch.cuda.current_stream().cuda_stream


__all__ = ["shape_columns", "shape_table", "torch_reaches_device_arrays", "run_device_matrix_step"]
