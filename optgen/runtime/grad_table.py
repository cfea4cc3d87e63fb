"""The CPU kernels' table of gradient addresses, and the copies a strided gradient needs.

A kernel reads tensor k's gradient through its base address as ``size[k]``
contiguous elements. A C-contiguous gradient is read in place: its address goes
into the table, and the table is reused while the same array objects come back
(an array's address never changes while we hold it; its *contents* are read by
the kernel at every step, so a buffer updated in place is seen).

A non-contiguous gradient (a view such as ``G[:, ::2]``, a Fortran-order array)
is copied into a contiguous buffer of the tensor's own *at every step*: the
gradient object being the same says nothing about its contents, which a
persistent gradient buffer changes in place between steps. The buffer is
allocated once per tensor, so its address (and the table) stays valid.
"""
from __future__ import annotations

import numpy as np

from .pointers import address_table


class GradTable:
    """Addresses of one dtype group's gradients (``indices`` into the step's list)."""

    def __init__(self, indices, sizes, dtype):
        self.indices = list(indices)
        self._sizes = [int(n) for n in sizes]
        self._dtype = np.dtype(dtype)
        self._key: tuple = ()            # the gradient objects the table was built for
        self._copied: list = []          # [(position in the group, its buffer)] refreshed every step
        self._buffers: dict = {}         # position -> contiguous buffer, allocated once
        self._keep: list = []            # what the table's addresses point into
        self._table = None

    def __call__(self, grads) -> np.ndarray:
        mine = [grads[i] for i in self.indices]
        if len(mine) != len(self._key) or not all(a is b for a, b in zip(mine, self._key)):
            self._rebuild(mine)
        for k, buf in self._copied:      # strided gradients: their contents, this step
            np.copyto(buf.reshape(mine[k].shape), mine[k])
        return self._table

    def _rebuild(self, mine: list) -> None:
        flat, copied = [], []
        for k, gr in enumerate(mine):
            if gr.flags.c_contiguous:
                flat.append(gr.reshape(-1))
                continue
            buf = self._buffers.get(k)
            if buf is None:
                buf = self._buffers[k] = np.empty(self._sizes[k], self._dtype)
            flat.append(buf)
            copied.append((k, buf))
        self._key, self._keep, self._copied = tuple(mine), flat, copied
        self._table = address_table(flat)
