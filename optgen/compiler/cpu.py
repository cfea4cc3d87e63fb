"""The CPU target: ``numba.njit(parallel=True, cache=True)`` multi-tensor kernels.

One kernel call per pass covers every tensor of a dtype: ``prange`` runs over a
chunk table (tensor index, start, stop) and an inner loop walks the chunk with
unsigned indices, which lets LLVM drop the negative-index check and vectorise
(docs/design.md, "Performance model"). Reductions accumulate per chunk in float64 (a float32
kernel's summand squares in float64 too, ``KernelPrinter.summand``); the runtime
adds the chunk partials per tensor.
"""
from __future__ import annotations

from .lower import free_symbols as _free
from .lower import host_lines, kernels, module_context, pass_context
from .lower import variant_context as _variant_context
from .printers import KernelPrinter

TEMPLATE = "cpu_module.py.j2"
MATRIX_STEPS = True  # the runtime runs matrix steps between passes (runtime/matrix.py)


def variant_context(name: str, index: int, v, conditions) -> dict:
    per_tensor = {s for st in v.tensor_stages for s, _ in st} | {
        s for p in v.passes for s, _ in p.reductions}
    tensor_stages = []
    host_needed = set()
    for st in v.tensor_stages:
        defined = {s for s, _ in st}
        inputs = sorted(s.name for s in _free(st) - defined)
        host_needed |= _free(st) - per_tensor
        tensor_stages.append({"inputs": inputs, "lines": host_lines(st),
                              "outputs": [s.name for s, _ in st]})
    passes = [pass_context(p, kernels(KernelPrinter, name, f"v{index}", p)) for p in v.passes]
    return _variant_context(v, index, conditions, host_needed, tensor_stages=tensor_stages, passes=passes)


def context(build) -> dict:
    """The template context for one build (spec + options)."""
    return module_context(build, variant_context)


__all__ = ["context", "TEMPLATE"]
