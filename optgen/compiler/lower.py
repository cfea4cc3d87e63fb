"""What every target does the same way when it turns the staged IR into a template context.

A target (``cpu.py``, ``cuda.py``) chooses its printer, its kernel layout and its
template (each extends ``templates/module.py.j2``); the pieces here — a pass's
:class:`optgen.abi.Pass` (the contract the runtime launches from), its one-line
summary, the printed body of a kernel per dtype, a variant's host stage and the
host values its kernels take, sharing identical kernels between variants — are
the same for all of them.
"""
from __future__ import annotations

from .. import abi
from . import matrix
from .printers import COL_RUN, DTYPES, ROW_RUN, SMALL_MATRIX, HostPrinter, assignment_lines


def host_lines(pairs) -> list[str]:
    """Host and per-tensor stage assignments, printed for float64 numpy."""
    return assignment_lines(HostPrinter(), pairs)


def free_symbols(pairs) -> set:
    out = set()
    for _, e in pairs:
        out |= e.free_symbols
    return out


def names(symbols) -> tuple[str, ...]:
    return tuple(s.name for s in symbols)


def key_text(conditions, key) -> str:
    """'Eq(t, 1) is True, ...': which host conditions select a variant."""
    return ", ".join(f"{c} is {val}" for c, val in zip(conditions, key))


def sums(p) -> list:
    """The pass's sums into the partials (over a tensor or every tensor), not its axis means."""
    return [(s, e) for s, e in p.reductions if s not in p.axis_kinds]


def axis_means(p) -> list:
    """The pass's means over an axis (``row_mean``, ``col_mean``)."""
    return [(s, e) for s, e in p.reductions if s in p.axis_kinds]


def pass_abi(p) -> abi.Pass:
    """The ABI of a kernel pass (``optimize.KernelPass``), without its compiled functions."""
    return abi.Pass(index=p.index, loads=tuple(p.loads), stores=tuple(p.stores), host_args=names(p.host_args),
                    tensor_args=names(p.tensor_args), reductions=names(s for s, _ in sums(p)),
                    global_reductions=names(s for s, _ in p.reductions if s in p.global_sums),
                    axis_args=names(p.axis_args), axis_reductions=names(s for s, _ in axis_means(p)),
                    axis_kinds={s.name: k for s, k in p.axis_kinds.items()})


def summary(p) -> str:
    """What a pass moves: loads, stores and sums."""
    per_tensor = [s.name for s, _ in sums(p) if s not in p.global_sums]
    over_all = [s.name for s, _ in p.reductions if s in p.global_sums]
    means = [s.name for s, _ in axis_means(p)]
    return (f"loads {', '.join(p.loads) or 'nothing'}; stores {', '.join(p.stores) or 'nothing'}"
            + (f"; sums {', '.join(per_tensor)}" if per_tensor else "")
            + (f"; sums over every tensor {', '.join(over_all)}" if over_all else "")
            + (f"; means over an axis {', '.join(means)}" if means else ""))


def pass_summary(variants) -> list[str]:
    """The header's table of passes and bytes per element (float32 / float64)."""
    lines = []
    for i, v in enumerate(variants.values()):
        for p in v.passes:
            lines.append(f"variant {i} pass {p.index}: {abi.bytes_per_element([p], 4)} / "
                         f"{abi.bytes_per_element([p], 8)} B ({summary(p)})")
            for sym, step in (v.matrix_steps[p.index] if p.index < len(v.matrix_steps) else ()):
                lines.append(f"variant {i} after pass {p.index}: {matrix_summary(sym, step)}")
    return lines


def matrix_summary(sym, step) -> str:
    """One line for a matrix step: what it runs on which array."""
    return (f"matrix step newton_schulz({sym.name}, steps={step.steps}, coefficients={step.coefficients}, "
            f"eps={step.eps:g}{f', dtype={step.dtype!r}' if step.dtype else ''}) on each tensor as a matrix "
            f"(the array library's matmul{'; torch for bfloat16' if step.dtype == 'bfloat16' else ''})")


