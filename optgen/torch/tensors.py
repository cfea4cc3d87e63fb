"""torch tensors as the numpy arrays the CPU kernels update in place: checks and flat views.

A CPU tensor's ``.numpy()`` shares its storage, so a kernel that writes the
numpy view writes the tensor: no copies. The kernels treat every tensor as a
flat run of elements, and an element's update reads only that element of the
parameter, its gradient and its states (per-tensor norms do not care about the
order either). So a tensor needs only to be *dense* (its elements fill one run
of memory without gaps or overlaps, in any order of dimensions: contiguous or
``channels_last``) and its gradient and states laid out the same way.
"""
from __future__ import annotations

import numpy as np
import torch

SUPPORTED = (torch.float32, torch.float64)
NOT_YET = (torch.float16, torch.bfloat16)


def check_param(p, where: str) -> None:
    """A parameter optgen.torch can update in place; a clear error otherwise."""
    if not isinstance(p, torch.Tensor):
        raise TypeError(f"{where} is {type(p).__name__}; optimizers take torch tensors")
    if p.dtype in NOT_YET:
        raise TypeError(f"{where} has dtype {p.dtype}: half-precision parameters are not yet supported "
                        "by optgen.torch (supported: torch.float32, torch.float64)")
    if p.dtype not in SUPPORTED:
        raise TypeError(f"{where} has dtype {p.dtype}; supported: torch.float32, torch.float64")
    if p.device.type not in ("cpu", "cuda"):
        raise TypeError(f"{where} is on device {p.device}; optgen.torch runs on CPU and CUDA tensors")
    if p.is_sparse or p.layout != torch.strided:
        raise TypeError(f"{where} has layout {p.layout}; optgen.torch needs dense (strided) tensors")
    if not is_dense(p):
        raise ValueError(f"{where} (shape {tuple(p.shape)}, strides {p.stride()}) is a view with gaps or "
                         "overlaps; it is updated in place, so pass a tensor that owns dense memory "
                         "(contiguous or channels_last)")


def is_dense(t: torch.Tensor) -> bool:
    """Do the elements fill one run of ``numel`` slots, in some order of the dimensions?"""
    dims = sorted((st, n) for n, st in zip(t.shape, t.stride()) if n != 1)
    expected = 1
    for st, n in dims:
        if st != expected:
            return False
        expected *= n
    return True


def same_layout(a: torch.Tensor, b: torch.Tensor) -> bool:
    return a.shape == b.shape and all(n == 1 or sa == sb for n, sa, sb in zip(a.shape, a.stride(), b.stride()))


def flat_view(t: torch.Tensor) -> torch.Tensor:
    """A 1-D view of a dense tensor's memory, on its device (the storage is shared, never copied)."""
    t = t.detach()
    if t.is_contiguous():
        return t.view(-1)
    return t.as_strided((t.numel(),), (1,))


def flat(t: torch.Tensor) -> np.ndarray:
    """A 1-D numpy view of a dense CPU tensor's memory (the storage is shared, never copied)."""
    return flat_view(t).numpy()


def contiguous(t: torch.Tensor, spec_name: str) -> torch.Tensor:
    """``t`` (detached), which must be contiguous: a matrix step views a parameter as its matrix."""
    if not t.is_contiguous():
        raise ValueError(f"optgen.torch ({spec_name}): a parameter of shape {tuple(t.shape)} and strides "
                         f"{t.stride()} is not contiguous; a matrix step (newton_schulz) views a parameter as its "
                         "matrix in memory order, so it takes contiguous parameters only")
    return t.detach()


def shaped(t: torch.Tensor, spec_name: str) -> np.ndarray:
    """A numpy view of a contiguous CPU tensor with its shape (a matrix step reads its rows and columns)."""
    return contiguous(t, spec_name).numpy()


def check_grad(p: torch.Tensor, g, where: str) -> None:
    if g.is_sparse or g.layout != torch.strided:
        raise TypeError(f"{where}: the gradient is sparse ({g.layout}); optgen.torch takes dense gradients "
                        "only (torch.optim.SparseAdam handles sparse ones)")
    if g.dtype != p.dtype or g.device != p.device or g.shape != p.shape:
        raise TypeError(f"{where}: the gradient ({g.dtype}, {g.device}, shape {tuple(g.shape)}) does not "
                        f"match its parameter ({p.dtype}, {p.device}, shape {tuple(p.shape)})")


def grads_as_params(params: list) -> list[torch.Tensor]:
    """Each parameter's gradient (checked by ``check_grad``) laid out as the parameter's flat
    elements: the gradient itself, or a copy of one laid out otherwise (on its device, in torch's
    stream order), which the caller keeps alive until the kernels have read it."""
    out = []
    for p in params:
        g = p.grad
        if not ((p.is_contiguous() and g.is_contiguous()) or (same_layout(p, g) and is_dense(g))):
            g = torch.empty_like(p).copy_(g)
        out.append(g)
    return out


def zeros_like(p: torch.Tensor) -> torch.Tensor:
    """A state tensor laid out as its parameter (so that one flat index reaches both).

    A contiguous one is numpy's memory under a torch tensor (``torch.from_numpy``, so torch
    owns, saves and moves it like any other): numpy asks the kernel for transparent huge
    pages for a large array and torch's CPU allocator does not, and the kernels stream
    through the states. Adam on GPT-2 small, the same CPU optimizer over torch-allocated
    states: 77.0 ms a step against 73.5 ms over numpy-allocated ones (docs/torch.md)."""
    if p.is_contiguous():
        return torch.from_numpy(np.zeros(tuple(p.shape), dtype=torch.empty(0, dtype=p.dtype).numpy().dtype))
    return torch.zeros_like(p, memory_format=torch.preserve_format)
