"""torch.optim.Muon without its bfloat16 cast: what optgen's Muon is compared with (tests/test_muon.py,
tests/test_torch_muon.py).

torch's ``_zeropower_via_newtonschulz`` casts the update to bfloat16 before the iteration; optgen runs
it in the parameter's dtype. :func:`torch_newton_schulz_no_bf16` is torch 2.13's own loop (transpose,
clamp of the norm, ``addmm`` twice per step), copied from ``torch/optim/_muon.py`` with the cast left
out; the ``no_bf16`` fixture puts it in place of torch's for one test. Everything else is torch's.
"""
from __future__ import annotations

import pytest
import torch
import torch.optim._muon as torch_muon


def torch_newton_schulz_no_bf16(grad, ns_coefficients, ns_steps, eps):
    """torch 2.13's ``_zeropower_via_newtonschulz`` without its ``.bfloat16()`` cast."""
    a, b, c = ns_coefficients
    ortho_grad = grad.clone()
    if grad.size(0) > grad.size(1):
        ortho_grad = ortho_grad.T
    ortho_grad.div_(ortho_grad.norm().clamp(min=eps))
    for _ in range(ns_steps):
        gram_matrix = ortho_grad @ ortho_grad.T
        gram_update = torch.addmm(gram_matrix, gram_matrix, gram_matrix, beta=b, alpha=c)
        ortho_grad = torch.addmm(ortho_grad, gram_update, ortho_grad, beta=a)
    if grad.size(0) > grad.size(1):
        ortho_grad = ortho_grad.T
    return ortho_grad


@pytest.fixture
def no_bf16(monkeypatch):
    monkeypatch.setattr(torch_muon, "_zeropower_via_newtonschulz", torch_newton_schulz_no_bf16)
