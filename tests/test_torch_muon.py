"""optgen.torch.Muon against torch.optim.Muon: same signature, same trajectories, checkpoints that move.

torch's Newton–Schulz runs in bfloat16, and so does optgen.torch.Muon's by default (``ns_dtype``):
those are compared as they are. With ``ns_dtype=None`` optgen's iterates in the parameter's dtype,
and is compared with torch's own loop without the cast in place of torch's (tests/_torch_muon.py);
everything else is torch.optim.Muon.
"""
from __future__ import annotations

import copy
import inspect

import numpy as np
import pytest
import torch
from _torch_muon import no_bf16  # noqa: F401  (a fixture)

import optgen.torch

STEPS = 150


def _model(dtype):
    torch.manual_seed(0)
    return torch.nn.Sequential(torch.nn.Linear(6, 16, bias=False), torch.nn.Tanh(),
                               torch.nn.Linear(16, 4, bias=False)).to(dtype)


def _steps(mine, theirs, ours, ref, dtype):
    """Each model computes its own gradients (closed loop) for three steps, then both get the same
    random gradients for the rest (open loop: rounding differences do not feed back); yields each
    step's index after both optimizers took it."""
    x, y = torch.randn(32, 6, dtype=dtype), torch.randn(32, 4, dtype=dtype)
    gen = torch.Generator().manual_seed(1)
    for step in range(STEPS):
        for model in (mine, theirs):
            model.zero_grad()
            torch.nn.functional.mse_loss(model(x), y).backward()
        if step >= 3:
            for a, b in zip(mine.parameters(), theirs.parameters()):
                b.grad = torch.randn(b.shape, dtype=dtype, generator=gen)
                a.grad = b.grad.clone()
        ours.step()
        ref.step()
        yield step


def test_the_signature_is_torchs():
    """torch's parameters, then optgen's one keyword of its own: the iteration's precision."""
    ours, theirs = inspect.signature(optgen.torch.Muon), inspect.signature(torch.optim.Muon)
    assert [(p.name, p.default) for p in ours.parameters.values()] == \
           [(p.name, p.default) for p in theirs.parameters.values()] + [("ns_dtype", torch.bfloat16)]
    assert ours.parameters["ns_dtype"].kind is inspect.Parameter.KEYWORD_ONLY


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64], ids=["f32", "f64"])
@pytest.mark.parametrize("kwargs", [{}, {"nesterov": False, "adjust_lr_fn": "match_rms_adamw"},
                                    {"adjust_lr_fn": "original", "weight_decay": 0.0}], ids=["default", "mrms", "orig"])
def test_trajectory_matches_torch(dtype, kwargs, no_bf16):
    """The iteration in the parameter's dtype (ns_dtype=None) against torch's without its cast."""
    mine, theirs = _model(dtype), _model(dtype)
    ours = optgen.torch.Muon(mine.parameters(), lr=0.02, momentum=0.9, ns_dtype=None, **kwargs)
    ref = torch.optim.Muon(theirs.parameters(), lr=0.02, momentum=0.9, **kwargs)
    tol = dict(rtol=1e-9, atol=1e-11) if dtype == torch.float64 else dict(rtol=2e-4, atol=2e-5)
    for step in _steps(mine, theirs, ours, ref, dtype):
        for a, b in zip(mine.parameters(), theirs.parameters()):
            np.testing.assert_allclose(a.detach().numpy(), b.detach().numpy(), **tol, err_msg=f"step {step + 1}")


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64], ids=["f32", "f64"])
def test_other_newton_schulz_constants_follow_torch(dtype, no_bf16):
    """ns_coefficients, ns_steps and eps other than torch's defaults: a spec of their own, compiled
    once, stepping as torch.optim.Muon does with the same arguments."""
    kwargs = dict(ns_coefficients=(3.0, -3.2, 1.2), ns_steps=3, eps=1e-5, lr=0.02)
    mine, theirs = _model(dtype), _model(dtype)
    ours = optgen.torch.Muon(mine.parameters(), ns_dtype=None, **kwargs)
    ref = torch.optim.Muon(theirs.parameters(), **kwargs)
    gen = torch.Generator().manual_seed(3)
    tol = dict(rtol=1e-9, atol=1e-11) if dtype == torch.float64 else dict(rtol=2e-4, atol=2e-5)
    for step in range(STEPS):
        for a, b in zip(mine.parameters(), theirs.parameters()):
            b.grad = torch.randn(b.shape, dtype=dtype, generator=gen)
            a.grad = b.grad.clone()
        ours.step()
        ref.step()
        for a, b in zip(mine.parameters(), theirs.parameters()):
            np.testing.assert_allclose(a.detach().numpy(), b.detach().numpy(), **tol, err_msg=f"step {step + 1}")
    from optgen.torch.torch_forms import muon_spec  # torch's defaults: the shipped spec itself
    assert muon_spec((3.0, -3.2, 1.2), 3, 1e-5) is not optgen.load_spec("muon")
    assert muon_spec((3.4445, -4.775, 2.0315), 5, 1e-7) is optgen.load_spec("muon")


