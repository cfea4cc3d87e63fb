"""The CUDA target: ``@cuda.jit`` multi-tensor kernels (numba-cuda), from the same staged IR.

This module only renders source text: it needs neither a GPU nor numba-cuda.
Importing the generated module needs numba-cuda; running it needs a GPU or the
CUDA simulator (``NUMBA_ENABLE_CUDASIM=1``).

Layout: one launch per pass per dtype over every tensor of that dtype
---------------------------------------------------------------------
The user's parameters and gradients are separate allocations (PyTorch
parameters, CuPy arrays, numba device arrays), and they must be updated in
place, without copies. Three layouts were considered:

* *Flat buffers* (the runtime owns one buffer per dtype and the parameters are
  views of it): one launch and plain array indexing, but only if the user lets
  the optimizer own the parameters' memory. A PyTorch model's parameters are not
  views of one buffer, and gradients are reallocated by ``zero_grad``; making
  them so means copying, or rewriting the model's storage.
* *One launch per tensor*: works with any input, but a GPT-2-sized model is about
  150 tensors, so 150 launches per pass, each ~5 us of launch latency for a few
  microseconds of work on the small tensors.
* *A chunk table and device tables of addresses* (apex's ``multi_tensor_apply``):
  numba cannot pass a list of arrays to a kernel, but it can pass a ``uint64``
  device array of addresses, and a four-line ``@intrinsic`` turns an address into
  a typed pointer (``inttoptr`` into the global address space, so the loads and
  stores are ``ld.global`` / ``st.global``). Blocks walk a chunk table (tensor,
  start, stop) with a grid-stride loop; threads stride through the chunk. One
  launch covers every tensor of a dtype, whatever their number and wherever they
  live; apex must split its lists at the 4 KB kernel-parameter limit, the tables
  here are in device memory and have no limit.

The third is what this target emits. States are the runtime's own flat buffers
(per dtype); their tables are built once. The parameter table is built once; the
gradient table is rebuilt (a few bytes per tensor) only when the gradient
objects change. Under the simulator device memory is host memory, and the same
helper returns a numpy view of the address instead (``pointer_float32``).

Reductions
----------
A pass that sums per tensor (‖w‖, ‖u‖ for LAMB/LARS) accumulates per thread in
float64 whatever the kernel's dtype (the summand's squares too,
``KernelPrinter.summand``: a float32 3e38 or 1e-30 squared neither overflows nor
underflows), reduces within the block in float64 shared memory (a tree that
halves its width per level, rounding up, so any block size up to ``MAX_BLOCK``
works), and writes one float64 partial per chunk. A finishing
kernel, one thread per tensor, adds the tensor's chunk partials in float64 and
computes the per-tensor stage (trust ratios) on the device, like the CPU
runtime's float64 tensor stage; the next pass reads the results from a small
per-tensor table. Nothing goes back to the host within a step.

Precision
---------
Float32 kernels stay float32 (but for a per-tensor sum's summand and
accumulators, above): literals are ``np.float32(...)``, host scalars are
passed as float32, and ``math.sqrt``/``exp``/``log`` of a float32 are the
single-precision device functions (``sqrt.rn.f32``, libdevice ``__nv_expf``,
``__nv_logf``); the tests check the PTX for ``.f64``. Calls are wrapped in
``np.float32(...)``: a no-op on the device, and under the simulator (where
``math.*`` returns a Python float) it rounds like the device does.
"""
from __future__ import annotations

import functools

import sympy
from sympy.printing.pycode import PythonCodePrinter, _known_functions_math, _print_known_func

from .lower import free_symbols as _free
from .matrix import shape_inputs
from .cpu import host_tensor_stages
from .lower import kernels, module_context, pass_abi, pass_context
from .lower import names as _names
from .lower import variant_context as _variant_context
from .printers import DTYPES, KernelPrinter, assignment_lines

TEMPLATE = "cuda_module.py.j2"

#: Shared memory per reduction: a block may have at most this many threads.
MAX_BLOCK = 1024


