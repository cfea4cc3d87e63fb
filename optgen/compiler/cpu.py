"""The CPU target: ``numba.njit(parallel=True, cache=True)`` multi-tensor kernels.

One kernel call per pass covers every tensor of a dtype: ``prange`` runs over a
chunk table (tensor index, start, stop) and an inner loop walks the chunk with
unsigned indices, which lets LLVM drop the negative-index check and vectorise
(DESIGN.md, "Numba facts"). Reductions accumulate per chunk; the runtime adds the
chunk partials per tensor.
"""
from __future__ import annotations

import sympy

from .printers import DTYPES, HostPrinter, KernelPrinter, assignment_lines

TEMPLATE = "cpu_module.py.j2"


def host_lines(pairs) -> list[str]:
    return assignment_lines(HostPrinter(), pairs)


def _free(pairs) -> set:
    out = set()
    for _, e in pairs:
        out |= e.free_symbols
    return out


def variant_context(name: str, index: int, v, conditions) -> dict:
    vid = f"v{index}"
    key_text = ", ".join(f"{c} is {val}" for c, val in zip(conditions, v.key))
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
        kernels = []
        for dtype in DTYPES:
            pr = KernelPrinter(dtype)
            kernels.append({
                "dtype": dtype,
                "fn": f"{name}_{vid}_pass{p.index}_{dtype}",
                "cast": f"np.{dtype}",
                "zero": pr.literal(0.0),
                "body": assignment_lines(pr, p.body),
                "reductions": [pr.doprint(e) for _, e in p.reductions],
            })
        host_needed |= set(p.host_args)
        summary = (f"loads {', '.join(p.loads) or 'nothing'}; stores {', '.join(p.stores) or 'nothing'}"
                   + (f"; sums {', '.join(s.name for s, _ in p.reductions)}" if p.reductions else ""))
        passes.append({
            "index": p.index, "arrays": arrays, "summary": summary,
            "loads": [(a, s.name) for a, s in p.loads.items()],
            "stores": [(a, s.name) for a, s in p.stores.items()],
            "host_args": [s.name for s in p.host_args],
            "tensor_args": [s.name for s in p.tensor_args],
            "reductions": [s.name for s, _ in p.reductions],
            "reduction_names": [s.name for s, _ in p.reductions],
            "kernels": kernels,
        })
    host_needed |= set(v.host_states.values())  # the runtime keeps them for the next step
    return {"id": vid, "key": v.key, "key_text": key_text, "host": host_lines(v.host),
            "host_out": sorted(s.name for s in host_needed),
            "tensor_stages": tensor_stages, "passes": passes}


def share_identical_kernels(variants: list) -> None:
    """Variants often agree on a pass (lookahead's sync step changes only the last pass):
    emit such a kernel once and let every variant call it, so it compiles once."""
    seen: dict = {}
    for v in variants:
        for p in v["passes"]:
            shape = (p["arrays"], p["host_args"], p["tensor_args"], p["loads"], p["stores"], p["reductions"])
            for k in p["kernels"]:
                key = repr((shape, k["dtype"], k["body"], k["reductions"]))
                k["emit"] = key not in seen
                k["fn"] = seen.setdefault(key, k["fn"])


def pass_summary(variants) -> list[str]:
    lines = []
    for i, v in enumerate(variants.values()):
        for p in v.passes:
            n = len(p.loads) + len(p.stores)
            lines.append(f"variant {i} pass {p.index}: {n * 4} / {n * 8} B "
                         f"(loads {', '.join(p.loads)}; stores {', '.join(p.stores) or '-'}"
                         + (f"; sums {', '.join(s.name for s, _ in p.reductions)}" if p.reductions else "") + ")")
    return lines


def context(build) -> dict:
    """The template context for one build (spec + options)."""
    staged = build.staged
    conditions = staged.conditions
    host = HostPrinter()
    variants = [variant_context(build.spec.name, i, v, conditions)
                for i, v in enumerate(build.variants.values())]
    share_identical_kernels(variants)
    return {
        "conditions": [host.doprint(c) for c in conditions],
        "condition_host": host_lines(staged.condition_host),
        "variants": variants,
        "pass_summary": pass_summary(build.variants),
        "states": build.ssa.states,
        "arrays": build.ssa.arrays,
    }


__all__ = ["context", "TEMPLATE", "sympy"]
