"""The CUDA runtime: device states, address tables, and one launch per pass per dtype.

``optgen.create(name, params, device="cuda")`` lands here. ``params`` (and the
gradients given to ``step``) are device arrays: numba device arrays, or any
object with ``__cuda_array_interface__`` (PyTorch CUDA tensors, CuPy arrays).
They are never copied: the kernels read and write them in place through tables
of their device addresses (see :mod:`optgen.compiler.cuda` for why). The
states live on the device, in one buffer per state per dtype, or in the caller's own
device arrays (``states=``: optgen.torch's torch-allocated tensors). Per step, what
crosses from the host is the host stage's scalars (kernel arguments, by value)
and, only when the gradient objects differ from the previous step's, a new table
of gradient addresses (8 bytes per tensor).

Nothing here imports numba-cuda until an optimizer is created, so that the rest
of optgen works without it; :func:`optgen.runtime.cuda_support.cuda_support` says what is missing.

Streams: kernels run on ``stream`` (``step(grads, stream=...)``, a numba stream;
default: the default stream, which is also PyTorch's unless you set one; optgen.torch
passes torch's current stream). Work
that produced the gradients on another stream must be ordered before the step
by the caller, as for any CUDA kernel. Steps are asynchronous;
:meth:`CUDAOptimizer.synchronize` waits for them (for timing, call it before
reading the clock).
"""
from __future__ import annotations

from typing import Sequence

import numpy as np

from .. import abi
from ..spec import Spec
from . import aliasing, lockstep
from .base import CompiledOptimizer
from .cuda_arrays import DeviceTensor, device_tensor, interface as _interface, wait_for_copies
from .cuda_axes import DeviceAxes, host_staged, host_staged_passes, pass_partials
from .cuda_matrix import run_device_matrix_step, shape_columns, shape_table, torch_reaches_device_arrays
from .cuda_support import require_cuda
from .matrix import check_matrix_shapes
from .nonfinite import check_policy
from .precompile import Precompiler, reachable_variants

#: Launch configuration (docs/cuda.md, "Launch shapes"). ``block``: threads per block, any
#: integer from 1 to the module's ``MAX_BLOCK`` (1024: the block reduction's shared memory);
#: ``chunk``: elements per chunk (a block's unit of work); ``max_blocks``: grid size cap
#: (None: one block per chunk, up to 65535); blocks stride over the chunks. Not tuned on a
#: GPU yet.
DEFAULT_LAUNCH = {"block": 256, "chunk": 1 << 15, "max_blocks": None}
FINISH_BLOCK = 128


# -- the optimizer ------------------------------------------------------------------------

