"""Addresses in, arrays out, on the device: how a CUDA kernel reaches the user's own arrays.

The CUDA twin of ``pointers.py``: a generated CUDA module imports
``pointer_float32`` / ``pointer_float64`` from here. On a GPU each is an
``@intrinsic`` that casts a ``uint64`` address to a typed pointer in the global
address space (``inttoptr`` into addrspace 1, then a cast to the generic space),
so the kernel's loads and stores are ``ld.global`` / ``st.global``
(tests/test_cuda.py reads the PTX). Under the simulator
(``NUMBA_ENABLE_CUDASIM=1``) device memory is host memory, and each returns a
numpy view of ``n`` elements at the address instead; the choice is made when
this module is imported, as numba-cuda makes its own.
"""
from __future__ import annotations

import numba
import numpy as np

SIMULATOR = bool(numba.config.ENABLE_CUDASIM)

if SIMULATOR:
    import ctypes

    def _host_view(address, n, ctype):
        return np.ctypeslib.as_array(ctypes.cast(int(address), ctypes.POINTER(ctype)), (int(n),))

    def pointer_float32(address, n):
        """The simulator's device memory is host memory: a view of n float32 at address."""
        return _host_view(address, n, ctypes.c_float)

    def pointer_float64(address, n):
        """The simulator's device memory is host memory: a view of n float64 at address."""
        return _host_view(address, n, ctypes.c_double)
else:
    from llvmlite import ir
    from numba.cuda.extending import intrinsic

    def _global_pointer(dtype, n):
        result = numba.types.CPointer(dtype)

        def codegen(context, builder, signature, args):
            generic = context.get_value_type(result)
            in_global = ir.PointerType(generic.pointee, addrspace=1)  # so that loads are ld.global
            return builder.addrspacecast(builder.inttoptr(args[0], in_global), generic)
        return result(numba.types.uint64, n), codegen

    @intrinsic
    def pointer_float32(typingctx, address, n):
        """The float32 array at device address `address` (`n`, its extent, only for the simulator)."""
        return _global_pointer(numba.types.float32, n)

    @intrinsic
    def pointer_float64(typingctx, address, n):
        """The float64 array at device address `address` (`n`, its extent, only for the simulator)."""
        return _global_pointer(numba.types.float64, n)

__all__ = ["SIMULATOR", "pointer_float32", "pointer_float64"]
