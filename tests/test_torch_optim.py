"""optgen.torch's classes train real models on torch.optim's trajectory (the independent source).

An MLP and a small CNN (tests/_torch_training.py), 200 steps of cross-entropy on
synthetic data, for every optimizer torch.optim ships: weights and biases in two
param groups with different lr and weight decay, and the last bias without a
gradient every fifth step (torch skips it and its step count stays behind: the
group then runs as two cohorts). Parameters are compared after every step.

Tolerance: float64 1e-9 relative (each step rounds differently on the two sides,
~1e-16 per operation, and training amplifies differences mildly over 200 steps);
float32 1e-4 relative. A wrong formula, a state that advanced when skipped, or a
group that read the other's lr misses by orders of magnitude more.
"""
from __future__ import annotations

import pytest
import torch

import optgen.torch as ot
from _torch_training import torch_one_thread  # noqa: F401 (a fixture)
from _torch_training import STEPS, assert_same_params, backward, data, twin_models, two_groups

CASES = [
    ("Adam", dict(lr=1e-2)), ("Adam", dict(lr=1e-2, amsgrad=True, maximize=True)),
    ("Adam", dict(lr=1e-2, decoupled_weight_decay=True)), ("AdamW", dict(lr=1e-2)),
    ("SGD", dict(lr=0.1)), ("SGD", dict(lr=0.05, momentum=0.9, nesterov=True)),
    ("SGD", dict(lr=0.05, momentum=0.9, dampening=0.1, maximize=True)),
    ("RMSprop", dict(lr=1e-2)), ("RMSprop", dict(lr=1e-3, momentum=0.9, centered=True)),
    ("Adagrad", dict(lr=0.05, lr_decay=1e-3, initial_accumulator_value=0.1)),
    ("Adadelta", dict(lr=1.0)), ("Adamax", dict(lr=1e-2)),
    ("NAdam", dict(lr=1e-2)), ("NAdam", dict(lr=1e-2, decoupled_weight_decay=True)),
    ("RAdam", dict(lr=1e-2)), ("RAdam", dict(lr=1e-2, decoupled_weight_decay=True)),
]


def _id(case):
    name, kw = case
    return name + "-" + "-".join(f"{k}={v}" for k, v in kw.items())


def train_both(name, kw, kind, dtype, wd=1e-2, skip_every=5, steps=STEPS, schedulers=None):
    """torch keeps NAdam's mu_product (and the step) in the default dtype: float64 runs set it."""
    before = torch.get_default_dtype()
    torch.set_default_dtype(dtype)
    try:
        return _train_both(name, kw, kind, dtype, wd, skip_every, steps, schedulers)
    finally:
        torch.set_default_dtype(before)


def _train_both(name, kw, kind, dtype, wd, skip_every, steps, schedulers):
    ours_m, theirs_m = twin_models(kind, dtype)
    lr = kw.get("lr", 1e-3)
    rest = {k: v for k, v in kw.items() if k != "lr"}
    ours = getattr(ot, name)(two_groups(ours_m, lr, wd), **rest)
    theirs = getattr(torch.optim, name)(two_groups(theirs_m, lr, wd), foreach=False, **rest)
    scheds = [schedulers(o) for o in (ours, theirs)] if schedulers else None
    x, y = data(kind, dtype)
    for step in range(steps):
        losses = []
        for model, opt in ((ours_m, ours), (theirs_m, theirs)):
            losses.append(backward(model, x, y, step, skip_every, -1.0 if kw.get("maximize") else 1.0))
            opt.step()
        if scheds:
            for s, loss in zip(scheds, losses):
                s.step(loss.item()) if isinstance(s, torch.optim.lr_scheduler.ReduceLROnPlateau) else s.step()
        assert_same_params(ours_m, theirs_m, f"{name} {kw} {kind} step {step}")
    return ours, theirs, ours_m, theirs_m


@pytest.mark.parametrize("kind", ["mlp", "cnn"])
@pytest.mark.parametrize("case", CASES, ids=_id)
def test_training_matches_torch_float64(case, kind, one_thread, torch_one_thread):
    name, kw = case
    ours, theirs, _, _ = train_both(name, kw, kind, torch.float64)
    # the skipped bias stands behind, as torch's does (torch's SGD keeps no step)
    last = ours.param_groups[1]["params"][-1]
    assert int(ours.state[last]["step"]) == STEPS - STEPS // 5
    if name != "SGD":
        assert int(theirs.state[theirs.param_groups[1]["params"][-1]]["step"]) == STEPS - STEPS // 5


@pytest.mark.parametrize("name", ["Adam", "SGD", "NAdam"])
def test_training_matches_torch_float32(name, one_thread, torch_one_thread):
    kw = dict(lr=1e-2, momentum=0.9) if name == "SGD" else dict(lr=1e-2)
    train_both(name, kw, "cnn", torch.float32)


