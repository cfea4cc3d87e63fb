"""optgen.torch.Adafactor against torch.optim.Adafactor: same signature, same trajectories, same
states (row_var and col_var of the factored tensors, variance of the others), checkpoints that move.

The per-tensor option ``factored`` is set from each tensor's shape, as the numpy runtime does
(optgen/runtime/per_tensor.py): a model's 1-D biases and its 2-D and 4-D weights run different
kernels in one step. Every number compared comes from torch.optim.Adafactor.
"""
from __future__ import annotations

import copy
import inspect

import numpy as np
import pytest
import torch

import optgen
import optgen.torch

STEPS = 150
TOL = {torch.float64: dict(rtol=1e-10, atol=1e-12), torch.float32: dict(rtol=2e-4, atol=2e-6)}


def _model(dtype):
    """A conv layer (a 4-D weight: factored over its last two axes), dense layers, biases (1-D)."""
    torch.manual_seed(0)
    return torch.nn.Sequential(torch.nn.Conv2d(2, 3, 3), torch.nn.Flatten(), torch.nn.Tanh(),
                               torch.nn.Linear(12, 7), torch.nn.Tanh(), torch.nn.Linear(7, 3)).to(dtype)


def _data(dtype):
    gen = torch.Generator().manual_seed(5)
    return torch.randn(16, 2, 4, 4, dtype=dtype, generator=gen), torch.randint(0, 3, (16,), generator=gen)


def test_the_signature_is_torchs():
    ours, theirs = inspect.signature(optgen.torch.Adafactor), inspect.signature(torch.optim.Adafactor)
    assert [(p.name, p.default) for p in ours.parameters.values()] == \
           [(p.name, p.default) for p in theirs.parameters.values()]


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64], ids=["f32", "f64"])
@pytest.mark.parametrize("kwargs", [{}, {"lr": 0.05, "weight_decay": 0.1, "maximize": True},
                                    {"beta2_decay": -0.5, "d": 2.0, "eps": (1e-20, 1e-2)}],
                         ids=["default", "wd-max", "decay-d-eps"])
def test_trajectory_matches_torch(dtype, kwargs):
    """Two param groups (their own lr), a model's own gradients for a few steps (closed loop), then
    random gradients (open loop), with the last layer's gradients missing on some steps (its step
    count falls behind: per-parameter steps, as torch keeps them)."""
    mine, theirs = _model(dtype), _model(dtype)

    def groups(model):
        params = list(model.parameters())
        return [{"params": params[:2]}, {"params": params[2:], "lr": 0.03}]

    ours = optgen.torch.Adafactor(groups(mine), **kwargs)
    ref = torch.optim.Adafactor(groups(theirs), **kwargs)
    x, y = _data(dtype)
    gen = torch.Generator().manual_seed(1)
    last = {id(p) for p in list(mine.parameters())[-2:]} | {id(p) for p in list(theirs.parameters())[-2:]}
    for step in range(STEPS):
        for model in (mine, theirs):
            model.zero_grad()
            torch.nn.functional.cross_entropy(model(x), y).backward()
        if step >= 3:
            for a, b in zip(mine.parameters(), theirs.parameters()):
                b.grad = torch.randn(b.shape, dtype=dtype, generator=gen)
                a.grad = b.grad.clone()
        if step % 7 == 5:
            for model in (mine, theirs):
                for p in model.parameters():
                    if id(p) in last:
                        p.grad = None
        ours.step()
        ref.step()
        for a, b in zip(mine.parameters(), theirs.parameters()):
            np.testing.assert_allclose(a.detach().numpy(), b.detach().numpy(), **TOL[dtype],
                                       err_msg=f"step {step + 1}")
    for a, b in zip(mine.parameters(), theirs.parameters()):
        mine_state, their_state = ours.state[a], ref.state[b]
        assert set(mine_state) == {k for k, v in their_state.items() if v is not None}
        for k, v in mine_state.items():
            assert v.shape == their_state[k].shape, k
            np.testing.assert_allclose(v.numpy(), their_state[k].numpy(), **TOL[dtype])


def test_checkpoints_move_both_ways_and_continue():
    """torch's checkpoint loads into optgen.torch.Adafactor, optgen's into torch's; each continues
    on the trajectory of an unbroken torch run."""
    dtype = torch.float64
    models = [_model(dtype) for _ in range(3)]
    ref = torch.optim.Adafactor(models[0].parameters(), lr=0.05)
    x, y = _data(dtype)

    def step(model, opt):
        model.zero_grad()
        torch.nn.functional.cross_entropy(model(x), y).backward()
        opt.step()

    for _ in range(5):
        step(models[0], ref)
    models[1].load_state_dict(models[0].state_dict())
    ours = optgen.torch.Adafactor(models[1].parameters(), lr=0.05)
    ours.load_state_dict(copy.deepcopy(ref.state_dict()))
    for _ in range(10):
        step(models[0], ref)
        step(models[1], ours)
    models[2].load_state_dict(models[1].state_dict())
    back = torch.optim.Adafactor(models[2].parameters(), lr=0.05)
    back.load_state_dict(copy.deepcopy(ours.state_dict()))
    for _ in range(10):
        step(models[0], ref)
        step(models[2], back)
    for a, b in zip(models[2].parameters(), models[0].parameters()):
        np.testing.assert_allclose(a.detach().numpy(), b.detach().numpy(), rtol=1e-9, atol=1e-11)


