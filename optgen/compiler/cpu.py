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
from .printers import HostPrinter, KernelPrinter
from .ssa import MeanOverMatrix
from .stage_loops import TENSOR_OF, AxisLoop, call_lines, split_stage, values_per_tensor


def _stage_pairs(st, per_tensor: set, axis_kinds: dict) -> tuple[list, list]:
    """A per-tensor stage's assignments as the stage computes them: a value per row or column
    reads a per-tensor value at its row's (column's) tensor; and the extra inputs that needs."""
    out, extra = [], []
    for s, e in st:
        extra += [f"_{m.shape}_mean_of_{m.source}s" for m in e.atoms(MeanOverMatrix)]
        kind = axis_kinds.get(s)
        tensor_level = [x for x in e.free_symbols if x in per_tensor and x not in axis_kinds]
        if kind and tensor_level:
            index = TENSOR_OF[kind]
            e = e.xreplace({x: sympy.IndexedBase(x)[index] for x in tensor_level})
            extra.append(index.name)
        out.append((s, e))
    return out, sorted(set(extra))

TEMPLATE = "cpu_module.py.j2"


def _stage_lines(pairs) -> list[str]:
    """Numpy lines of a stage; a mean over each matrix that is a value of its own goes into an
    array the runtime keeps for it (runtime/axes.py, ``AxisTable.col_mean_of_rows``)."""
    lines = []
    for s, e in pairs:
        if isinstance(e, MeanOverMatrix):
            lines.append(f"{s} = _{e.shape}_mean_of_{e.source}s({HostPrinter().doprint(e.args[0])}, {s.name!r})")
        else:
            lines += host_lines([(s, e)])
    return lines


def host_tensor_stages(v, variant_id: str) -> tuple[list[dict], set]:
    """A variant's per-tensor stages as host functions over arrays of tensors (and of rows and
    columns), float64, and the host values they read: numpy lines, and the values per row or
    column in compiled loops (compiler/stage_loops.py). The CPU runs every stage so; the CUDA
    target runs so the stages of a variant with axis reductions (compiler/cuda.py)."""
    per_tensor = values_per_tensor(v)
    tensor_stages = []
    host_needed = set()
    for q, st in enumerate(v.tensor_stages):
        defined = {s for s, _ in st}
        lines, loops, extra = [], [], []
        for segment in split_stage(st, per_tensor, v.axis_kinds):
            if isinstance(segment, AxisLoop):
                segment.fn = f"_stage_{variant_id}_{q}_{segment.kind}s{len(loops)}"
                loops.append(segment.context())
                lines += call_lines(segment)
                extra += segment.runtime_inputs
            else:
                pairs, more = _stage_pairs(segment, per_tensor, v.axis_kinds)
                lines += _stage_lines(pairs)
                extra += more
        inputs = sorted(s.name for s in _free(st) - defined) + sorted(set(extra))
        host_needed |= _free(st) - per_tensor
        tensor_stages.append({"inputs": inputs, "lines": lines, "loops": loops,
                              "outputs": [s.name for s, _ in st]})
    return tensor_stages, host_needed


def variant_context(name: str, index: int, v, conditions) -> dict:
    tensor_stages, host_needed = host_tensor_stages(v, f"v{index}")
    passes = [pass_context(p, kernels(KernelPrinter, name, f"v{index}", p)) for p in v.passes]
    return _variant_context(v, index, conditions, host_needed, tensor_stages=tensor_stages, passes=passes)


def context(build) -> dict:
    """The template context for one build (spec + options)."""
    return module_context(build, variant_context)


__all__ = ["context", "TEMPLATE", "host_tensor_stages"]
