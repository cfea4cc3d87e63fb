"""No compile stalls mid-run: every kernel variant a run reaches is compiled by the end of its first step.

A spec with a host condition (``t == 1``, ``t mod k == 0``, RAdam's ``rho_t > 5``)
has one kernel variant per outcome, and Numba compiles a kernel when it is first
called: without this module the second variant compiled at step 2 (or 6, or k),
a pause of seconds in the middle of training. Instead, when an optimizer is
created, the variants its run reaches are found by asking the generated
``select_variant`` what it would choose at each of the first ``HORIZON`` steps
(with the hyperparameters, schedules included, of each step: host arithmetic,
microseconds a step), and a background thread compiles them (or loads them from
Numba's cache) in the order the run reaches them, with the exact argument types
the runtime passes. The first step waits for its own kernels as it would anyway
(Numba's compiler lock; a kernel the thread has compiled is not compiled again)
and, before it returns, for the rest: no later step waits for a compile. The time
between ``create`` and the first step (the first forward and backward pass)
overlaps the compiles; much of LLVM's work runs outside the GIL.

A variant first reached after ``HORIZON`` steps (a condition driven by a
schedule late in training, or a hyperparameter changed by ``set_hyper``) is
compiled when it is first used, as before.
"""
from __future__ import annotations

import threading

import numba
import numpy as np
from numba import types

HORIZON = 1000  # steps looked ahead for the variants a run reaches


def reachable_variants(module, spec, values: dict, host_states: dict, start: int = 1) -> list[tuple]:
    """The variant keys of steps ``start .. start + HORIZON - 1``, in the order first reached.

    Host states (scalars such as NAdam's running product) enter conditions only
    through the host stage; they are held at their current values here, which is
    what the conditions of the shipped specs (on ``t`` and hyperparameters) need.
    """
    from . import hypers as hyper_values
    keys: list[tuple] = []
    if len(module.VARIANTS) == 1:
        return list(module.VARIANTS)
    for t in range(start, start + HORIZON):
        try:
            inputs = {**hyper_values.values_at(spec, values, t), **host_states}
            key = tuple(module.select_variant(t, inputs))
        except Exception:  # noqa: BLE001 - a schedule that fails later fails at its own step, loudly
            break
        if key not in keys:
            keys.append(key)
            if len(keys) == len(module.VARIANTS):
                break
    return keys


def kernel_signature(p, dtype) -> tuple:
    """The Numba argument types of CPU pass kernel ``p`` (an :class:`optgen.abi.Pass`) for ``dtype``:
    exactly what :meth:`optgen.runtime.cpu.CPUOptimizer._run_pass` passes, in the order of
    optgen/abi.py (the chunk table's tensor index int64, its bounds uint64, the sizes int64,
    uint64 address tables, scalars and per-tensor arrays of the dtype, float64 partials; a pass
    that uses axes: its row and column values in the dtype, the uint64 axes table (and, if it adds
    to axis sums, the chunks' uint64 column-sum offsets) before the
    partials, the float64 axis sums after)."""
    scalar = numba.from_dtype(np.dtype(dtype))
    i64, u64 = types.Array(types.int64, 1, "C"), types.Array(types.uint64, 1, "C")
    axes = (*[types.Array(scalar, 1, "C")] * len(p.axis_args), types.Array(types.uint64, 2, "C")) if p.uses_axes else ()
    axes += (u64,) if p.axis_reductions else ()  # each chunk's first column sum
    sums = (types.Array(types.float64, 2, "C"),) if p.uses_axes else ()
    return (i64, u64, u64, i64, *[u64] * len(p.arrays), *[scalar] * len(p.host_args),
            *[types.Array(scalar, 1, "C")] * len(p.tensor_args), *axes, types.Array(types.float64, 2, "C"), *sums)


class Precompiler:
    """Compiles the kernels of the given variants for the given groups in a background thread."""

    def __init__(self, module, keys: list[tuple], groups, runtime_loops: list = ()):
        """``groups``: the CPU runtime's groups (their dtypes), for the pass kernels; none (the
        CUDA runtime) compiles only the per-tensor stages' loops, which run on the host.
        ``runtime_loops``: the runtime's own ``(function, argument types)`` that the first
        step calls after its first pass (``AxisTable.compiled_loops``)."""
        self.jobs = []
        seen = set()
        for key in keys:
            v = module.VARIANTS[key]
            for q, p in enumerate(v.passes):  # in the order the first step calls them
                jobs = [(p.kernels[gr.dtype.name], kernel_signature(p, gr.dtype)) for gr in groups]
                jobs += runtime_loops if q == 0 else ()
                jobs += v.stage_loops[q] if q < len(v.stage_loops) else ()  # float64, whatever the dtype
                for kernel, sig in jobs:
                    if (id(kernel), sig) not in seen:
                        seen.add((id(kernel), sig))
                        self.jobs.append((kernel, sig))
        self.errors: list[BaseException] = []
        self._thread = threading.Thread(target=self._run, name="optgen-precompile", daemon=False)
        self._thread.start()

    def _run(self) -> None:
        for kernel, sig in self.jobs:
            try:
                kernel.compile(sig)
            except BaseException as exc:  # noqa: BLE001 - the step that calls it compiles again and says why
                self.errors.append(exc)

    def wait(self) -> None:
        """Until every kernel is compiled (or has failed: its first call raises the real error)."""
        self._thread.join()


def per_tensor_argument(value, n_tensors: int, dtype) -> np.ndarray:
    """A per-tensor scalar as the kernels take it: a fresh, writable, C-contiguous array of
    ``dtype`` (always the same Numba type, so the kernel compiled ahead of time is the one used)."""
    out = np.empty(n_tensors, dtype)
    out[...] = value
    return out
