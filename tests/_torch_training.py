"""Small real training runs for the optgen.torch tests: an MLP and a CNN on synthetic data, cross-entropy.

Both sides of a comparison train their own copy of the same model on the same
batches: each computes its gradients from its own parameters, as in real
training, so a difference in one step shows in every later step.
"""
from __future__ import annotations

import copy

import pytest
import torch
from torch import nn

STEPS = 200
TOL = {torch.float32: dict(rtol=1e-4, atol=1e-5), torch.float64: dict(rtol=1e-9, atol=1e-11)}


@pytest.fixture
def torch_one_thread():
    """Tiny models: one torch thread (on a shared machine, torch's thread pool waits for busy cores)."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def mlp() -> nn.Module:
    return nn.Sequential(nn.Linear(12, 16), nn.Tanh(), nn.Linear(16, 4))


def cnn() -> nn.Module:
    return nn.Sequential(nn.Conv2d(1, 3, 3), nn.Tanh(), nn.Flatten(), nn.Linear(3 * 6 * 6, 4))


MODELS = {"mlp": (mlp, (12,)), "cnn": (cnn, (1, 8, 8))}


def data(kind: str, dtype, n: int = 32, seed: int = 0):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, *MODELS[kind][1], generator=g, dtype=dtype)
    y = torch.randint(0, 4, (n,), generator=g)
    return x, y


def twin_models(kind: str, dtype, seed: int = 0):
    torch.manual_seed(seed)
    a = MODELS[kind][0]().to(dtype)
    return a, copy.deepcopy(a)


def two_groups(model: nn.Module, lr: float, wd: float) -> list[dict]:
    """Weights and biases in separate groups, with different lr and weight decay."""
    weights = [p for n, p in model.named_parameters() if n.endswith("weight")]
    biases = [p for n, p in model.named_parameters() if n.endswith("bias")]
    return [{"params": weights, "lr": lr, "weight_decay": wd}, {"params": biases, "lr": lr * 0.5, "weight_decay": 0.0}]


def backward(model: nn.Module, x, y, step: int, skip_every: int = 0, sign: float = 1.0) -> torch.Tensor:
    """Loss and gradients of one batch; with ``skip_every``, the last layer's bias gets no gradient
    on every ``skip_every``-th step (its state must not advance). ``sign=-1``: the gradients of
    -loss, for optimizers that maximize (so that they still train, not diverge)."""
    model.zero_grad(set_to_none=True)
    i = (step * 8) % x.shape[0]
    loss = nn.functional.cross_entropy(model(x[i:i + 8]), y[i:i + 8])
    (sign * loss).backward()
    if skip_every and step % skip_every == skip_every - 1:
        list(model.parameters())[-1].grad = None
    return loss


def assert_same_params(a: nn.Module, b: nn.Module, where: str) -> None:
    for (n, p), q in zip(a.named_parameters(), b.parameters()):
        torch.testing.assert_close(p, q, **TOL[p.dtype], msg=lambda m: f"{where}, {n}: {m}")
