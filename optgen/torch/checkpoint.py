"""Loading a torch-format checkpoint: every check first, then the states as this optimizer's own tensors.

``state_dict()`` is torch's own (inherited): ``{"state": {index: {name: tensor}},
"param_groups": [...]}``, with torch's state names where torch has the
optimizer. ``load_state_dict`` checks, before anything changes, that the
checkpoint is of this optimizer (every hyperparameter key present, values in
their domains, every state the group's kernels need present with its
parameter's shape, no state this optimizer does not know) and converts it:
state tensors are copied (torch's own load would alias the tensors of the dict
it is given, so that training would rewrite the checkpoint) and laid out as
their parameters, on their parameters' devices (a CUDA parameter's states are
CUDA tensors, wherever the checkpoint's were), steps become torch's scalar step tensors, host states
(NAdam's ``mu_product``) stay float64.
"""
from __future__ import annotations

import copy

import torch

from .. import abi
from ..axes import reduced_shape
from . import devices, launch


def step_dtype():
    """torch's dtype for ``state["step"]`` (``torch.optim.optimizer._get_scalar_dtype``)."""
    return torch.float64 if torch.get_default_dtype() == torch.float64 else torch.float32


def _fail(opt, what: str):
    raise ValueError(f"{opt._form.title}.load_state_dict: {what}")


def check_and_convert(opt, sd: dict) -> dict:
    if not isinstance(sd, dict) or "state" not in sd or "param_groups" not in sd:
        _fail(opt, "expected torch's format, a dict with 'state' and 'param_groups'")
    groups = sd["param_groups"]
    if len(groups) != len(opt.param_groups):
        _fail(opt, f"the checkpoint has {len(groups)} param groups, this optimizer {len(opt.param_groups)}")
    form = opt._form
    needed = [k for k in form.defaults if k not in form.torch_only and k not in form.optgen_only]
    new_groups, new_state = [], {}
    for i, (saved, mine) in enumerate(zip(groups, opt.param_groups)):
        where = f"param_groups[{i}]"
        if len(saved["params"]) != len(mine["params"]):
            _fail(opt, f"{where} has {len(saved['params'])} parameters, this optimizer's {len(mine['params'])}")
        missing = [k for k in needed if k not in saved]
        if missing:
            _fail(opt, f"{where} lacks {missing}: not a checkpoint of {form.title} "
                       f"(its groups have {sorted(k for k in saved if k != 'params')})")
        group = {**{k: copy.deepcopy(v) for k, v in form.defaults.items()}, **copy.deepcopy(saved)}
        group["params"] = list(saved["params"])
        plan = launch.make_plan(form, {**group, "params": mine["params"]},  # the tensors (a dtype's eps)
                                f"{form.title}.load_state_dict: {where}")
        form.check_group({k: v for k, v in group.items() if k in form.defaults}, f"{form.title}: {where}")
        new_groups.append(group)
        for index, p in zip(saved["params"], mine["params"]):
            if index in sd["state"]:
                new_state[index] = _convert_state(opt, plan, p, sd["state"][index], f"state[{index}]")
    return {"state": new_state, "param_groups": new_groups}


def _convert_state(opt, plan, p: torch.Tensor, saved: dict, where: str) -> dict:
    form = opt._form
    saved = {k: v for k, v in saved.items() if v is not None}  # torch's SGD keeps momentum_buffer=None
    if not saved:
        return {}
    plan = plan.for_shape(p.shape)  # a per-tensor option (Adafactor's factored) decides the states
    arrays = {form.torch_name(s) for s in plan.module.STATES}
    hosts = {form.torch_name(h) for h in plan.module.HOST_STATES}
    reduced = {form.torch_name(a): reduced_shape(p.shape, kind)
               for a, (kind, _) in abi.axis_states(plan.module).items()}
    extra = sorted(set(saved) - arrays - hosts - set(reduced) - {"step"})
    if extra:
        _fail(opt, f"{where} has state(s) {extra}, which {form.title} ({plan.spec.name}, "
                   f"options {plan.options}) does not keep; it keeps {sorted(arrays | hosts | set(reduced) | {'step'})}")
    out = {}
    if "step" in saved:
        out["step"] = torch.tensor(float(saved["step"]), dtype=step_dtype())
    elif not form.step_in_state:
        out["step"] = torch.tensor(1.0, dtype=step_dtype())  # a buffer exists: past the first step
    else:
        _fail(opt, f"{where} lacks 'step'")
    for name in sorted(arrays):
        value = saved.get(name)
        if value is None:
            if name not in form.optional_states:
                _fail(opt, f"{where} lacks state {name!r} (of parameter shape {tuple(p.shape)})")
            out[name] = devices.zeros_like(p)
            continue
        if not isinstance(value, torch.Tensor) or tuple(value.shape) != tuple(p.shape):
            shape = tuple(value.shape) if hasattr(value, "shape") else type(value).__name__
            _fail(opt, f"{where}[{name!r}] has shape {shape}; its parameter has {tuple(p.shape)}")
        out[name] = devices.zeros_like(p).copy_(value)
    for name, shape in sorted(reduced.items()):
        value = saved.get(name)
        if not isinstance(value, torch.Tensor) or tuple(value.shape) != shape:
            got = tuple(value.shape) if hasattr(value, "shape") else "nothing"
            _fail(opt, f"{where}[{name!r}] has shape {got}; for a parameter of shape {tuple(p.shape)} it has {shape}")
        out[name] = p.detach().new_zeros(shape).copy_(value)
    for name in sorted(hosts):
        if name not in saved:
            _fail(opt, f"{where} lacks state {name!r}")
        out[name] = torch.tensor(float(saved[name]), dtype=torch.float64)
    return out
