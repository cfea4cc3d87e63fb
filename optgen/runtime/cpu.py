"""The CPU runtime: owns the state buffers and launches the generated kernels.

Tensors are grouped by dtype; each group is one kernel call per pass, over a
chunk table that covers every tensor of the group. The kernel reaches the user's
own arrays (no copies, no flat buffer) through a table of their base addresses
(optgen/runtime/pointers.py); docs/performance.md says why, with numbers. Nothing proportional to the
number of parameters is allocated per step: states are allocated once, the
per-step work on the host is a handful of scalars (and per-tensor arrays for
reductions).
"""
from __future__ import annotations

import itertools
import math
import operator
from typing import Sequence

import numpy as np

from .. import abi
from ..spec import Spec
from .. import matrix
from . import aliasing, lockstep
from .axes import AxisTable
from .base import CompiledOptimizer
from .checks import check_grads, check_params, check_states
from .grad_table import GradTable
from .matrix import check_matrix_shapes, run_matrix_step
from .nonfinite import nonfinite_tensors
from .pointers import address_table
from .precompile import Precompiler, per_tensor_argument, reachable_variants
from .threads import StepGuard, get_threads, kernel_launches, set_threads

CHUNK = 1 << 16  # elements per work item: large enough to stream, small enough to balance

#: A launch over fewer elements than this runs on one thread. Entering a parallel region
#: wakes every Numba thread and waits for the slowest; when the cores are busy (a training
#: loop's data loaders and forward/backward, other processes) that wait dwarfs small work.
#: Measured on the shared 2-core machine at load ~18 (Adam, float32, one tensor, µs per
#: step, 1 thread / 2 threads): 2^12: 20 / 23280; 2^16: 183 / 25840; 2^18: 1140 / 24740;
#: 2^20: 4823 / 19849. On an idle machine two threads pay off from about 2^16 elements;
#: 2^20 keeps small models (and every tensor group of a few MB) off the parallel path.
SERIAL_BELOW = 1 << 20

_ONES = itertools.repeat(1.0)


def launch_threads(elements: int, available: int) -> int:
    """The threads a launch over ``elements`` elements runs on: the one place serial vs parallel is chosen."""
    return 1 if elements < SERIAL_BELOW else available


