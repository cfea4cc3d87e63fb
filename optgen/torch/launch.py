"""One step of one param group: plans (spec, options, checked values) and the launches of the kernels.

torch keeps a step count per parameter: a parameter whose ``.grad`` is None is
skipped and its state does not advance, so after such steps the parameters of
one group may stand at different steps. The parameters are therefore split into
*cohorts* of equal step count (and equal host states, e.g. NAdam's product of
momentum factors, which torch also keeps per parameter); each cohort is one
optgen CPU optimizer run at that cohort's step: one kernel launch per pass per
dtype. Usually every parameter has a gradient and there is one cohort.

The parameters of a group are also split by device (:mod:`optgen.torch.devices`):
CPU tensors run the CPU kernels; CUDA tensors run the CUDA kernels
(``optgen/runtime/cuda.py``) on torch's current stream, one cohort of one device
at a time, reached through ``__cuda_array_interface__``.

The optimizer of a cohort (its chunk table and address tables) is built once
and reused while the same parameters (at the same addresses) form that cohort;
the state tensors it reaches are torch's own, in ``optimizer.state``, on the
parameters' device; the step counts and host states stay on the CPU, as
torch.optim keeps ``step`` (so that reading them never waits for the GPU).
"""
from __future__ import annotations

import dataclasses
import functools

import torch

from ..compiler.driver import load_module
from ..runtime import hypers as hyper_values
from ..runtime.cpu import CPUOptimizer
from . import devices, tensors

MAX_LAUNCHERS = 16  # per optimizer: cohorts are few; a stale one is dropped, rebuilt if it comes back


@dataclasses.dataclass
class Plan:
    """What a group runs: the spec, its options, its checked hyperparameter values, the module."""
    spec: object
    options: dict
    values: dict
    module: object  # the CPU module; its STATES, HOST_STATES and VARIANTS are the CUDA module's too
    cuda_module: object = None  # loaded with the first CUDA tensor

    def module_for(self, target: str) -> object:
        if target == "cpu":
            return self.module
        if self.cuda_module is None:
            self.cuda_module = load_module(self.spec, self.options, "cuda")
        return self.cuda_module


def group_key(group: dict, form) -> tuple:
    """The group's entries that decide the plan, as comparable values (a scheduler changes them)."""
    return tuple((k, _comparable(group.get(k))) for k in form.defaults)


def _comparable(v):
    if isinstance(v, (tuple, list)):
        return tuple(_comparable(x) for x in v)
    if isinstance(v, torch.Tensor):
        return v.item() if v.numel() == 1 else id(v)
    if isinstance(v, (int, float, bool, str, type(None))):
        return v
    return id(v)  # a schedule object: the same object, the same plan


def make_plan(form, group: dict, where: str) -> Plan:
    """Check a group's values against the spec's domains (errors name the group and the value)."""
    spec, options, raw = form.spec_and_values(group)
    try:
        options, values = hyper_values.resolve(spec, {**options, **raw})
    except ValueError as exc:
        raise type(exc)(f"{where}: {exc}") from None
    return Plan(spec, options, values, load_module(spec, options, "cpu"))


class Launchers:
    """CPU or CUDA optimizers per cohort, keyed by module, device and the cohort's parameters and addresses."""

    def __init__(self):
        self._cache: dict = {}

    def clear(self) -> None:
        self._cache.clear()

    def get(self, plan: Plan, params: list, states: list[dict], state_names: dict, place: tuple):
        """The cohort's optimizer; ``place``: ``(adapter, device)`` (:func:`devices.placement`)."""
        adapter, device = place
        key = (id(plan.module), device, tuple((id(p), p.data_ptr()) for p in params))
        opt = self._cache.get(key)
        if opt is None:
            if len(self._cache) >= MAX_LAUNCHERS:
                self._cache.clear()
            names = [state_names.get(s, s) for s in plan.module.STATES]
            view = tensors.flat if adapter is None else functools.partial(devices.array, adapter)
            arrays = [view(p) for p in params]
            views = [{s: view(st[n]) for s, n in zip(plan.module.STATES, names)} for st in states]
            if adapter is None:
                opt = CPUOptimizer(plan.spec, plan.module, arrays, plan.options, plan.values, states=views)
            else:
                with adapter.activate(device):  # its tables on the parameters' device
                    opt = _cuda_optimizer(plan, arrays, views, adapter.launch)
            self._cache[key] = opt
        return opt


def _cuda_optimizer(plan: Plan, arrays: list, views: list, launch: dict):
    from ..runtime.cuda import CUDAOptimizer, require_cuda
    cuda = require_cuda(f"optgen.torch ({plan.spec.name}) on CUDA tensors")  # numba-cuda, a GPU
    return CUDAOptimizer(plan.spec, plan.module_for("cuda"), arrays, plan.options, plan.values,
                         cuda=cuda, states=views, **launch)


def cohorts(params: list, states: list[dict], host_names: list[str]) -> dict:
    """Parameters grouped by (step, host states, place): each group is one launch.

    The counts are read with one ``torch.stack(...).tolist()`` per kind, not one ``.item()``
    per parameter (on GPT-2's 148 tensors the per-parameter reads and updates of the step
    counts were most of what optgen.torch's step cost beyond the kernel's)."""
    steps = torch.stack([st["step"] for st in states]).tolist()
    hosts = [torch.stack([st[h] for st in states]).tolist() for h in host_names]
    out: dict = {}
    for i, (p, st) in enumerate(zip(params, states)):
        key = (int(steps[i]), tuple(float(h[i]) for h in hosts), devices.placement(p))
        out.setdefault(key, []).append((p, st))
    return out


def run_cohort(launcher, plan: Plan, key: tuple, members: list, host_names: list[str]) -> None:
    """One step of one cohort at its own step count; its steps and host states advance.

    ``host_names``: the names in ``optimizer.state`` of the module's host states, in the
    module's order (``plan.module.HOST_STATES``), which the launcher knows by the spec's names."""
    step, host, (adapter, device) = key
    spec_names = list(plan.module.HOST_STATES)
    launcher.values = plan.values
    launcher.t = step
    launcher.host_states = dict(zip(spec_names, host))
    grads = tensors.grads_as_params([p for p, _ in members])  # copies among them: alive through the step
    if adapter is None:
        launcher.step_addresses([g.data_ptr() for g in grads])
    else:  # after the backward pass on torch's stream; a copy freed after the step is reused in that order
        with adapter.activate(device):
            launcher.step([devices.array(adapter, g) for g in grads], stream=adapter.stream(device))
    torch._foreach_add_([st["step"] for _, st in members], 1)  # one call, as torch.optim's foreach mode
    for spec_name, name in zip(spec_names, host_names):
        held = [st[name] for _, st in members]
        torch._foreach_zero_(held)
        torch._foreach_add_(held, launcher.host_states[spec_name])
