"""optgen.torch refuses bad input with a clear message, and leaves parameters and state untouched."""
from __future__ import annotations

import copy

import pytest
import torch

import optgen.torch as ot
from optgen.spec import SpecError


def _trained(cls=ot.Adam, **kw):
    ps = [torch.randn(3, 4, requires_grad=True), torch.randn(4, requires_grad=True)]
    opt = cls(ps, **kw)
    for p in ps:
        p.grad = torch.ones_like(p)
    opt.step()
    return ps, opt


def _snapshot(ps, opt):
    return [p.detach().clone() for p in ps], copy.deepcopy(opt.state_dict())


def _unchanged(ps, opt, snap):
    params, sd = snap
    assert all(torch.equal(p, q) for p, q in zip(ps, params))
    now = opt.state_dict()
    assert now["param_groups"] == sd["param_groups"]
    for i, st in sd["state"].items():
        assert set(now["state"][i]) == set(st)
        assert all(torch.equal(now["state"][i][k], v) for k, v in st.items())


def test_unknown_hyperparameter():
    with pytest.raises(SpecError, match=r"unknown hyperparameter\(s\) \['momentum'\].*allowed: .*betas"):
        ot.Optimizer([torch.zeros(2, requires_grad=True)], "adam", momentum=0.9)
    with pytest.raises(SpecError, match=r"param_groups\[0\]: unknown hyperparameter\(s\) \['lrr'\]"):
        ot.Adam([{"params": [torch.zeros(2, requires_grad=True)], "lrr": 0.1}])


def test_value_outside_its_domain_names_the_group():
    ps, opt = _trained()
    snap = _snapshot(ps, opt)
    with pytest.raises(SpecError, match=r"param_groups\[1\].*lr=-0.1 is outside its domain"):
        opt.add_param_group({"params": [torch.zeros(2, requires_grad=True)], "lr": -0.1})
    assert len(opt.param_groups) == 1
    opt.param_groups[0]["lr"] = -1.0  # as a careless scheduler would
    for p in ps:
        p.grad = torch.ones_like(p)
    with pytest.raises(SpecError, match=r"param_groups\[0\].*lr=-1.0 is outside its domain"):
        opt.step()
    opt.param_groups[0]["lr"] = snap[1]["param_groups"][0]["lr"]
    _unchanged(ps, opt, snap)


@pytest.mark.parametrize("cls,kw,match", [
    (ot.Adam, dict(capturable=True), "capturable=True is not supported"),
    (ot.Adam, dict(differentiable=True), "differentiable=True is not supported"),
    (ot.SGD, dict(lr=0.1, nesterov=True), "Nesterov momentum requires a momentum"),
    (ot.RAdam, dict(maximize=True), "maximize=True is not implemented for RAdam"),
])
def test_torch_only_arguments_that_change_the_result(cls, kw, match):
    with pytest.raises(ValueError, match=match):
        cls([torch.zeros(2, requires_grad=True)], **kw)


def test_torch_switches_that_change_nothing_are_accepted():
    ot.Adam([torch.zeros(2, requires_grad=True)], foreach=True, fused=False)


@pytest.mark.parametrize("dtype,match", [(torch.bfloat16, "not yet supported"), (torch.float16, "not yet supported"),
                                         (torch.complex64, "supported: torch.float32, torch.float64")])
def test_unsupported_dtypes(dtype, match):
    ps, opt = _trained()
    snap = _snapshot(ps, opt)
    with pytest.raises(TypeError, match=rf"param_groups\[1\]\['params'\]\[0\] has dtype .*{match}"):
        opt.add_param_group({"params": [torch.zeros(2, dtype=dtype, requires_grad=True)]})
    assert len(opt.param_groups) == 1
    _unchanged(ps, opt, snap)


def test_a_parameter_already_in_another_group():
    ps, opt = _trained()
    with pytest.raises(ValueError, match="more than one parameter group"):
        opt.add_param_group({"params": [ps[0]], "lr": 0.1})
    assert len(opt.param_groups) == 1


def test_sparse_gradient_refused_before_any_update():
    ps, opt = _trained()
    emb = torch.nn.Embedding(5, 4, sparse=True)
    opt.add_param_group({"params": emb.parameters()})
    snap = _snapshot(ps, opt)
    emb(torch.tensor([1, 2])).sum().backward()
    for p in ps:
        p.grad = torch.ones_like(p)
    with pytest.raises(TypeError, match=r"param_groups\[1\]\['params'\]\[0\]: the gradient is sparse"):
        opt.step()
    _unchanged(ps, opt, snap)


def test_views_with_gaps_refused_and_channels_last_handled(one_thread):
    base = torch.zeros(4, 6)
    with pytest.raises(ValueError, match="a view with gaps or overlaps"):
        ot.SGD([base[:, ::2].requires_grad_()], lr=0.1)
    w = torch.randn(2, 3, 4, 4).to(memory_format=torch.channels_last).requires_grad_()
    w_ref = w.detach().clone().contiguous().requires_grad_()
    opt, ref = ot.Adam([w], lr=0.1), torch.optim.Adam([w_ref], lr=0.1)
    for k in range(3):
        g = torch.randn(2, 3, 4, 4)
        w.grad, w_ref.grad = g.contiguous(), g.clone()  # a contiguous grad of a channels_last parameter
        opt.step()
        ref.step()
    torch.testing.assert_close(w.detach(), w_ref.detach(), rtol=1e-6, atol=1e-7)
    assert w.is_contiguous(memory_format=torch.channels_last)


def test_state_dict_of_another_optimizer():
    ps, opt = _trained()
    snap = _snapshot(ps, opt)
    q = [p.detach().clone().requires_grad_() for p in ps]
    sgd = torch.optim.SGD(q, lr=0.1, momentum=0.9)
    for p in q:
        p.grad = torch.ones_like(p)
    sgd.step()
    with pytest.raises(ValueError, match=r"param_groups\[0\] lacks \['betas', 'eps', .*not a checkpoint of optgen.torch.Adam"):
        opt.load_state_dict(sgd.state_dict())
    _unchanged(ps, opt, snap)


def test_state_dict_of_wrong_shapes():
    ps, opt = _trained()
    snap = _snapshot(ps, opt)
    bad = copy.deepcopy(opt.state_dict())
    bad["state"][1]["exp_avg"] = torch.zeros(5)
    with pytest.raises(ValueError, match=r"state\[1\]\['exp_avg'\] has shape \(5,\); its parameter has \(4,\)"):
        opt.load_state_dict(bad)
    _unchanged(ps, opt, snap)
    other = ot.Adam([torch.zeros(3, requires_grad=True)])
    with pytest.raises(ValueError, match=r"param_groups\[0\] has 2 parameters, this optimizer's 1"):
        other.load_state_dict(opt.state_dict())


def test_state_dict_with_a_state_this_optimizer_does_not_keep():
    ps, opt = _trained(amsgrad=True)
    plain = ot.Adam([p.detach().clone().requires_grad_() for p in ps])
    sd = opt.state_dict()
    sd["param_groups"][0]["amsgrad"] = False
    with pytest.raises(ValueError, match=r"state\[0\] has state\(s\) \['max_exp_avg_sq'\]"):
        plain.load_state_dict(sd)


def test_other_devices_refused_clearly():
    p = torch.zeros(2, device="meta", requires_grad=True)
    with pytest.raises(TypeError, match="is on device meta; optgen.torch runs on CPU and CUDA tensors"):
        ot.Adam([p])