class _Group:
    """The tensors of one dtype, with their chunk table and address tables."""

    def __init__(self, dtype, indices, params, state_names, states=None, scratch=()):
        self.dtype = np.dtype(dtype)
        self.dtype_name = self.dtype.name  # the kernels' key (np.dtype.name is computed at each read)
        self.indices = indices
        self.flat = {"w": [params[i].reshape(-1) for i in indices]}
        for s in state_names:
            self.flat[s] = ([states[i][s].reshape(-1) for i in indices] if states is not None
                            else [np.zeros(params[i].size, self.dtype) for i in indices])
        for s in scratch:  # the matrix steps' arrays (runtime/matrix.py): not states
            self.flat[s] = [np.zeros(params[i].size, self.dtype) for i in indices]
        self.shapes = [params[i].shape for i in indices]
        self.matrix_shapes = matrix.shape_values(self.shapes)  # the per-tensor values rows, cols
        self.matrix_work: dict = {}  # the matrix steps' buffers, per matrix shape (runtime/matrix.py)
        # base addresses of w and of every state: the arrays in self.flat keep them valid
        self.ptrs = {name: address_table(arrs) for name, arrs in self.flat.items()}
        self.sizes = np.array([params[i].size for i in indices], dtype=np.int64)
        self.elements = int(self.sizes.sum())
        self.n_reductions = 1
        self.threads = 0
        self.balance(launch_threads(self.elements, get_threads()))
        self.n_tensors = len(indices)
        self.grads_table = GradTable(indices, self.sizes, self.dtype)
        self.axes: AxisTable | None = None  # rows and columns, for a module with axis reductions
        self.calls: dict = {}  # id(pass) -> its _PassCall over this group's tables

    def balance(self, threads: int) -> None:
        """The chunk table: every thread gets one contiguous run of equal length.

        Numba's static ``prange`` schedule gives each of the T threads an equal
        *count* of consecutive chunks. The group's elements, tensor after tensor,
        are cut into T contiguous runs of equal size; each run into chunks of at
        most ``CHUNK`` elements that never cross a tensor; and the shorter runs are
        padded with empty chunks, so that thread b's share of the table is exactly
        run b. With chunks simply in tensor order, a model's many small tensors
        (biases, norms) made the shares unequal (ResNet-50: 10.2M against 15.4M
        elements, 0.86 of the streaming kernel); dealing chunks out like cards
        balanced them but broke each thread's stream into 256 KiB pieces (2% slower
        on one large tensor). Results do not depend on the table: each element is
        updated by itself, and per-tensor sums add chunk partials by tensor.
        """
        threads = max(int(threads), 1)
        total = int(self.sizes.sum())
        per = -(-total // threads) if total else 0
        runs: list[list[tuple[int, int, int]]] = [[] for _ in range(threads)]
        pos = 0  # offset in the group's elements, tensor after tensor
        for k, n in enumerate(self.sizes.tolist()):
            s = 0
            while s < n:
                r = min(pos // per, threads - 1)
                limit = (r + 1) * per - pos if r < threads - 1 else n - s
                take = min(n - s, CHUNK, limit)
                runs[r].append((k, s, s + take))
                s += take
                pos += take
        width = max(len(run) for run in runs)
        table = [c for run in runs for c in run + [(0, 0, 0)] * (width - len(run))]
        self.chunk_tensor = np.array([c[0] for c in table], dtype=np.int64)
        # unsigned bounds: the inner loop index is then unsigned, which lets LLVM vectorise
        self.chunk_start = np.array([c[1] for c in table], dtype=np.uint64)
        self.chunk_stop = np.array([c[2] for c in table], dtype=np.uint64)
        self.partials = np.zeros((len(table), self.n_reductions), np.float64)
        self.nonfinite_flags = np.zeros(len(table), np.uint8)  # per chunk (nonfinite="skip"/"raise")
        self.threads = threads
        self.calls = {}  # their arguments hold the old table


class _PassCall:
    """The arguments of one pass over one group, in the order of optgen/abi.py, kept between steps.

    Only the gradient table and the scalars change from step to step, and the scalars seldom
    do (a schedule, Adam's bias corrections): they are converted to the kernel's dtype again
    only when their values change (``numpy.float32(x)`` costs about 0.5 µs on the 2-core
    machine, and a 4-tensor MLP's whole step about 90). Made again when the group's chunk
    table is dealt again (:meth:`_Group.balance`)."""

    def __init__(self, gr: _Group, p: abi.Pass):
        self.p = p
        self.dtype = gr.dtype.type
        arrays = [None if a == "g" else gr.ptrs[a] for a in p.arrays]  # the gradients' table: each step
        self.g_slot = 4 + p.arrays.index("g") if "g" in p.arrays else None
        self.first_scalar = 4 + len(arrays)
        self.template = [gr.chunk_tensor, gr.chunk_start, gr.chunk_stop, gr.sizes, *arrays,
                         *[None] * (len(p.host_args) + len(p.tensor_args)), gr.partials]
        self.n_tensors = gr.n_tensors
        self.sums = [(j, r) for j, r in enumerate(p.reductions) if r not in p.global_reductions]
        self._last: tuple = (None, [])  # the scalars' last values and their conversions
        n = len(p.host_args)
        self._pick = operator.itemgetter(*range(n)) if n > 1 else (lambda a: (a[0],))
        self.uses_axes = p.uses_axes

    def arguments(self, g_table, values: dict) -> list:
        """The kernel's arguments for this step (a new list: the caller may extend it)."""
        p, args = self.p, self.template.copy()
        if self.g_slot is not None:
            args[self.g_slot] = g_table
        raw = tuple(values[h] for h in p.host_args)
        key = (raw, tuple(map(math.copysign, _ONES, raw)))  # == takes -0.0 for 0.0: the signs too
        if key != self._last[0]:  # one array, then its elements: half the time of a dtype(v) each
            self._last = (key, self._pick(np.array(raw, self.dtype)) if raw else ())
        start = self.first_scalar
        args[start:start + len(raw)] = self._last[1]
        start += len(raw)
        for s in p.tensor_args:
            args[start] = per_tensor_argument(values[s], self.n_tensors, self.dtype)
            start += 1
        return args


def create_cpu(spec: Spec, params: Sequence, options: dict, values: dict, nonfinite: str = "propagate",
               states: Sequence[dict] | None = None) -> "CPUOptimizer":
    """The CPU optimizer for ``spec``: builds (if needed) and loads its kernels (the CPU half of
    :func:`optgen.runtime.api.create`; ``create_cuda`` is the other)."""
    from ..compiler.driver import load_module
    return CPUOptimizer(spec, load_module(spec, options, "cpu"), params, options, values, nonfinite, states)


class CPUOptimizer(CompiledOptimizer):
    """A compiled optimizer over a list of numpy arrays, updated in place."""

    device = "cpu"

    def __init__(self, spec: Spec, module, params: Sequence[np.ndarray], options: dict, values: dict,
                 nonfinite: str = "propagate", states: Sequence[dict] | None = None):
        """``states``: optional per-parameter ``{state name: array}`` the kernels update in place
        instead of buffers of their own (C-contiguous, each of its parameter's size and dtype;
        optgen.torch passes views of torch tensors, so that torch owns and checkpoints them)."""
        where = f"optgen.create({spec.name!r})"
        super().__init__(spec, module, options, values, where, nonfinite)
        self._guard = StepGuard(where)
        self._grad_addresses: tuple = (None, [])  # step_addresses' last (addresses, tables per group)
        self.params = check_params(params, where)
        placement = self._place([p.shape for p in self.params], [p.dtype for p in self.params],
                                aliasing.host_ranges(self.params))
        if states is not None:
            states = check_states(states, self.params, self.states, where)
        check_matrix_shapes(module, [p.shape for p in self.params], where)
        scratch = abi.matrix_arrays(module.VARIANTS.values())
        self.groups = [_Group(dt, idx, self.params, self.states, states, scratch) for dt, idx in placement]
        n_red = abi.max_reductions(module.VARIANTS.values())
        for gr in self.groups:
            gr.n_reductions = max(n_red, 1)
            gr.partials = np.zeros((len(gr.chunk_tensor), gr.n_reductions), np.float64)
        self._place_axes([p.shape for p in self.params], states)
        # every variant the run reaches compiles now, in the background (runtime/precompile.py)
        self._precompiler = Precompiler(module, reachable_variants(module, spec, values, self.host_states),
                                        self.groups, self._axis_loops())

    def step(self, grads: Sequence) -> None:
        """One step; refused (``ConcurrentStepError``) while another thread is inside this optimizer."""
        with self._guard.exclusive("step"):
            grad_tables = self._admitted(grads)
            if grad_tables is not None:
                self._launch(grad_tables)

    def exclusive(self, method: str):
        """``with opt.exclusive("step"):`` this optimizer held by the calling thread (else
        ``ConcurrentStepError``): for a caller that drives its :meth:`passes` itself."""
        return self._guard.exclusive(method)

    def passes(self, grads: Sequence) -> lockstep.Step | None:
        """The step on ``grads`` as a generator of its sums over every tensor, for a caller that
        adds them with other optimizers' (runtime/lockstep.py ``run_together``), inside
        :meth:`exclusive` and ``threads.kernel_launches``; None when the policy on non-finite
        gradients skips the step."""
        grad_tables = self._admitted(grads)
        return None if grad_tables is None else self._passes(grad_tables)

    def step_addresses(self, addresses: Sequence[int]) -> None:
        """One step whose gradients are given as base addresses, one per parameter, of C-contiguous
        memory of the parameter's size and dtype that stays valid during the call.

        For a caller that has checked its own gradients (optgen.torch: a ``data_ptr()`` per
        tensor instead of a numpy view, its checks and an address table built from the views,
        about 14 µs a tensor on the 2-core machine). Only ``nonfinite="propagate"`` and no
        tied positions: both need the gradients as arrays."""
        with self._guard.exclusive("step"):
            self._launch(self._address_tables(addresses))

    def address_passes(self, addresses: Sequence[int]) -> lockstep.Step:
        """:meth:`step_addresses` as a generator of its sums over every tensor, as :meth:`passes`."""
        return self._passes(self._address_tables(addresses))

    def _address_tables(self, addresses: Sequence[int]) -> list:
        if self.nonfinite != "propagate" or self._tied:
            raise ValueError(f"{self._where}: step_addresses needs nonfinite='propagate' and no tied "
                             "parameters; use step(grads)")
        if len(addresses) != len(self.params):
            raise ValueError(f"{self._where}: got {len(addresses)} gradient addresses for "
                             f"{len(self.params)} parameters")
        if addresses != self._grad_addresses[0]:  # the same gradients as last step: the same tables
            self._grad_addresses = (list(addresses), [np.array([addresses[i] for i in gr.indices], np.uint64)
                                                      for gr in self.groups])
        return self._grad_addresses[1]

    def _admitted(self, grads: Sequence) -> list | None:
        """The groups' gradient address tables of a step on ``grads``, checked; None when the
        policy on non-finite gradients skips the step."""
        grads = check_grads(grads, self.params, self._where)
        aliasing.check_tied_grads(grads, self._tied, aliasing.same_host_array, self._where)
        if self.nonfinite != "propagate" and not self._admit(self._nonfinite_grads(grads), grads):
            return None
        return [gr.grads_table(grads) if "g" in self.module.ARRAYS else None for gr in self.groups]

    def _launch(self, grad_tables: list) -> None:
        with kernel_launches():  # serialised where the threading layer is not thread-safe
            lockstep.run_alone(self._passes(grad_tables), self.all_reduce)
        self._compiled_for_the_run()  # the first step returns once no later one can wait for a compile

    def _passes(self, grad_tables: list) -> lockstep.Step:
        """The step's kernels: each pass over every group (with its gradient address table), then
        the sums over every tensor (yielded: runtime/lockstep.py), then each group's per-tensor stage."""
        t, variant, host = self._begin_step()
        available = get_threads()
        live = [(gr, g_table, {**host, **gr.matrix_shapes} if len(grad_tables) > 1 or gr.matrix_shapes else host)
                for gr, g_table in zip(self.groups, grad_tables) if gr.n_tensors]  # one group: host's own dict
        for gr, _, values in live:
            if gr.axes is not None:  # rows and columns: their tensors, the reduced-shape states
                values.update(gr.axes.inputs())
        for q, p in enumerate(variant.passes):
            for gr, g_table, values in live:
                self._run_pass(gr, p, values, g_table, available)
            if p.global_reductions:
                totals = yield p.global_reductions, self.local_sums(p, [gr for gr, _, _ in live])
                for gr, _, values in live:  # a value per tensor, the same for each (docs/design.md)
                    values.update({r: np.full(gr.n_tensors, x) for r, x in zip(p.global_reductions, totals)})
            for step in variant.matrix_steps[q] if q < len(variant.matrix_steps) else ():
                for gr, _, _ in live:  # the tensor's own library (numpy matmul: BLAS)
                    run_matrix_step(step, gr.flat[step.array], gr.shapes, gr.matrix_work)
            if q < len(variant.tensor_stages):
                with np.errstate(all="ignore"):  # a branch not taken may divide by zero
                    for gr, _, values in live:
                        outputs = variant.tensor_stages[q](values)
                        values.update(outputs)
                        if gr.axes is not None:
                            gr.axes.keep(outputs, values)
        # a host state made of sums over every tensor (Prodigy's d) is a per-tensor stage's value
        self._finish_step(t, host, live[0][2] if live else None)

    def local_sums(self, p: abi.Pass, groups: list) -> np.ndarray:
        """The pass's sums over every tensor (``global_sum``) of this optimizer's tensors, from the
        chunk partials of every group, in group order (the same sum every step).

        The step yields them (runtime/lockstep.py), and the one step between the partials and their
        use adds what else there is: the other optimizers of a spec with per-tensor options, and in
        a sharded run every process's sums (``self.all_reduce``, a function from this process's
        float64 vector to the vector over every process, e.g. ``torch.distributed.all_reduce`` on it)."""
        columns = [p.reductions.index(r) for r in p.global_reductions]
        local = np.zeros(len(columns))
        for gr in groups:  # a pass that adds to row sums runs over runs of rows, with partials of their own
            local += (gr.axes.partials if p.axis_reductions else gr.partials)[:, columns].sum(axis=0)
        return local

    def _nonfinite_grads(self, grads) -> list[int]:
        """Indices of the gradients that hold a NaN or an infinity: one parallel read of each."""
        bad = []
        for gr in self.groups:
            if gr.n_tensors:
                found = nonfinite_tensors(gr.chunk_tensor, gr.chunk_start, gr.chunk_stop, gr.sizes,
                                          gr.grads_table(grads), gr.dtype, gr.nonfinite_flags)
                bad += [gr.indices[k] for k in found]
        return sorted(bad)

    def _run_pass(self, gr: _Group, p: abi.Pass, values: dict, g_table, available: int) -> None:
        """One pass over one group on the threads its size calls for; its per-tensor sums into ``values``."""
        threads = launch_threads(gr.elements, available)
        if gr.threads != threads:  # Numba's thread count changed: deal the chunks again
            gr.balance(threads)
        call = gr.calls.get(id(p))
        if call is None or call.p is not p:
            call = gr.calls[id(p)] = _PassCall(gr, p)
        args = call.arguments(g_table, values)
        if call.uses_axes:  # the row and column values; a pass that adds to their sums runs over runs of whole rows
            ax = gr.axes
            axis_args = [*ax.axis_arguments(p, values), ax.table]
            if p.axis_reductions:
                if ax.threads != threads:  # its runs of rows, an equal share for each thread
                    ax.balance(threads)
                args[:3] = ax.chunk_tensor, ax.chunk_start, ax.chunk_stop
                axis_args.append(ax.chunk_part)  # the kernel clears the sums it adds to
                args[-1] = ax.partials
            args[-1:-1] = axis_args
            args.append(ax.sums)
        if threads != available:
            set_threads(threads)
        try:
            p.kernels[gr.dtype_name](*args)
        finally:
            if threads != available:
                set_threads(available)
        if call.sums:
            chunk_tensor, partials = args[0], args[-2 if call.uses_axes else -1]
            values.update({r: np.bincount(chunk_tensor, partials[:, j], gr.n_tensors)  # chunks -> tensors
                           for j, r in call.sums})
        if p.axis_reductions:
            gr.axes.means(p, values)

    # -- checkpoints (CompiledOptimizer.state_dict / load_state_dict; one at a time with the steps) --
    def load_state_dict(self, sd: dict) -> None:
        with self._guard.exclusive("load_state_dict"):
            super().load_state_dict(sd)

    def _read_state(self, gr: _Group, k: int, state: str) -> np.ndarray:
        return gr.flat[state][k].copy()

    def _write_state(self, gr: _Group, k: int, state: str, values: np.ndarray) -> None:
        gr.flat[state][k][...] = values