def _one_cycle(opt):
    return torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=[0.02, 0.01], total_steps=STEPS, cycle_momentum=True)


SCHEDULERS = {
    "StepLR": lambda o: torch.optim.lr_scheduler.StepLR(o, step_size=30, gamma=0.5),
    "CosineAnnealingWarmRestarts": lambda o: torch.optim.lr_scheduler.CosineAnnealingWarmRestarts(o, T_0=40),
    "OneCycleLR": _one_cycle,
    "ReduceLROnPlateau": lambda o: torch.optim.lr_scheduler.ReduceLROnPlateau(o, patience=2, factor=0.5),
    "CyclicLR": lambda o: torch.optim.lr_scheduler.CyclicLR(o, base_lr=1e-3, max_lr=2e-2, step_size_up=25),
}


@pytest.mark.parametrize("sched", SCHEDULERS)
@pytest.mark.parametrize("name,kw", [("Adam", dict(lr=1e-2)), ("SGD", dict(lr=0.05, momentum=0.9))])
def test_schedulers_drive_the_groups(name, kw, sched, one_thread, torch_one_thread):
    """Schedulers rewrite lr (and momentum or betas[0]) in the groups; every step reads them."""
    ours, theirs, _, _ = train_both(name, kw, "mlp", torch.float64, schedulers=SCHEDULERS[sched])
    assert ours.param_groups[0]["lr"] == theirs.param_groups[0]["lr"]
    if sched in ("OneCycleLR", "CyclicLR"):  # the momentum (betas[0]) cycling reached the groups
        key = "betas" if name == "Adam" else "momentum"
        assert ours.param_groups[0][key] == theirs.param_groups[0][key]


def test_step_returns_the_closures_loss(one_thread, torch_one_thread):
    model, _ = twin_models("mlp", torch.float64)
    opt = ot.Adam(model.parameters(), lr=1e-2)
    x, y = data("mlp", torch.float64)
    before = [p.detach().clone() for p in model.parameters()]

    def closure():
        return backward(model, x, y, 0)

    loss = opt.step(closure)
    assert isinstance(loss, torch.Tensor) and loss.ndim == 0
    assert all(not torch.equal(p, q) for p, q in zip(model.parameters(), before))


def test_any_spec_through_the_generic_class(one_thread, torch_one_thread):
    """optgen.torch.Optimizer(params, spec) with a transform's Spec and spec names (beta1/beta2 joined)."""
    from optgen.transforms import lookahead
    import optgen
    model, _ = twin_models("mlp", torch.float64)
    params = list(model.parameters())
    opt = ot.Optimizer(params, lookahead("adam", k=3), lr=1e-2, beta1=0.8)
    assert opt.param_groups[0]["betas"] == (0.8, 0.999)
    arrays = [p.detach().numpy().copy() for p in params]
    ref = optgen.reference(lookahead("adam", k=3), arrays, lr=1e-2, beta1=0.8)
    x, y = data("mlp", torch.float64)
    for step in range(12):
        backward(model, x, y, step)
        ref.step([p.grad.numpy().copy() for p in params])
        opt.step()
        for p, r in zip(params, ref.params):
            torch.testing.assert_close(p.detach(), torch.from_numpy(r), rtol=1e-10, atol=1e-12)


def test_an_optgen_schedule_as_a_group_value(one_thread):
    """optgen.schedules objects still work as values; the oracle (optgen.reference) runs the same schedule."""
    import numpy as np
    import optgen
    from optgen.schedules import LinearWarmup
    p = torch.ones(3, requires_grad=True)
    arrays = [p.detach().numpy().copy()]
    opt = ot.Adam([p], lr=LinearWarmup(1e-2, 5, init=1e-3))
    ref = optgen.reference("adam", arrays, lr=LinearWarmup(1e-2, 5, init=1e-3))
    for k in range(8):
        g = torch.full((3,), 0.5 + k)
        p.grad = g.clone()
        opt.step()
        ref.step([g.numpy().astype(np.float32)])
        torch.testing.assert_close(p.detach(), torch.from_numpy(arrays[0]), rtol=2e-6, atol=1e-7)


def test_a_step_leaves_torchs_thread_count_alone():
    """Numba's OpenMP layer sets OpenMP's thread count at each launch, which torch's intra-op pool
    shares: the step restores torch's setting (found: torch.get_num_threads() became Numba's)."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        p = torch.zeros(3, requires_grad=True)
        opt = ot.Adam([p])
        p.grad = torch.ones(3)
        opt.step()
        assert torch.get_num_threads() == 1
    finally:
        torch.set_num_threads(before)
