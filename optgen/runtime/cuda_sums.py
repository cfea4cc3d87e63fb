"""Sums over every tensor on the device: the chunk partials of a group, added into one row.

A pass that sums over every tensor (``global_sum``) leaves one float64 partial per
chunk in its group's ``partials``, as a per-tensor sum does. Before the finishing
kernels read the total, :func:`group_totals` adds a group's chunks, column by
column, into row ``row`` of a ``[group, global sum]`` table; each finishing kernel
then adds the rows in group order. One block of :data:`BLOCK` threads per launch
and a tree in shared memory: the order of the additions is fixed, so the sum is
the same every step (atomics would make it depend on the scheduling).

Written once for every spec (its shape does not depend on the equations), compiled
on first use; imported only by the CUDA runtime, when a step first sums over all tensors.
"""
from __future__ import annotations

import numba
from numba import cuda

BLOCK = 256  # threads of the one block: the shared memory of the tree (a power of two)


@cuda.jit
def column_totals(partials, n_chunks, columns, totals, row):
    """``totals[row, j] = sum(partials[:n_chunks, columns[j]])``: one block, a tree per column."""
    sums = cuda.shared.array(BLOCK, numba.float64)
    tid = cuda.threadIdx.x
    for j in range(columns.shape[0]):
        acc = 0.0
        for c in range(tid, n_chunks, BLOCK):
            acc += partials[c, columns[j]]
        sums[tid] = acc
        cuda.syncthreads()  # every thread's acc is in shared memory before the tree reads it
        half = BLOCK // 2
        while half > 0:
            if tid < half:
                sums[tid] += sums[tid + half]
            cuda.syncthreads()  # this level's writes before the next level's reads
            half //= 2
        if tid == 0:
            totals[row, j] = sums[0]
        cuda.syncthreads()  # thread 0's read of sums[0] before the next column's stores


def group_totals(partials, n_chunks: int, columns, totals, row: int, stream=0) -> None:
    """``totals[row, j] = sum(partials[:n_chunks, columns[j]])`` for every j, on ``stream``."""
    column_totals[1, BLOCK, stream](partials, n_chunks, columns, totals, row)


__all__ = ["BLOCK", "group_totals"]