def test_torchs_checkpoint_loads_and_continues(no_bf16):
    """torch's param groups have no ns_dtype: the loaded groups keep this optimizer's (None here), so
    the run goes on as torch's without its cast does."""
    mine, theirs = _model(torch.float64), _model(torch.float64)
    ref = torch.optim.Muon(theirs.parameters(), lr=0.05)
    x, y = torch.randn(32, 6, dtype=torch.float64), torch.randn(32, 4, dtype=torch.float64)

    def step(model, opt):
        model.zero_grad()
        torch.nn.functional.mse_loss(model(x), y).backward()
        opt.step()

    for _ in range(5):
        step(theirs, ref)
    mine.load_state_dict(theirs.state_dict())
    ours = optgen.torch.Muon(mine.parameters(), lr=0.05, ns_dtype=None)
    ours.load_state_dict(copy.deepcopy(ref.state_dict()))
    assert ours.param_groups[0]["ns_dtype"] is None
    for _ in range(20):
        step(theirs, ref)
        step(mine, ours)
    for a, b in zip(mine.parameters(), theirs.parameters()):
        np.testing.assert_allclose(a.detach().numpy(), b.detach().numpy(), rtol=1e-8, atol=1e-10)
    buf = ours.state_dict()["state"][0]["momentum_buffer"]
    np.testing.assert_allclose(buf.numpy(), ref.state_dict()["state"][0]["momentum_buffer"].numpy(), rtol=1e-8,
                               atol=1e-10)


def test_a_4d_weight_is_its_first_dimension_by_the_rest(no_bf16):
    conv = torch.nn.Conv2d(3, 8, 3, bias=False).double()
    flat = torch.nn.Parameter(conv.weight.detach().reshape(8, 27).clone())
    ours, ref = optgen.torch.Muon(conv.parameters(), lr=0.1, ns_dtype=None), torch.optim.Muon([flat], lr=0.1)
    gen = torch.Generator().manual_seed(2)
    for _ in range(STEPS):
        g = torch.randn(8, 3, 3, 3, dtype=torch.float64, generator=gen)
        conv.weight.grad, flat.grad = g.clone(), g.reshape(8, 27).clone()
        ours.step()
        ref.step()
    np.testing.assert_allclose(conv.weight.detach().reshape(8, 27).numpy(), flat.detach().numpy(),
                               rtol=1e-9, atol=1e-11)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64], ids=["f32", "f64"])
def test_by_default_it_iterates_in_bfloat16_as_torch_does(dtype):
    """Against torch.optim.Muon as it is (its bfloat16 cast): the same iteration, so the parameters
    agree to their own rounding over all 150 steps (the float32 iteration, ns_dtype=None, is 5e-3
    away on this model). On other models a rounding difference of the momentum pass can flip a
    bfloat16 rounding now and then (4e-4 apart after 150 steps with a 16 x 40 layer)."""
    mine, theirs = _model(dtype), _model(dtype)
    ours = optgen.torch.Muon(mine.parameters(), lr=0.02, momentum=0.9)
    ref = torch.optim.Muon(theirs.parameters(), lr=0.02, momentum=0.9)
    for step in _steps(mine, theirs, ours, ref, dtype):
        worst = max(float((a - b).abs().max()) for a, b in zip(mine.parameters(), theirs.parameters()))
        assert worst < (1e-6 if dtype == torch.float32 else 1e-13), f"step {step + 1}"


def test_ns_dtype_other_than_bfloat16_or_none_is_refused():
    w = torch.nn.Parameter(torch.ones(3, 4))
    with pytest.raises(ValueError, match=r"ns_dtype=torch.float16 is not supported; allowed: torch.bfloat16"):
        optgen.torch.Muon([w], ns_dtype=torch.float16)


def test_refusals():
    bias = torch.nn.Parameter(torch.zeros(4))
    bias.grad = torch.ones(4)
    with pytest.raises(optgen.SpecError, match=r"shape \(4,\).*two or more dimensions"):
        optgen.torch.Muon([bias]).step()
    w = torch.nn.Parameter(torch.zeros(4, 3))
    w.grad = torch.ones(4, 3)
    with pytest.raises(ValueError, match=r"ns_steps=0.*newton_schulz: steps=0; an integer from 1 to 99"):
        optgen.torch.Muon([w], ns_steps=0).step()
    with pytest.raises(ValueError, match=r"eps=0.0.*a positive number"):
        optgen.torch.Muon([w], eps=0.0).step()
    with pytest.raises(ValueError, match="adjust_lr_fn='other'"):
        optgen.torch.Muon([w], adjust_lr_fn="other").step()
    t = torch.nn.Parameter(torch.zeros(3, 4).T)
    t.grad = torch.ones(4, 3)
    with pytest.raises(ValueError, match="not contiguous"):
        optgen.torch.Muon([t]).step()
