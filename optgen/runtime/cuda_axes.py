"""Axis reductions on the CUDA target: kernels over rows on the device, per-row stages on the host.

A pass that reads or makes values per row or column (``row_mean``, ``col_mean``: Adafactor's
factored second moment) runs over the chunks of the group's :class:`~optgen.runtime.axes.AxisTable`
(runs of whole rows, as on the CPU): one block per chunk, the block's threads along each row, a
column of every row one thread's, so that each row's sum is one block's (a tree in shared memory
per row) and each column sum one thread's (a matrix split into several chunks gives each later
chunk sums of its own). Nothing is added by two threads, so the sums are the same every step.

Between the passes the runtime reads the sums and the chunk partials back (a few values per row,
column and chunk: 0.2 MB for GPT-2 small), computes the per-tensor stage on the host with the
CPU runtime's own code (the generated float64 ``tensor_*`` functions, ``AxisTable.means`` and
``keep``), and sends the next pass its values per tensor, row and column. A sum over every
tensor (``clip_by_global_norm`` around Adafactor) is added on the device as in any other step
(runtime/cuda_sums.py) and read back with the rest; a matrix step runs between the passes as in
any other step. The reduced-shape states
live on the host, as on the CPU. That costs one synchronisation per pass; moving the per-row stage
onto the device (a finishing kernel per row) is what would remove it.
"""
from __future__ import annotations

import numpy as np

from .. import abi
from .cuda_arrays import wait_for_copies
from .cuda_matrix import run_device_matrix_step


class DeviceAxes:
    """A group's axis chunk table and sums on the device, with the host buffers they come back to."""

    def __init__(self, cuda, table, n_reductions: int):
        to_dev = cuda.to_device
        self.table = table
        self.n_chunks = len(table.chunk_tensor)
        self.chunk_tensor = to_dev(table.chunk_tensor.astype(np.int32))
        self.chunk_start = to_dev(table.chunk_start.astype(np.int64))
        self.chunk_stop = to_dev(table.chunk_stop.astype(np.int64))
        self.chunk_part = to_dev(table.chunk_part.astype(np.int64))
        self.axes = to_dev(table.table.astype(np.int64))
        self.zero_sums = np.zeros_like(table.sums)
        self.sums = to_dev(self.zero_sums)
        self.partials = cuda.device_array((max(self.n_chunks, 1), max(n_reductions, 1)), np.float64)


def host_staged(variant: abi.Variant) -> bool:
    """Whether a variant's per-tensor stages are the host's (compiler/cuda.py, ``host_staged``)."""
    return any(p.uses_axes for p in variant.passes)


def pass_partials(gr, p: abi.Pass):
    """Where pass ``p`` leaves its chunk partials in group ``gr``: the axis table's chunks (runs of
    whole rows) for a pass over rows, else the group's elementwise chunks; and how many there are."""
    if p.uses_axes:
        return gr.device_axes.partials, gr.device_axes.n_chunks
    return gr.partials, gr.n_chunks


def host_staged_passes(opt, variant: abi.Variant, live: list, host: dict, stream, alone: bool):
    """A step with axis reductions (a generator, as the runtime's ``passes``): each pass of ``opt``
    (runtime/cuda.py) on the device, its sums back to the host, the sums over every tensor and the
    matrix steps as in any step, the per-tensor stage on the host (the CPU runtime's), its values
    to the next pass. Returns the first group's values (a host state made of sums over every
    tensor is one of them)."""
    values = {gr: {**host, **gr.axes.inputs()} for gr in live}
    for q, p in enumerate(variant.passes):
        for gr in live:
            run_pass(opt.cuda, gr, p, variant, values[gr], stream)
        if p.global_reductions:
            _, sums = yield from opt.global_totals(p, live, stream, alone, on_host=True)
            for gr in live:  # a value per tensor, the same for each (docs/design.md)
                values[gr].update({r: np.full(gr.n_tensors, x) for r, x in zip(p.global_reductions, sums)})
        for m in variant.matrix_steps[q] if q < len(variant.matrix_steps) else ():
            for gr in live:
                run_device_matrix_step(m, gr.matrix_views(m.array), gr.shapes, gr.matrix_work,
                                       opt._matrix_on_device, stream)
        if q < len(variant.tensor_stages):
            with np.errstate(all="ignore"):  # a branch not taken may divide by zero
                for gr in live:
                    outputs = variant.tensor_stages[q](values[gr])
                    values[gr].update(outputs)
                    gr.axes.keep(outputs, values[gr])
    opt._compiled_for_the_run()  # the stages' loops: no later step waits for one
    return values[live[0]] if live else {}


def run_pass(cuda, gr, p: abi.Pass, variant: abi.Variant, values: dict, stream) -> None:
    """Pass ``p`` over group ``gr`` (runtime/cuda.py's ``_Group``) and its results into ``values``:
    the per-tensor sums (float64 arrays over tensors) and the means over an axis."""
    ax = gr.device_axes
    by_rows = p.uses_axes
    chunks = (ax.chunk_tensor, ax.chunk_start, ax.chunk_stop) if by_rows else (
        gr.chunk_tensor, gr.chunk_start, gr.chunk_stop)
    partials, n_chunks = pass_partials(gr, p)
    if not n_chunks:
        return
    dt = gr.dtype.type
    args = [*chunks, *[gr.tables[a] for a in p.arrays], *[dt(values[h]) for h in p.host_args]]
    if p.tensor_args:
        for s in p.tensor_args:
            gr.per_tensor_host[:, variant.columns.index(s)] = values[s]
        gr.per_tensor.copy_to_device(gr.per_tensor_host, stream=stream)
        args.append(gr.per_tensor)
    if p.reductions:
        args.append(partials)
    if by_rows:
        args += [cuda.to_device(a, stream=stream) for a in ax.table.axis_arguments(p, values)]
        args.append(ax.axes)
        if p.axis_reductions:
            ax.sums.copy_to_device(ax.zero_sums, stream=stream)
            args += [ax.chunk_part, ax.sums]
    grid = max(1, min(n_chunks, gr.max_blocks))
    p.kernels[gr.dtype.name][grid, gr.block, stream](*args)
    if p.reductions:
        host = partials.copy_to_host(stream=stream)[:n_chunks]
        owner = ax.table.chunk_tensor if by_rows else gr.chunk_tensor_host
        wait_for_copies(stream)
        values.update({r: np.bincount(owner, host[:, j], gr.n_tensors) for j, r in enumerate(p.reductions)})
    if p.axis_reductions:
        ax.sums.copy_to_host(ax.table.sums, stream=stream)
        wait_for_copies(stream)
        ax.table.means(p, values)


__all__ = ["DeviceAxes", "host_staged", "host_staged_passes", "pass_partials", "run_pass"]
