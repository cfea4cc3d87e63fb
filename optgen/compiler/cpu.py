"""The CPU target: ``numba.njit(parallel=True, cache=True)`` multi-tensor kernels.

One kernel call per pass covers every tensor of a dtype: ``prange`` runs over a
chunk table (tensor index, start, stop) and an inner loop walks the chunk with
unsigned indices, which lets LLVM drop the negative-index check and vectorise
(DESIGN.md, "Numba facts"). Reductions accumulate per chunk in float64 (a float32
kernel's summand squares in float64 too, ``KernelPrinter.summand``); the runtime
adds the chunk partials per tensor.
"""
from __future__ import annotations

from .lower import free_symbols as _free
from .lower import host_lines, kernels, key_text, module_context, summary
from .printers import KernelPrinter

TEMPLATE = "cpu_module.py.j2"


def variant_context(name: str, index: int, v, conditions) -> dict:
    vid = f"v{index}"
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
    passes = []
    for p in v.passes:
        arrays = list(dict.fromkeys([*p.loads, *p.stores]))
        host_needed |= set(p.host_args)
        passes.append({
            "index": p.index, "arrays": arrays, "summary": summary(p),
            "loads": [(a, s.name) for a, s in p.loads.items()],
            "stores": [(a, s.name) for a, s in p.stores.items()],
            "host_args": [s.name for s in p.host_args],
            "tensor_args": [s.name for s in p.tensor_args],
            "reductions": [s.name for s, _ in p.reductions],
            "reduction_names": [s.name for s, _ in p.reductions],
            "kernels": kernels(KernelPrinter, name, vid, p, cast=lambda dtype: f"np.{dtype}"),
        })
    host_needed |= set(v.host_states.values())  # the runtime keeps them for the next step
    return {"id": vid, "key": v.key, "key_text": key_text(conditions, v.key), "host": host_lines(v.host),
            "host_out": sorted(s.name for s in host_needed),
            "tensor_stages": tensor_stages, "passes": passes}


def context(build) -> dict:
    """The template context for one build (spec + options)."""
    return module_context(build, variant_context)


__all__ = ["context", "TEMPLATE"]
