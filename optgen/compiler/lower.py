"""What every target does the same way when it turns the staged IR into a template context.

A target (``cpu.py``, ``cuda.py``) chooses its printer, its kernel layout and its
template; the pieces here — host-stage lines, a pass's one-line summary, the
printed body of a kernel per dtype, sharing identical kernels between variants —
are the same for all of them.
"""
from __future__ import annotations

from .printers import DTYPES, HostPrinter, assignment_lines


def host_lines(pairs) -> list[str]:
    """Host and per-tensor stage assignments, printed for float64 numpy."""
    return assignment_lines(HostPrinter(), pairs)


def free_symbols(pairs) -> set:
    out = set()
    for _, e in pairs:
        out |= e.free_symbols
    return out


def names(symbols) -> list[str]:
    return [s.name for s in symbols]


def key_text(conditions, key) -> str:
    """'Eq(t, 1) is True, ...': which host conditions select a variant."""
    return ", ".join(f"{c} is {val}" for c, val in zip(conditions, key))


def summary(p) -> str:
    """What a pass moves: loads, stores and sums."""
    return (f"loads {', '.join(p.loads) or 'nothing'}; stores {', '.join(p.stores) or 'nothing'}"
            + (f"; sums {', '.join(s.name for s, _ in p.reductions)}" if p.reductions else ""))


def pass_summary(variants) -> list[str]:
    """The header's table of passes and bytes per element (float32 / float64)."""
    lines = []
    for i, v in enumerate(variants.values()):
        for p in v.passes:
            n = len(p.loads) + len(p.stores)
            lines.append(f"variant {i} pass {p.index}: {n * 4} / {n * 8} B ({summary(p)})")
    return lines


def kernels(printer_class, spec_name: str, variant_id: str, p, **extra) -> list[dict]:
    """The body of pass ``p`` printed once per dtype; ``extra(dtype)`` adds target fields."""
    out = []
    for dtype in DTYPES:
        pr = printer_class(dtype)
        k = {"dtype": dtype, "fn": f"{spec_name}_{variant_id}_pass{p.index}_{dtype}",
             "zero": pr.literal(0.0), "body": assignment_lines(pr, p.body),
             # per-tensor sums accumulate in float64 whatever the kernel's dtype (printers.py)
             "sum_zero": printer_class("float64").literal(0.0),
             "reductions": [pr.summand(e) for _, e in p.reductions]}
        k.update({name: fn(dtype) for name, fn in extra.items()})
        out.append(k)
    return out


def share_identical_kernels(variants: list, shape_keys: tuple) -> None:
    """Variants often agree on a pass (lookahead's sync step changes only one pass):
    emit such a kernel once (``emit``) and point every variant at it, so it compiles once."""
    seen: dict = {}
    for v in variants:
        for p in v["passes"]:
            shape = tuple(repr(p[k]) for k in shape_keys)
            for k in p["kernels"]:
                key = repr((shape, k["dtype"], k["body"], k["reductions"]))
                k["emit"] = key not in seen
                k["fn"] = seen.setdefault(key, k["fn"])


SHAPE_KEYS = ("arrays", "host_args", "tensor_args", "loads", "stores", "reduction_names")


def module_context(build, variant_context) -> dict:
    """The context every target's module template gets: the host conditions, each variant
    (from the target's ``variant_context(spec_name, index, variant, conditions)``), the passes."""
    conditions = build.staged.conditions
    variants = [variant_context(build.spec.name, i, v, conditions)
                for i, v in enumerate(build.variants.values())]
    share_identical_kernels(variants, SHAPE_KEYS)
    return {
        "conditions": [HostPrinter().doprint(c) for c in conditions],
        "condition_host": host_lines(build.staged.condition_host),
        "variants": variants,
        "pass_summary": pass_summary(build.variants),
        "states": build.ssa.states,
        "arrays": build.ssa.arrays,
    }
