"""What optgen needs of the CUDA simulator (``NUMBA_ENABLE_CUDASIM=1``) that it does not give.

**Shared arrays are allocated racily.** The simulator runs every thread of a block as
a Python thread. ``cuda.shared.array`` is ``FakeCUDAShared.array`` in
``numba/cuda/simulator/kernelapi.py`` (numba-cuda 0.30.4), which looks the array up
by the caller's file and line and, when it is missing, allocates it with
``np.empty`` and stores it, with no lock between the lookup and the store. When the
GIL switches threads inside that window, two threads of the first block of a launch
both miss, each allocates its own array, and the one whose store comes first keeps a
private array that the rest of the block never sees: its partial sum is lost from
the block reduction, and the tree reads an uninitialised slot instead. That was the
nondeterministic LARS/LAMB/Paratrooper/Ranger-LARS failure of the simulator suite
(float32 parameters off by up to 3.5% on most elements of a tensor: a wrong
per-tensor norm). Widening the window (a sleep in ``np.empty``) makes it fail on
every launch; the kernels themselves are race-free (docs/cuda.md, "Reductions").

On a GPU shared memory is one allocation per block by construction, so this is a
simulator defect only. :func:`make_shared_arrays_thread_safe` wraps the method in a
lock; optgen's CUDA runtime calls it whenever it runs on the simulator.
"""
from __future__ import annotations

import sys
import threading

_lock = threading.Lock()


def make_shared_arrays_thread_safe() -> bool:
    """Replace the simulator's shared-array allocation by one that is atomic (idempotent).

    Same contract as the simulator's own: one array per block per source line that
    calls ``cuda.shared.array`` (the simulator keeps one ``FakeCUDAShared`` per
    launch, and runs the blocks of a launch one after another). Dynamic shared memory
    (``shape == 0``) and explicit alignment go to the simulator's method unchanged:
    they allocate nothing per thread.
    """
    from numba.cuda.simulator import kernelapi

    shared = kernelapi.FakeCUDAShared
    if getattr(shared.array, "_optgen_atomic", False):
        return True
    simulators_own = shared.array

    def array(self, shape, dtype, alignment=None):
        if shape == 0 or alignment is not None:
            return simulators_own(self, shape, dtype, alignment)
        caller = sys._getframe(1)  # the kernel's frame: its line names the allocation
        key = (caller.f_code.co_filename, caller.f_lineno)
        if isinstance(dtype, kernelapi.types.Type):  # a numba type, as kernels pass it
            dtype = kernelapi.numpy_support.as_dtype(dtype)
        with _lock:  # the lookup and the store, as one step for all the block's threads
            allocations = self.__dict__.setdefault("_optgen_allocations", {})
            found = allocations.get(key)
            if found is None:
                found = allocations[key] = kernelapi.np.empty(shape, dtype)  # the simulator's numpy
        return found

    array._optgen_atomic = True
    shared.array = array
    return True


__all__ = ["make_shared_arrays_thread_safe"]