class CudaPrinter(KernelPrinter):
    """Per-element code for a ``@cuda.jit`` kernel of one dtype.

    ``math.*`` works on the device (numba-cuda lowers it to libdevice, choosing the
    single-precision function for a float32 argument); ``numpy.*`` functions do
    not. Every function result is cast back to the kernel's dtype, and
    ``floor``/``ceiling`` (which return an integer in numba) too, so that an
    integer never promotes float32 arithmetic to float64.
    """

    def _cast(self, text: str) -> str:
        return f"np.{self.dtype}({text})"

    def literal(self, value: float) -> str:
        return self._cast(repr(float(value)))

    def _print_math_call(self, expr):
        return self._cast(_print_known_func(self, expr))

    def narrow_summand(self, expr):
        """None: a thread of an axis pass adds a few elements of a row (the block shares it), each
        widened to float64 (KernelPrinter.summand); float32 runs pay only on the CPU's long rows."""
        return None

    def counted_summand(self, expr):
        """None: a thread adds a constant summand per element like any other (its block's tree
        sums it); the CPU's chunk-level count would need each thread's element count."""
        return None

    def _print_Pow(self, expr, rational=False):
        base, e = expr.args
        if e == sympy.S.Half:
            return self._cast(f"math.sqrt({self._print(base)})")
        if e == -sympy.S.Half:
            return f"({self.literal(1.0)}/{self._cast(f'math.sqrt({self._print(base)})')})"
        return super()._print_Pow(expr, rational)


def _kernel_printer_prints(method: str) -> bool:
    """Whether KernelPrinter (or a mixin of it) prints this itself, rather than PythonCodePrinter."""
    for cls in KernelPrinter.__mro__:
        if cls is PythonCodePrinter:
            return False
        if method in cls.__dict__:
            return True
    return False


# every math.* function PythonCodePrinter prints (exp, log, floor, ceil, ...) and KernelPrinter
# leaves to it is cast back to the kernel's dtype; builtins (abs, max, min) keep their type
for _k in _known_functions_math:
    if not _kernel_printer_prints(f"_print_{_k}"):
        setattr(CudaPrinter, f"_print_{_k}", CudaPrinter._print_math_call)


def pass_signature(dtype: str, n_arrays: int, n_host: int, tensor_args: bool, reductions: bool,
                   n_axis_args: int | None = None, axis_reductions: bool = False) -> str:
    """The numba signature of a pass kernel (for ``cuda.compile_ptx`` and for eager compiles);
    ``n_axis_args`` (not None for a pass over rows): its values per row or column, then the axes
    table, then (``axis_reductions``) the chunks' first sums and the float64 row and column sums."""
    args = ["int32[::1]", "int64[::1]", "int64[::1]"] + ["uint64[::1]"] * n_arrays + [dtype] * n_host
    if tensor_args:
        args.append(f"{dtype}[:, ::1]")
    if reductions:
        args.append("float64[:, ::1]")  # the chunk partials: sums accumulate in float64
    if n_axis_args is not None:
        args += [f"{dtype}[::1]"] * n_axis_args + ["int64[:, ::1]"]
        args += ["int64[::1]", "float64[:, ::1]"] if axis_reductions else []
    return f"void({', '.join(args)})"


def finish_signature(dtype: str, n_host: int, totals: bool = False) -> str:
    """The numba signature of a finishing kernel; ``totals``: it reads the ``[group, global sum]``
    table of the sums over every tensor (runtime/cuda_sums.py)."""
    args = ["int64[::1]", "float64[:, ::1]", "float64[:, ::1]", f"{dtype}[:, ::1]"] + ["float64"] * n_host
    args += ["float64[:, ::1]"] if totals else []
    return f"void({', '.join(args)})"


def host_staged(v) -> bool:
    """Whether a variant's per-tensor stages run on the host: those of axis reductions, whose
    values are per row and per column (compiler/cpu.py's functions; runtime/cuda_axes.py)."""
    return any(pass_abi(p).uses_axes for p in v.passes)


