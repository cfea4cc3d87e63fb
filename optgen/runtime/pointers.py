"""Addresses in, arrays out: how a CPU kernel reaches the user's own arrays.

The runtime hands each kernel a table of base addresses (``uint64``) and the
tensors' sizes; the kernel views tensor ``k`` as
``numba.carray(as_pointer(ptr[k]), size[k], dtype)``. A ``numba.typed.List`` of
arrays does the same job, but every new process compiles the typed list's own
methods on first use (about a second: longer than loading our cached kernels),
and every element access increments a reference count. An address table is a
plain array: nothing to compile, nothing to count. The runtime keeps every array
whose address is in a table alive for as long as the table is used.
"""
from __future__ import annotations

import numpy as np
from numba import types
from numba.core import cgutils
from numba.extending import intrinsic


@intrinsic
def as_pointer(typingctx, addr):
    """An integer address as a ``void*`` (for ``numba.carray(ptr, n, dtype)``)."""
    if not isinstance(addr, types.Integer):
        return None

    def codegen(context, builder, sig, args):
        return builder.inttoptr(args[0], cgutils.voidptr_t)

    return types.voidptr(addr), codegen


def address_table(arrays) -> np.ndarray:
    """The base addresses of C-contiguous arrays, as ``uint64`` (the caller keeps them alive)."""
    return np.fromiter((a.__array_interface__["data"][0] for a in arrays), dtype=np.uint64, count=len(arrays))
