"""One step of one param group: plans (spec, options, checked values) and the launches of the kernels.

torch keeps a step count per parameter: a parameter whose ``.grad`` is None is
skipped and its state does not advance, so after such steps the parameters of
one group may stand at different steps. The parameters are therefore split into
*cohorts* of equal step count (and equal host states, e.g. NAdam's product of
momentum factors, which torch also keeps per parameter); each cohort is one
optgen CPU optimizer run at that cohort's step: one kernel launch per pass per
dtype. Usually every parameter has a gradient and there is one cohort.

The CPU optimizer of a cohort (its chunk table and address tables) is built once
and reused while the same parameters (at the same addresses) form that cohort;
the state tensors it reaches are torch's own, in ``optimizer.state``.
"""
from __future__ import annotations

import dataclasses

import torch

from ..compiler.driver import load_module
from ..runtime import hypers as hyper_values
from ..runtime.cpu import CPUOptimizer
from . import tensors

MAX_LAUNCHERS = 16  # per optimizer: cohorts are few; a stale one is dropped, rebuilt if it comes back


@dataclasses.dataclass
class Plan:
    """What a group runs: the spec, its options, its checked hyperparameter values, the module."""
    spec: object
    options: dict
    values: dict
    module: object


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
    """CPU optimizers per cohort, keyed by module and the cohort's parameters and addresses."""

    def __init__(self):
        self._cache: dict = {}

    def clear(self) -> None:
        self._cache.clear()

    def get(self, plan: Plan, params: list, states: list[dict], state_names: dict) -> CPUOptimizer:
        key = (id(plan.module), tuple((id(p), p.data_ptr()) for p in params))
        opt = self._cache.get(key)
        if opt is None:
            if len(self._cache) >= MAX_LAUNCHERS:
                self._cache.clear()
            arrays = [tensors.flat(p) for p in params]
            views = [{s: tensors.flat(st[state_names.get(s, s)]) for s in plan.module.STATES} for st in states]
            opt = CPUOptimizer(plan.spec, plan.module, arrays, plan.options, plan.values, states=views)
            self._cache[key] = opt
        return opt


def cohorts(params: list, states: list[dict], host_names: list[str]) -> dict:
    """Parameters grouped by (step, host states): each group is one launch.

    The counts are read with one ``torch.stack(...).tolist()`` per kind, not one ``.item()``
    per parameter (on GPT-2's 148 tensors the per-parameter reads and updates of the step
    counts were most of what optgen.torch's step cost beyond the kernel's)."""
    steps = torch.stack([st["step"] for st in states]).tolist()
    hosts = [torch.stack([st[h] for st in states]).tolist() for h in host_names]
    out: dict = {}
    for i, (p, st) in enumerate(zip(params, states)):
        key = (int(steps[i]), tuple(float(h[i]) for h in hosts))
        out.setdefault(key, []).append((p, st))
    return out


def run_cohort(launcher: CPUOptimizer, plan: Plan, key: tuple, members: list, host_names: list[str]) -> None:
    """One step of one cohort at its own step count; its steps and host states advance.

    ``host_names``: the names in ``optimizer.state`` of the module's host states, in the
    module's order (``plan.module.HOST_STATES``), which the launcher knows by the spec's names."""
    step, host = key
    spec_names = list(plan.module.HOST_STATES)
    launcher.values = plan.values
    launcher.t = step
    launcher.host_states = dict(zip(spec_names, host))
    addresses, _copies = tensors.grad_addresses([p for p, _ in members])  # _copies: alive through the step
    launcher.step_addresses(addresses)
    torch._foreach_add_([st["step"] for _, st in members], 1)  # one call, as torch.optim's foreach mode
    for spec_name, name in zip(spec_names, host_names):
        held = [st[name] for _, st in members]
        torch._foreach_zero_(held)
        torch._foreach_add_(held, launcher.host_states[spec_name])