def kernels(printer_class, spec_name: str, variant_id: str, p, **extra) -> list[dict]:
    """The body of pass ``p`` printed once per dtype; ``extra(dtype)`` adds target fields."""
    out = []
    by_rows = pass_abi(p).uses_axes
    for dtype in DTYPES:
        pr = printer_class(dtype)
        # per-tensor sums accumulate in float64 whatever the kernel's dtype (printers.py); an axis
        # pass adds a narrow summand over a run of a row in the kernel's dtype first (run_sums)
        narrow = [pr.narrow_summand(e) if by_rows else None for _, e in sums(p)]
        counted = [pr.counted_summand(e) for _, e in sums(p)]
        k = {"dtype": dtype, "fn": f"{spec_name}_{variant_id}_pass{p.index}_{dtype}",
             "body": assignment_lines(pr, p.body),
             "sum_zero": printer_class("float64").literal(0.0), "run_zero": pr.literal(0.0),
             "reductions": [(f"_run_acc_{j}", n) if n else (f"_acc_{j}", pr.summand(e))
                            for j, (n, c, (_, e)) in enumerate(zip(narrow, counted, sums(p))) if c is None],
             "counted": [(f"_acc_{j}", c) for j, c in enumerate(counted) if c is not None],
             "summed": [j for j, c in enumerate(counted) if c is None],
             "run_sums": [j for j, n in enumerate(narrow) if n],
             "axis_means": [(p.axis_kinds[r], n or pr.summand(e), bool(n))
                            for r, e in axis_means(p) for n in [pr.narrow_summand(e)]],
             "axis_args": [(s.name, p.axis_kinds[s]) for s in p.axis_args]}
        k["row_run"] = ROW_RUN if k["run_sums"] or any(n for _, _, n in k["axis_means"]) else None
        # narrow column sums: a float32 buffer of the matrix's columns over at most COL_RUN rows
        k["col_runs"] = [j for j, (kind, _, n) in enumerate(k["axis_means"]) if kind == "col" and n]
        k["col_run"] = COL_RUN if k["col_runs"] else None
        k["col_direct"] = any(kind == "col" and not n for kind, _, n in k["axis_means"])  # float64 per element
        k["small_matrix"] = SMALL_MATRIX  # whole matrices up to this size: one flat loop each
        k.update({name: fn(dtype) for name, fn in extra.items()})
        out.append(k)
    return out


def pass_context(p, kernel_list: list[dict]) -> dict:
    """The fields of one pass every target's template reads: its ABI, its summary, the
    (array, symbol) pairs its loop loads and stores, and its printed kernels."""
    return {"abi": pass_abi(p), "summary": summary(p),
            "loads": [(a, s.name) for a, s in p.loads.items()],
            "stores": [(a, s.name) for a, s in p.stores.items()],
            "kernels": kernel_list}


def variant_context(v, index: int, conditions, host_needed: set, **fields) -> dict:
    """The fields of one variant every target's template reads. ``host_needed``: the host
    symbols its kernels and per-tensor stages read; the host states join them, since the
    runtime keeps their new values for the next step."""
    after_passes = {s for st in v.tensor_stages for s, _ in st}  # host states made of global sums
    host_needed = set(host_needed) | (set(v.host_states.values()) - after_passes)
    for p in v.passes:
        host_needed |= set(p.host_args)
    return {"id": f"v{index}", "key": v.key, "key_text": key_text(conditions, v.key), "host": host_lines(v.host),
            "host_out": sorted(s.name for s in host_needed),
            "reads": read_names(v.host, host_needed), **fields}


def read_names(pairs, outputs=()) -> set:
    """The names a host function reads: what its lines use and what it returns as it is (a
    hyperparameter passed straight to a kernel); the template reads only those from ``hyper``."""
    return {s.name for s in free_symbols(pairs) | set(outputs)} - {s.name for s, _ in pairs}


def share_identical_kernels(variants: list) -> None:
    """Variants often agree on a pass (lookahead's sync step changes only one pass):
    emit such a kernel once (``emit``) and point every variant at it, so it compiles once.
    Two kernels are the same when their arguments, their loop's loads and stores, any
    target field of the pass (CUDA's per-tensor columns) and their printed code are."""
    seen: dict = {}
    for v in variants:
        for p in v["passes"]:
            a = p["abi"]
            shape = (a.loads, a.stores, a.host_args, a.tensor_args, a.reductions, a.global_reductions,
                     sorted((f, repr(x)) for f, x in p.items() if f not in ("abi", "kernels", "summary", "finish")))
            for k in p["kernels"]:
                key = repr((shape, sorted((f, x) for f, x in k.items() if f not in ("fn", "emit"))))
                k["emit"] = key not in seen
                k["fn"] = seen.setdefault(key, k["fn"])


def module_context(build, variant_context) -> dict:
    """The context every target's module template gets: the host conditions, each variant
    (from the target's ``variant_context(spec_name, index, variant, conditions)``), the passes."""
    conditions = build.staged.conditions
    variants = [variant_context(build.spec.name, i, v, conditions)
                for i, v in enumerate(build.variants.values())]
    share_identical_kernels(variants)
    for ctx, v in zip(variants, build.variants.values()):
        ctx["matrix_steps"] = tuple(tuple(matrix.step_abi(build.ssa, s, step) for s, step in after)
                                    for after in v.matrix_steps)
    return {
        "conditions": [HostPrinter().doprint(c) for c in conditions],
        "condition_reads": read_names(build.staged.condition_host, set().union(*[c.free_symbols for c in conditions])),
        "condition_host": host_lines(build.staged.condition_host),
        "variants": variants,
        "pass_summary": pass_summary(build.variants),
        "states": build.ssa.states,
        "arrays": build.ssa.arrays,
        # a state of a reduced shape: its kind and the symbol of its new value (a per-tensor stage's output)
        "axis_states": {a: (kind, build.ssa.finals[a].name) for a, kind in build.ssa.axis_states.items()},
        "per_tensor_options": {d.name: d.factor_min_dim for d in build.spec.declared("option")
                               if d.factor_min_dim is not None},
        "uses_finish": False,
        "uses_matrix": bool(build.ssa.matrix_steps),
    }