class _Group:
    """The tensors of one dtype: chunk table, address tables, states, per-tensor tables."""

    def __init__(self, cuda, dtype, indices, params, state_names, n_red, n_cols, launch, simulator,
                 states=None, scratch=(), shape_cols=None):
        self.dtype = np.dtype(dtype)
        self.indices = indices
        self.sizes = [params[i].size for i in indices]
        self.shapes = [params[i].shape for i in indices]
        self.offsets = np.concatenate([[0], np.cumsum(self.sizes, dtype=np.int64)]).astype(np.int64)
        total = int(self.offsets[-1])
        self.n_tensors = len(indices)
        chunk = launch["chunk"]
        tensor, start, stop, first = [], [], [], []
        for k, n in enumerate(self.sizes):
            first.append(len(tensor))
            for s in range(0, n, chunk):
                tensor.append(k)
                start.append(s)
                stop.append(min(s + chunk, n))
        first.append(len(tensor))
        self.n_chunks = len(tensor)
        self.chunk_tensor_host = np.array(tensor, dtype=np.int64)  # a host stage adds partials by it
        to_dev = cuda.to_device
        pad = [0] if not tensor else []  # no zero-size device arrays; with no chunk nothing is launched
        self.chunk_tensor = to_dev(np.array(tensor + pad, dtype=np.int32))
        self.chunk_start = to_dev(np.array(start + pad, dtype=np.int64))
        self.chunk_stop = to_dev(np.array(stop + pad, dtype=np.int64))
        self.chunk_first = to_dev(np.array(first, dtype=np.int64))
        self.tables = {"w": to_dev(np.array([params[i].address for i in indices], dtype=np.uint64))}
        if states is not None:  # the caller's arrays (optgen.torch: torch's tensors), one per tensor
            self.states = None
            for s in state_names:
                self.tables[s] = to_dev(np.array([states[i][s].address for i in indices], dtype=np.uint64))
        else:  # one buffer per state, the group's tensors one after another
            self.states = {s: _zeros(cuda, max(total, 1), self.dtype, simulator) for s in state_names}
        # the matrix steps' arrays (runtime/cuda_matrix.py): buffers of the runtime's, not states
        self.scratch = {s: _zeros(cuda, max(total, 1), self.dtype, simulator) for s in scratch}
        for s, buf in {**(self.states or {}), **self.scratch}.items():
            base = int(_interface(buf, simulator)["data"][0])
            addrs = base + self.offsets[:-1].astype(np.uint64) * np.uint64(self.dtype.itemsize)
            self.tables[s] = to_dev(addrs.astype(np.uint64))
        self.matrix_work: dict = {}
        self.partials = cuda.device_array((max(self.n_chunks, 1), max(n_red, 1)), np.float64)
        if shape_cols:  # each tensor's rows and cols, written once (no kernel writes those columns)
            table = shape_table(self.shapes, shape_cols, n_cols)
            self.values, self.per_tensor = to_dev(table), to_dev(table.astype(self.dtype))
        else:
            table = np.zeros((self.n_tensors, max(n_cols, 1)))
            self.values = cuda.device_array((self.n_tensors, max(n_cols, 1)), np.float64)
            self.per_tensor = cuda.device_array((self.n_tensors, max(n_cols, 1)), self.dtype)
        self.per_tensor_host = table.astype(self.dtype)  # where the host stage writes it (cuda_axes.py)
        self.axes = None  # rows and columns, for a module with axis reductions (runtime/axes.py)
        self.device_axes = None  # ... and their chunks and sums on the device (runtime/cuda_axes.py)
        self.max_blocks = launch["max_blocks"] or 65535
        self.grid = max(1, min(self.n_chunks, self.max_blocks))
        self.block = launch["block"]
        self.finish_grid = max(1, -(-self.n_tensors // FINISH_BLOCK))
        self._grads_key: tuple = ()

    def matrix_views(self, name: str) -> list:
        """Each tensor's part of the scratch buffer ``name``: a flat device array (a view)."""
        buf = self.scratch[name]
        return [buf[int(a):int(b)] for a, b in zip(self.offsets[:-1], self.offsets[1:])]

    def grads_table(self, cuda, grads: list):
        """The gradients' address table: uploaded again only when an address changed."""
        key = tuple(grads[i].address for i in self.indices)
        if key != self._grads_key:
            self.tables["g"] = cuda.to_device(np.array(key, dtype=np.uint64))
            self._grads_key = key
        return self.tables["g"]


def _device_ranges(tensors) -> list:
    """Device byte ranges of C-contiguous device arrays (for tied and overlapping parameters)."""
    return [(d.address, d.address + d.size * d.dtype.itemsize, (d.shape, d.dtype.str)) for d in tensors]


def _same_device_array(a: DeviceTensor, b: DeviceTensor) -> bool:
    return (a.address, a.shape, a.dtype) == (b.address, b.shape, b.dtype)


def _zeros(cuda, n: int, dtype, simulator: bool):
    if not simulator:
        try:
            from numba.cuda.cudadrv.driver import device_memset
            arr = cuda.device_array(n, dtype)
            device_memset(arr, 0, arr.nbytes)
            return arr
        except Exception:  # pragma: no cover - fall back to a host copy of zeros
            pass
    return cuda.to_device(np.zeros(n, dtype))


class CUDAOptimizer(CompiledOptimizer):
    """A compiled optimizer over a list of device arrays, updated in place on the GPU.

    The host side (hyperparameters, schedules, variant, float64 host stage, host
    states, checkpoints of those) is :class:`~optgen.runtime.base.CompiledOptimizer`'s,
    shared with the CPU runtime.
    """

    device = "cuda"

    def __init__(self, spec: Spec, module, params: Sequence, options: dict, values: dict,
                 cuda=None, states: Sequence[dict] | None = None, **launch):
        """``states``: optional per-parameter ``{state name: device array}`` the kernels update in
        place instead of buffers of their own (C-contiguous, each of its parameter's size and
        dtype; optgen.torch passes torch's CUDA tensors, so that torch allocates, saves and
        moves them). Such an optimizer's states are the caller's to save: its own
        ``state_dict`` refuses."""
        import numba
        where = f"optgen.create({spec.name!r}, device='cuda')"
        super().__init__(spec, module, options, values, where)
        self.cuda = cuda if cuda is not None else require_cuda(f"optgen.create({spec.name!r})")
        self.simulator = bool(numba.config.ENABLE_CUDASIM)
        self.launch = check_launch({**DEFAULT_LAUNCH, **launch}, module.MAX_BLOCK, self._where)
        if isinstance(params, np.ndarray) or _interface(params, self.simulator) is not None:
            raise TypeError(f"{self._where}: params must be a list of arrays, not one array (wrap it: [w])")
        self.params = list(params)
        self._tensors = [device_tensor(p, f"params[{i}]", self._where, self.simulator, True)
                         for i, p in enumerate(self.params)]
        placement = self._place([p.shape for p in self._tensors], [p.dtype for p in self._tensors],
                                _device_ranges(self._tensors))
        self._caller_states = None if states is None else self._check_states(states)
        check_matrix_shapes(module, [p.shape for p in self._tensors], self._where)
        scratch, shape_cols = abi.matrix_arrays(module.VARIANTS.values()), shape_columns(module)
        self.groups = [_Group(self.cuda, dt, idx, self._tensors, self.states, module.N_REDUCTIONS,
                              module.N_COLUMNS, self.launch, self.simulator, self._caller_states, scratch,
                              shape_cols)
                       for dt, idx in placement]
        self._matrix_on_device = bool(scratch) and torch_reaches_device_arrays(self.simulator)
        self._place_axes([p.shape for p in self._tensors], states)
        for gr in self.groups:
            if gr.axes is not None:
                gr.device_axes = DeviceAxes(self.cuda, gr.axes, max(abi.max_reductions(module.VARIANTS.values()), 1))
        self._totals: dict = {}  # global reductions of a pass -> (their partials' columns, device table)
        # the host stages' compiled loops (Adafactor's rows and columns), in the background
        self._precompiler = Precompiler(module, reachable_variants(module, spec, values, self.host_states), (),
                                        self._axis_loops()) \
            if any(v.stage_loops for v in module.VARIANTS.values()) else None

    def _check_states(self, states: Sequence[dict]) -> list[dict]:
        states = list(states)
        if len(states) != len(self._tensors):
            raise ValueError(f"{self._where}: got {len(states)} state dicts for {len(self._tensors)} parameters")
        out = []
        for i, (st, p) in enumerate(zip(states, self._tensors)):
            row = {}
            for s in self.states:
                if not isinstance(st, dict) or s not in st:
                    raise ValueError(f"{self._where}: states[{i}] lacks {s!r}")
                d = device_tensor(st[s], f"states[{i}][{s!r}]", self._where, self.simulator, True)
                if d.size != p.size or d.dtype != p.dtype:
                    raise ValueError(f"{self._where}: states[{i}][{s!r}] must be a {p.dtype} array of "
                                     f"{p.size} elements, not {d.dtype} of {d.size}")
                row[s] = d
            out.append(row)
        return out

    # -- the step --
    def _check_grads(self, grads) -> list[DeviceTensor]:
        if isinstance(grads, np.ndarray) or _interface(grads, self.simulator) is not None:
            raise TypeError(f"{self._where}: grads must be a list of arrays, not one array")
        grads = list(grads)
        if len(grads) != len(self.params):
            raise ValueError(f"{self._where}: got {len(grads)} gradients for {len(self.params)} parameters")
        out = []
        for i, (gr, p) in enumerate(zip(grads, self._tensors)):
            d = device_tensor(gr, f"grads[{i}]", self._where, self.simulator, False)
            if d.shape != p.shape:
                raise ValueError(f"{self._where}: grads[{i}] has shape {d.shape}, params[{i}] has {p.shape}")
            if d.dtype != p.dtype:
                raise TypeError(f"{self._where}: grads[{i}] has dtype {d.dtype}, params[{i}] has {p.dtype}")
            out.append(d)
        aliasing.check_tied_grads(out, self._tied, _same_device_array, self._where)
        return out

    def step(self, grads: Sequence, stream=0) -> None:
        """One step: the host stage on the host, then every pass as one launch per dtype (asynchronous)."""
        lockstep.run_alone(self.passes(grads, stream, alone=True))

    def passes(self, grads: Sequence, stream=0, alone: bool = False) -> lockstep.Step:
        """The step on ``grads`` as a generator (runtime/lockstep.py). ``alone``: its sums over every
        tensor are this optimizer's (``all_reduce`` called with the device table); else each is
        read back and yielded, for a caller that adds other optimizers' (PerTensorOptions), and the
        total it sends is what the finishing kernels read."""
        needs_g = "g" in self.module.ARRAYS
        tensors = self._check_grads(grads)
        t, variant, host = self._begin_step()
        live = [gr for gr in self.groups if gr.n_tensors]
        if needs_g:
            for gr in live:
                gr.grads_table(self.cuda, tensors)
        if host_staged(variant):
            first = yield from host_staged_passes(self, variant, live, host, stream, alone)
            self._finish_step(t, host, first)
            return
        for q, p in enumerate(variant.passes):  # each pass over every group before the next: sums over all tensors
            for gr in live:
                self._run_pass(gr, p, host, stream)
            totals = None
            if p.global_reductions:
                totals, _ = yield from self.global_totals(p, live, stream, alone, on_host=False)
            f = p.finish
            if f is not None:
                for gr in live:
                    args = [gr.chunk_first, gr.partials, gr.values, gr.per_tensor,
                            *[np.float64(host[h]) for h in f.host_args]]
                    f.kernels[gr.dtype.name][gr.finish_grid, FINISH_BLOCK, stream](
                        *args, *([totals] if totals is not None else []))
            for m in variant.matrix_steps[q] if q < len(variant.matrix_steps) else ():
                for gr in live:
                    run_device_matrix_step(m, gr.matrix_views(m.array), gr.shapes, gr.matrix_work,
                                           self._matrix_on_device, stream)
        self._finish_step(t, {**self._device_host_states(variant, live, host, stream), **host})

    def _device_host_states(self, variant: abi.Variant, live: list, host: dict, stream) -> dict:
        """The new values of host states made of sums over every tensor (Prodigy's d): formed by a
        finishing kernel on the device, the same for every tensor; read back from the first tensor's
        row (a copy to the host, so such a spec's step waits for its kernels)."""
        wanted = [new for new in self.module.HOST_STATES.values() if new not in host]
        if not wanted or not live:
            return {}
        row = live[0].values[0].copy_to_host(stream=stream)  # in order after the finishing kernel
        wait_for_copies(stream)
        return {new: float(row[variant.columns.index(new)]) for new in wanted}

    def _run_pass(self, gr: _Group, p: abi.Pass, host: dict, stream) -> None:
        if not gr.n_chunks:
            return
        dt = gr.dtype.type
        args = [gr.chunk_tensor, gr.chunk_start, gr.chunk_stop]  # the argument order of optgen/abi.py
        args += [gr.tables[a] for a in p.arrays]
        args += [dt(host[h]) for h in p.host_args]
        if p.tensor_args:
            args.append(gr.per_tensor)
        if p.reductions:
            args.append(gr.partials)
        p.kernels[gr.dtype.name][gr.grid, gr.block, stream](*args)

    def global_totals(self, p: abi.Pass, groups: list, stream, alone: bool, on_host: bool):
        """A generator (yield from it): the pass's sums over every tensor, as the device table of
        :meth:`global_sums` and, where ``on_host`` or not ``alone``, their vector on the host. Not
        ``alone``, the vector is yielded and the total sent back replaces the table (its first row)."""
        table = self.global_sums(p, groups, stream, alone)
        if alone and not on_host:
            return table, None
        rows = table.copy_to_host(stream=stream)
        wait_for_copies(stream)
        sums = rows.sum(axis=0)  # in group order, as the finishing kernels add them
        if not alone:
            sums = yield p.global_reductions, sums
            rows[...] = 0.0
            rows[0] = sums
            table.copy_to_device(rows, stream=stream)
        return table, sums

    def global_sums(self, p: abi.Pass, groups: list, stream, alone: bool = True):
        """The pass's sums over every tensor: a ``[group, global sum]`` device table, each row one
        group's chunk partials added on the device (runtime/cuda_sums.py) and read by the finishing
        kernels. The one step between the partials and their use: a sharded run adds the table
        across processes here (``self.all_reduce``, called with the device table; an all-reduce
        of the table's sum over processes, e.g. ``torch.distributed.all_reduce`` on it)."""
        from .cuda_sums import group_totals
        key = p.global_reductions
        if key not in self._totals:
            columns = np.array([p.reductions.index(r) for r in key], np.int64)
            self._totals[key] = (self.cuda.to_device(columns),
                                 self.cuda.device_array((max(len(groups), 1), len(key)), np.float64))
        columns, totals = self._totals[key]
        for row, gr in enumerate(groups):
            group_totals(*pass_partials(gr, p), columns, totals, row, stream)
        if alone and self.all_reduce is not None:  # stepped with others: the caller adds every sum
            self.all_reduce(totals)
        return totals

    def bytes_per_step(self, t: int | None = None) -> int:
        """Bytes the kernels of step ``t`` (default: the next) must move: every element's loads and stores.

        The floor of a step's time is this over the memory bandwidth (docs/design.md, "Performance model").
        """
        variant, _ = self._variant(self.t + 1 if t is None else t)
        return sum(int(gr.offsets[-1]) * abi.bytes_per_element(variant.passes, gr.dtype.itemsize)
                   for gr in self.groups)

    def synchronize(self) -> None:
        """Wait for every launched step to finish (before reading a clock or the arrays on the host)."""
        self.cuda.synchronize()

    # -- checkpoints (host numpy arrays) --
    def _state_view(self, gr: _Group, k: int, s: str):
        if gr.states is None:
            raise ValueError(f"{self._where}: the states are the caller's arrays (states=...): save and "
                             "load those (optgen.torch: the optimizer's own state_dict)")
        lo, hi = int(gr.offsets[k]), int(gr.offsets[k + 1])
        return gr.states[s][lo:hi]

    # -- checkpoints (CompiledOptimizer.state_dict / load_state_dict) --
    def _synchronize(self) -> None:
        self.synchronize()

    def _read_state(self, gr: _Group, k: int, state: str) -> np.ndarray:
        return self._state_view(gr, k, state).copy_to_host() if gr.sizes[k] else np.zeros(0, gr.dtype)

    def _write_state(self, gr: _Group, k: int, state: str, values: np.ndarray) -> None:
        if gr.sizes[k]:
            self._state_view(gr, k, state).copy_to_device(np.ascontiguousarray(values, dtype=gr.dtype))


def _is_int(x) -> bool:
    return isinstance(x, (int, np.integer)) and not isinstance(x, (bool, np.bool_))


def check_launch(launch: dict, max_block: int, where: str) -> dict:
    """The launch shapes the kernels accept (docs/cuda.md, "Launch shapes"); a clear error otherwise."""
    unknown = set(launch) - set(DEFAULT_LAUNCH)
    if unknown:
        raise TypeError(f"{where}: unknown launch option(s) {sorted(unknown)}; known: {sorted(DEFAULT_LAUNCH)}")
    block, chunk, mb = launch["block"], launch["chunk"], launch["max_blocks"]
    if not (_is_int(block) and 1 <= block <= max_block):
        raise ValueError(f"{where}: block={block!r} must be an integer from 1 to {max_block} threads "
                         "(the block reduction's shared memory holds that many; multiples of 32 fill whole warps)")
    if not (_is_int(chunk) and chunk >= 1):
        raise ValueError(f"{where}: chunk={chunk!r} must be a positive integer (elements per chunk)")
    if mb is not None and not (_is_int(mb) and 1 <= mb <= 65535):
        raise ValueError(f"{where}: max_blocks={mb!r} must be an integer from 1 to 65535, or None")
    return {"block": int(block), "chunk": int(chunk), "max_blocks": None if mb is None else int(mb)}


def create_cuda(spec: Spec, params: Sequence, options: dict, values: dict, nonfinite: str = "propagate",
                **launch) -> CUDAOptimizer:
    """The CUDA optimizer for ``spec``: checks that CUDA can run, builds (if needed) and loads its kernels.

    Only ``nonfinite="propagate"`` runs on CUDA: the check of "skip"/"raise" is the CPU runtime's.
    """
    where = f"optgen.create({spec.name!r}, device='cuda')"
    if check_policy(nonfinite, where) != "propagate":
        raise NotImplementedError(
            f"{where}: nonfinite={nonfinite!r} is implemented for device='cpu' only; on CUDA only "
            "'propagate' (the default) runs. Check the gradients before step (torch.isfinite(g).all(), "
            "as torch's GradScaler does) or run on the CPU (docs/reliability.md)")
    cuda = require_cuda(f"optgen.create({spec.name!r})")
    from ..compiler.driver import load_module
    module = load_module(spec, options, "cuda")
    return CUDAOptimizer(spec, module, params, options, values, cuda=cuda, **launch)


__all__ = ["create_cuda", "check_launch", "CUDAOptimizer", "DEFAULT_LAUNCH", "device_tensor"]
