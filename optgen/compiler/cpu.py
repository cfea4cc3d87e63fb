"""The CPU target: ``numba.njit(parallel=True, cache=True)`` multi-tensor kernels.

One kernel call per pass covers every tensor of a dtype: ``prange`` runs over a
chunk table (tensor index, start, stop) and an inner loop walks the chunk with
unsigned indices, which lets LLVM drop the negative-index check and vectorise
(docs/design.md, "Performance model"). Reductions accumulate per chunk in float64 (a float32
kernel's summand squares in float64 too, ``KernelPrinter.summand``); the runtime
adds the chunk partials per tensor.

A pass that reads or makes values per row or column (``row_mean``, ``col_mean``,
docs/axis-reductions.md) walks a row at a time (runtime/axes.py: chunks of whole rows, whose
float64 row and column sums are each one thread's); in a float32 kernel a sum whose summand is
a float32 value anyway adds each run of a row in float32 first (``KernelPrinter.narrow_summand``).
The per-tensor stage computes the values per row (column) over every row of the group at once,
a per-tensor value read there indexed by each row's tensor.
"""
from __future__ import annotations

import sympy

from .lower import free_symbols as _free
from .lower import host_lines, kernels, module_context, pass_context
from .lower import variant_context as _variant_context
from .printers import KernelPrinter
from .ssa import MeanOverMatrix

#: the per-tensor stage's index from each row (column) of the group to its tensor
_ROW_TENSOR = {"row": sympy.Symbol("_row_tensor", integer=True), "col": sympy.Symbol("_col_tensor", integer=True)}


def _stage_pairs(st, per_tensor: set, axis_kinds: dict) -> tuple[list, list]:
    """A per-tensor stage's assignments as the stage computes them: a value per row or column
    reads a per-tensor value at its row's (column's) tensor; and the extra inputs that needs."""
    out, extra = [], []
    for s, e in st:
        extra += [f"_{m.shape}_mean_of_{m.source}s" for m in e.atoms(MeanOverMatrix)]
        kind = axis_kinds.get(s)
        tensor_level = [x for x in e.free_symbols if x in per_tensor and x not in axis_kinds]
        if kind and tensor_level:
            index = _ROW_TENSOR[kind]
            e = e.xreplace({x: sympy.IndexedBase(x)[index] for x in tensor_level})
            extra.append(index.name)
        out.append((s, e))
    return out, sorted(set(extra))

TEMPLATE = "cpu_module.py.j2"


def host_tensor_stages(v) -> tuple[list[dict], set]:
    """A variant's per-tensor stages as host functions over arrays of tensors (and of rows and
    columns), float64 numpy, and the host values they read. The CPU runs every stage so; the CUDA
    target runs so the stages of a variant with axis reductions (compiler/cuda.py)."""
    per_tensor = {s for st in v.tensor_stages for s, _ in st} | {
        s for p in v.passes for s, _ in p.reductions} | {s for s in v.axis_kinds}  # axis states' old values
    tensor_stages = []
    host_needed = set()
    for st in v.tensor_stages:
        defined = {s for s, _ in st}
        pairs, extra = _stage_pairs(st, per_tensor, v.axis_kinds)
        inputs = sorted(s.name for s in _free(st) - defined) + extra
        host_needed |= _free(st) - per_tensor
        tensor_stages.append({"inputs": inputs, "lines": host_lines(pairs),
                              "outputs": [s.name for s, _ in st]})
    return tensor_stages, host_needed


def variant_context(name: str, index: int, v, conditions) -> dict:
    tensor_stages, host_needed = host_tensor_stages(v)
    passes = [pass_context(p, kernels(KernelPrinter, name, f"v{index}", p)) for p in v.passes]
    return _variant_context(v, index, conditions, host_needed, tensor_stages=tensor_stages, passes=passes)


def context(build) -> dict:
    """The template context for one build (spec + options)."""
    return module_context(build, variant_context)


__all__ = ["context", "TEMPLATE", "host_tensor_stages"]
