"""optgen.torch checkpoints are torch's: torch.save/torch.load mid-run continues bit-identically, and
checkpoints move between torch.optim and optgen.torch (the independent source: torch.optim's own
state after the same training).
"""
from __future__ import annotations

import copy
import io

import pytest
import torch

import optgen.torch as ot
from _torch_training import torch_one_thread  # noqa: F401 (a fixture)
from _torch_training import assert_same_params, backward, data, twin_models, two_groups

CASES = [("Adam", dict(lr=1e-2, amsgrad=True)), ("AdamW", dict(lr=1e-2)), ("SGD", dict(lr=0.05, momentum=0.9)),
         ("RMSprop", dict(lr=1e-2, centered=True, momentum=0.5)), ("RMSprop", dict(lr=1e-2)),
         ("Adagrad", dict(lr=0.05)), ("Adadelta", dict()), ("Adamax", dict(lr=1e-2)), ("NAdam", dict(lr=1e-2)),
         ("RAdam", dict(lr=1e-2))]


def _id(case):
    return case[0] + "-" + "-".join(f"{k}={v}" for k, v in case[1].items())


def _train(model, opt, x, y, steps, start=0):
    for step in range(start, start + steps):
        backward(model, x, y, step, skip_every=4)
        opt.step()


def _roundtrip(sd):
    buf = io.BytesIO()
    torch.save(sd, buf)
    buf.seek(0)
    return torch.load(buf, weights_only=True)


@pytest.mark.parametrize("case", CASES, ids=_id)
def test_save_load_mid_run_is_bit_identical(case, one_thread, torch_one_thread):
    name, kw = case
    unbroken, resumed = twin_models("mlp", torch.float32)
    x, y = data("mlp", torch.float32)
    opt_a = getattr(ot, name)(two_groups(unbroken, kw.get("lr", 1.0), 1e-2), **kw)
    opt_b = getattr(ot, name)(two_groups(resumed, kw.get("lr", 1.0), 1e-2), **kw)
    _train(unbroken, opt_a, x, y, 30)
    _train(resumed, opt_b, x, y, 30)
    saved_model, saved_opt = _roundtrip(resumed.state_dict()), _roundtrip(opt_b.state_dict())
    _train(resumed, opt_b, x, y, 5, start=30)  # moves on, then is rolled back to the checkpoint
    fresh_model, _ = twin_models("mlp", torch.float32)
    fresh_model.load_state_dict(saved_model)
    fresh = getattr(ot, name)(two_groups(fresh_model, 0.123, 0.5), **kw)
    fresh.load_state_dict(saved_opt)
    _train(unbroken, opt_a, x, y, 30, start=30)
    _train(fresh_model, fresh, x, y, 30, start=30)
    for p, q in zip(unbroken.parameters(), fresh_model.parameters()):
        assert torch.equal(p, q)


def _torch_dtype_run(dtype):
    before = torch.get_default_dtype()
    torch.set_default_dtype(dtype)
    return before


@pytest.mark.parametrize("direction", ["torch->optgen", "optgen->torch"])
@pytest.mark.parametrize("case", CASES, ids=_id)
def test_checkpoints_move_between_torch_and_optgen(case, direction, one_thread, torch_one_thread):
    """Train 20 steps on one side, load its checkpoint into the other, train 20 more there; a run
    on torch.optim throughout is the reference (float64, so the comparison is to rounding)."""
    name, kw = case
    before = _torch_dtype_run(torch.float64)
    try:
        first_cls, second_cls = getattr(torch.optim, name), getattr(ot, name)
        if direction == "optgen->torch":
            first_cls, second_cls = second_cls, first_cls
        ref_m, m = twin_models("mlp", torch.float64)
        x, y = data("mlp", torch.float64)
        ref = getattr(torch.optim, name)(two_groups(ref_m, kw.get("lr", 1.0), 1e-2), **kw)
        first = first_cls(two_groups(m, kw.get("lr", 1.0), 1e-2), **kw)
        _train(ref_m, ref, x, y, 20)
        _train(m, first, x, y, 20)
        m2 = copy.deepcopy(m)
        second = second_cls(two_groups(m2, 0.5, 0.0), **kw)
        second.load_state_dict(_roundtrip(first.state_dict()))
        _train(ref_m, ref, x, y, 20, start=20)
        _train(m2, second, x, y, 20, start=20)
        assert_same_params(m2, ref_m, f"{name} {direction}")
    finally:
        torch.set_default_dtype(before)


def test_torch_state_names_in_the_checkpoint(one_thread):
    p = torch.zeros(3, requires_grad=True)
    opt = ot.Adam([p], amsgrad=True)
    p.grad = torch.ones(3)
    opt.step()
    sd = opt.state_dict()
    assert set(sd["state"][0]) == {"step", "exp_avg", "exp_avg_sq", "max_exp_avg_sq"}
    assert sd["param_groups"][0]["params"] == [0] and sd["param_groups"][0]["betas"] == (0.9, 0.999)


def test_loaded_state_is_copied_not_aliased(one_thread):
    """torch's own load would keep the given tensors, so that training rewrote the checkpoint."""
    p = torch.ones(4, requires_grad=True)
    opt = ot.Adam([p], lr=0.1)
    p.grad = torch.ones(4)
    opt.step()
    sd = copy.deepcopy(opt.state_dict())
    kept = sd["state"][0]["exp_avg"].clone()
    opt.load_state_dict(sd)
    p.grad = torch.full((4,), 3.0)
    opt.step()
    assert torch.equal(sd["state"][0]["exp_avg"], kept)
    assert not torch.equal(opt.state[p]["exp_avg"], kept)


def test_a_deepcopy_trains_on_its_own_copies(one_thread):
    """copy.deepcopy(optimizer) (as some training libraries do) copies params and state; the copy
    steps its own tensors and follows the original's trajectory."""
    p = torch.randn(5, requires_grad=True)
    opt = ot.NAdam([p], lr=0.1)
    p.grad = torch.ones(5)
    opt.step()
    twin = copy.deepcopy(opt)
    q = twin.param_groups[0]["params"][0]
    assert q is not p and torch.equal(q, p)
    for k in range(3):
        p.grad = torch.full((5,), 0.5 * k)
        q.grad = torch.full((5,), 0.5 * k)
        opt.step()
        twin.step()
    assert torch.equal(p, q)
    assert twin.state[q]["exp_avg"].data_ptr() != opt.state[p]["exp_avg"].data_ptr()
