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
    if p.device.type == "cuda":
        raise NotImplementedError(
            f"{where} is a CUDA tensor: optgen.torch runs on CPU tensors only so far. On a GPU, "
            "optgen.create(spec, [p.detach() for p in params], device='cuda') updates CUDA tensors "
            "in place through __cuda_array_interface__ (without param groups, schedulers or torch checkpoints)")
    if p.device.type != "cpu":
        raise TypeError(f"{where} is on device {p.device}; optgen.torch runs on CPU tensors")
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


def flat(t: torch.Tensor) -> np.ndarray:
    """A 1-D numpy view of a dense tensor's memory (the storage is shared, never copied)."""
    t = t.detach()
    if t.is_contiguous():
        return t.view(-1).numpy()
    return t.as_strided((t.numel(),), (1,)).numpy()


def check_grad(p: torch.Tensor, g, where: str) -> None:
    if g.is_sparse or g.layout != torch.strided:
        raise TypeError(f"{where}: the gradient is sparse ({g.layout}); optgen.torch takes dense gradients "
                        "only (torch.optim.SparseAdam handles sparse ones)")
    if g.dtype != p.dtype or g.device != p.device or g.shape != p.shape:
        raise TypeError(f"{where}: the gradient ({g.dtype}, {g.device}, shape {tuple(g.shape)}) does not "
                        f"match its parameter ({p.dtype}, {p.device}, shape {tuple(p.shape)})")


def grad_addresses(params: list) -> tuple[list[int], list]:
    """``(addresses, copies)``: the base address of each parameter's gradient (checked by
    ``check_grad``) laid out as the parameter's flat elements, and the copies made of those
    laid out otherwise, which the caller keeps alive until the kernels have read them."""
    addresses, copies = [], []
    for p in params:
        g = p.grad
        if not ((p.is_contiguous() and g.is_contiguous()) or (same_layout(p, g) and is_dense(g))):
            g = torch.empty_like(p).copy_(g)
            copies.append(g)
        addresses.append(g.data_ptr())
    return addresses, copies


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
