"""Where a parameter's kernels run: the CPU kernels, or the CUDA kernels through one small adapter.

A CPU tensor is reached as a numpy view (:mod:`optgen.torch.tensors`). A CUDA
tensor is reached through :class:`TorchCUDA`, the only place optgen.torch
touches torch's CUDA side; it answers four questions:

* ``owns(t)`` / ``device(t)``: is ``t`` a device tensor, and on which device
  (each device is its own launch, as each dtype is);
* ``interface(flat)``: the object the CUDA runtime reads ``__cuda_array_interface__``
  from, for a flat view of a tensor's memory (a torch CUDA tensor has it itself:
  its device address, never a copy);
* ``zeros_like(p)``: a state tensor laid out as its parameter, allocated by torch
  on the parameter's device (so ``torch.cuda.memory_allocated`` counts it and
  ``state_dict()`` holds torch tensors, as torch.optim's does);
* ``stream(device)`` / ``activate(device)``: torch's current stream as a numba
  external stream (the kernels run in order with the forward and backward that
  produced the gradients), and numba's context for the device.

The tests under the CUDA simulator (tests/cuda_sim/test_torch_cuda_sim.py), where
torch CUDA tensors cannot exist, replace :data:`CUDA` by a subclass whose tensors
live in numba (simulator) device arrays; everything else, the launches included,
is this code.
"""
from __future__ import annotations

import torch

from . import tensors


class TorchCUDA:
    """torch's CUDA tensors as the CUDA runtime (optgen/runtime/cuda.py) takes them."""

    #: launch shapes for CUDAOptimizer (runtime/cuda.py ``DEFAULT_LAUNCH``; {}: its defaults)
    launch: dict = {}

    def owns(self, t: torch.Tensor) -> bool:
        return t.device.type == "cuda"

    def device(self, t: torch.Tensor):
        return t.device

    def interface(self, flat: torch.Tensor):
        """A torch CUDA tensor carries ``__cuda_array_interface__`` (its device address) itself."""
        return flat

    def zeros_like(self, p: torch.Tensor) -> torch.Tensor:
        return torch.zeros_like(p, memory_format=torch.preserve_format)

    def stream(self, device):
        """torch's current stream on ``device``, for numba: ordered after the backward pass."""
        from numba import cuda
        return cuda.external_stream(torch.cuda.current_stream(device).cuda_stream)

    def activate(self, device):
        """numba's current device for the launches (torch and numba share the primary context)."""
        from numba import cuda
        index = device.index if device.index is not None else torch.cuda.current_device()
        return cuda.gpus[index]


#: the adapter of device tensors; the simulator tests substitute their own
CUDA = TorchCUDA()


def placement(t: torch.Tensor) -> tuple:
    """``(adapter, device)`` of a device tensor, ``(None, "cpu")`` of a CPU one: one launch each."""
    adapter = CUDA
    if adapter.owns(t):
        return adapter, adapter.device(t)
    return None, "cpu"


def array(adapter: TorchCUDA, t: torch.Tensor):
    """What the CUDA runtime reads a dense tensor's memory from: a flat view's interface (no copy)."""
    return adapter.interface(tensors.flat_view(t))


def zeros_like(p: torch.Tensor) -> torch.Tensor:
    """A zero state tensor laid out as ``p``, on ``p``'s device (allocated by torch)."""
    adapter, _ = placement(p)
    return tensors.zeros_like(p) if adapter is None else adapter.zeros_like(p)