def test_a_row_state_of_the_wrong_shape_is_refused_and_nothing_changes():
    w = torch.nn.Parameter(torch.randn(4, 3, dtype=torch.float64))
    w.grad = torch.randn(4, 3, dtype=torch.float64)
    ours = optgen.torch.Adafactor([w])
    ours.step()
    sd = copy.deepcopy(ours.state_dict())
    bad = copy.deepcopy(sd)
    bad["state"][0]["row_var"] = torch.zeros(3, 1, dtype=torch.float64)
    with pytest.raises(ValueError, match=r"row_var.*\(3, 1\).*\(4, 3\).*\(4, 1\)"):
        ours.load_state_dict(bad)
    for k, v in ours.state_dict()["state"][0].items():
        assert torch.equal(v, sd["state"][0][k]), k


def test_reduced_states_written_by_the_user_count():
    """The launcher keeps rows and columns in buffers of its own: a value written into the state
    tensors between steps is what the next step reads (as it would be in torch)."""
    w0 = torch.randn(5, 4, dtype=torch.float64)
    ps = [torch.nn.Parameter(w0.clone()) for _ in range(2)]
    ours, ref = optgen.torch.Adafactor([ps[0]]), torch.optim.Adafactor([ps[1]])
    g = torch.randn(5, 4, dtype=torch.float64)
    for opt, p in ((ours, ps[0]), (ref, ps[1])):
        p.grad = g.clone()
        opt.step()
        opt.state[p]["row_var"].mul_(4.0)
        opt.state[p]["col_var"].fill_(0.25)
        opt.step()
        opt.step()  # the repeated step (launch.Steady) keeps the state tensors current too
    np.testing.assert_allclose(ps[0].detach().numpy(), ps[1].detach().numpy(), rtol=1e-12, atol=1e-14)
    for name in ("row_var", "col_var"):
        np.testing.assert_allclose(ours.state[ps[0]][name].numpy(), ref.state[ps[1]][name].numpy(), rtol=1e-12)


def test_the_generic_optimizer_runs_adafactor_and_a_mixed_dtype_group_needs_eps1():
    w32 = torch.nn.Parameter(torch.randn(3, 4))
    w64 = torch.nn.Parameter(torch.randn(4, dtype=torch.float64))
    for p in (w32, w64):
        p.grad = torch.ones_like(p)
    optgen.torch.Optimizer([w32, w64], "adafactor").step()  # the spec's eps1 is a number: no question
    with pytest.raises(ValueError, match=r"eps=\(None, 0.001\).*torch.float32 and torch.float64.*eps1"):
        optgen.torch.Adafactor([w32, w64]).step()
    optgen.torch.Adafactor([w32, w64], eps=(1e-30, 1e-3)).step()
    with pytest.raises(optgen.SpecError, match="factored"):
        optgen.torch.Optimizer([w32], "adafactor", factored=True)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64], ids=["f32", "f64"])
def test_clip_by_global_norm_around_it_matches_clip_grad_norm_then_adafactor(dtype):
    """optgen.torch.Optimizer(params, clip_by_global_norm("adafactor", eps=1e-6)) against
    torch.nn.utils.clip_grad_norm_ then torch.optim.Adafactor. The norm runs over the model's
    factored weights and its biases, which take different kernels (stepped in lockstep:
    optgen/runtime/lockstep.py; it was refused), in two param groups. The model's own gradients
    for a few steps, then random ones, every third step too small to be clipped; the others are."""
    from optgen.transforms import clip_by_global_norm
    max_norm = 1.0
    mine, theirs = _model(dtype), _model(dtype)

    def groups(model):  # the norm is over both groups' parameters, as clip_grad_norm_ of the model's
        params = list(model.parameters())
        return [{"params": params[:2]}, {"params": params[2:], "lr": 0.03}]

    ours = optgen.torch.Optimizer(groups(mine), clip_by_global_norm("adafactor", max_norm, eps=1e-6), lr=0.05)
    ref = torch.optim.Adafactor(groups(theirs), lr=0.05)
    x, y = _data(dtype)
    gen = torch.Generator().manual_seed(2)
    clipped = passed = 0
    for step in range(STEPS):
        for model in (mine, theirs):
            model.zero_grad()
            torch.nn.functional.cross_entropy(model(x), y).backward()
        if step >= 3:
            scale = 1e-3 if step % 3 == 0 else 1.0
            for a, b in zip(mine.parameters(), theirs.parameters()):
                b.grad = torch.randn(b.shape, dtype=dtype, generator=gen) * scale
                a.grad = b.grad.clone()
        norm = float(torch.nn.utils.clip_grad_norm_(theirs.parameters(), max_norm))
        clipped, passed = clipped + (norm > max_norm), passed + (norm <= max_norm)
        ours.step()
        ref.step()
        for a, b in zip(mine.parameters(), theirs.parameters()):
            np.testing.assert_allclose(a.detach().numpy(), b.detach().numpy(), **TOL[dtype],
                                       err_msg=f"step {step + 1}")
    assert clipped > 90 and passed > 40, (clipped, passed)  # both branches, many times


def test_clip_by_global_norm_around_it_refuses_parts_at_different_steps():
    """When every bias skipped a step (no gradient), the biases' kernels stand a step behind the
    weights': one sum over both would mix two steps, so the step is refused, naming the counts."""
    from optgen.transforms import clip_by_global_norm
    model = _model(torch.float64)
    opt = optgen.torch.Optimizer(model.parameters(), clip_by_global_norm("adafactor", 1.0, eps=1e-6), lr=0.05)
    x, y = _data(torch.float64)
    for step in range(3):
        model.zero_grad()
        torch.nn.functional.cross_entropy(model(x), y).backward()
        if step == 1:
            for p in model.parameters():
                if p.dim() == 1:
                    p.grad = None
        if step < 2:
            opt.step()
    with pytest.raises(ValueError, match=r"at different step counts \[1, 2\] \(some skipped steps"):
        opt.step()