def variant_context(name: str, index: int, v, conditions, shape_columns=()) -> dict:
    vid = f"v{index}"
    by_host = host_staged(v)

    # every per-tensor value (a reduction's sum or a tensor-stage output) gets a column
    # of the per-tensor tables, in the order the step computes them; a tensor's matrix shape
    # (rows, cols: the runtime writes them once) comes first, at the same column in every variant
    columns: dict = {s: j for j, s in enumerate(shape_columns)}
    for q, p in enumerate(v.passes):
        stage = v.tensor_stages[q] if q < len(v.tensor_stages) else []
        for s in [s for s, _ in p.reductions] + [s for s, _ in stage]:
            if s not in v.axis_kinds and s not in p.axis_kinds:  # a value per row or column has none
                columns.setdefault(s, len(columns))

    host_needed = set()
    passes = []
    for q, p in enumerate(v.passes):
        ctx = pass_context(p, [])
        a = ctx["abi"]
        params = ["_chunk_tensor", "_chunk_start", "_chunk_stop", *[f"_table_{x}" for x in a.arrays], *a.host_args]
        params += ["_per_tensor"] if a.tensor_args else []
        params += ["_partials"] if a.reductions else []
        if a.uses_axes:
            params += [*[f"_axis_{s}" for s in a.axis_args], "_axes"]
            params += ["_chunk_part", "_axis_sums"] if a.axis_reductions else []
        ctx["kernels"] = kernels(CudaPrinter, name, vid, p, signature=lambda dtype: pass_signature(
            dtype, len(a.arrays), len(a.host_args), bool(a.tensor_args), bool(a.reductions),
            len(a.axis_args) if a.uses_axes else None, bool(a.axis_reductions)))

        stage = v.tensor_stages[q] if q < len(v.tensor_stages) else []
        finish = None
        if (p.reductions or stage) and not by_host:
            defined = {s for s, _ in stage} | {s for s, _ in p.reductions}
            inputs = _free(stage) - defined
            per_tensor_in = sorted((s for s in inputs if s in columns), key=lambda s: columns[s])
            host_in = sorted((s for s in inputs if s not in columns), key=lambda s: s.name)
            host_needed |= set(host_in)
            f64 = CudaPrinter("float64")
            outputs = [s for s, _ in p.reductions] + [s for s, _ in stage]
            totals = ["_totals"] if p.global_sums else []
            finish = {
                "host_args": _names(host_in),
                "params": ", ".join(["_chunk_first", "_partials", "_values", "_per_tensor", *_names(host_in),
                                     *totals]),
                "sums": [(s.name, j) for j, (s, _) in enumerate(p.reductions) if s not in p.global_sums],
                "global_sums": [(s.name, j) for j, s in enumerate(s for s, _ in p.reductions if s in p.global_sums)],
                "inputs": [(s.name, columns[s]) for s in per_tensor_in],
                "lines": assignment_lines(f64, stage),
                "outputs": [(s.name, columns[s]) for s in outputs],
                "zero": f64.literal(0.0),
                "kernels": [{"dtype": dtype, "fn": f"{name}_{vid}_finish{p.index}_{dtype}",
                             "signature": finish_signature(dtype, len(host_in), bool(totals))} for dtype in DTYPES],
            }
        ctx.update(partial_pairs=[(f"_acc{j}", f"_partials[_c, {j}]") for j in range(len(a.reductions))],
                   row_pairs=[(f"_row_acc{j}", f"_axis_sums[{j}, _row]") for j, r in enumerate(a.axis_reductions)
                              if a.axis_kinds[r] == "row"])
        ctx.update(params=", ".join(params), tensor_columns=[(s.name, columns[s]) for s in p.tensor_args],
                   finish=finish)
        passes.append(ctx)
    fields = {}
    if by_host:
        fields["tensor_stages"], needed = host_tensor_stages(v, vid)
        host_needed |= needed
    return _variant_context(v, index, conditions, host_needed, columns=tuple(s.name for s in columns),
                            passes=passes, **fields)


def context(build) -> dict:
    """The template context for one build (spec + options)."""
    shapes = sorted({s for v in build.variants.values() for p in v.passes for s in shape_inputs(p.tensor_args)},
                    key=lambda s: s.name)
    ctx = module_context(build, functools.partial(variant_context, shape_columns=shapes))
    variants = ctx["variants"]
    ctx.update(max_block=MAX_BLOCK, uses_finish=any(p["finish"] for v in variants for p in v["passes"]),
               n_reductions=max((len(p["abi"].reductions) for v in variants for p in v["passes"]), default=0),
               n_columns=max((len(v["columns"]) for v in variants), default=0))
    return ctx


__all__ = ["context", "TEMPLATE", "CudaPrinter", "host_staged", "pass_signature", "finish_signature", "MAX_BLOCK"]
