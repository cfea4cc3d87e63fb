"""Cohorts: the parameters of one launch (one step count, one device), and their step.

torch keeps a step count per parameter: a parameter whose ``.grad`` is None is
skipped and its state does not advance, so after such steps the parameters of
one group may stand at different steps. The parameters are therefore split into
*cohorts* of equal step count (and equal host states, e.g. NAdam's product of
momentum factors, which torch also keeps per parameter) and device; each cohort is
one optgen optimizer run at that cohort's step (:func:`run_cohort`). A spec that
sums over every parameter steps its cohorts of one device together
(:func:`run_together`, optgen/runtime/lockstep.py): the launches of a spec with
per-tensor options (Adafactor's matrices and vectors) and of every param group.
"""
from __future__ import annotations

import dataclasses

import torch

from ..runtime import lockstep
from . import devices, tensors


def on_host(views: dict) -> dict:
    """The arrays the runtimes keep reduced-shape states in come from and go back to the host (rows
    and columns: a small copy); a CPU tensor's view is its memory, a CUDA tensor's a copy."""
    return {a: x.numpy() if x.device.type == "cpu" else x.cpu().numpy() for a, x in views.items()}


@dataclasses.dataclass
class Cohort:
    """Parameters at one step count (and host states) on one device, with numpy views of those counts.

    ``steps[i]`` and ``hosts[h][i]`` are 0-d numpy views of member i's torch tensors
    ``state["step"]`` and ``state[host name]``: read and advanced in place, the tensors
    stay torch's (the state_dict is torch's format) without a torch call per step."""
    step: int
    host: tuple
    place: tuple  # (adapter, device): devices.placement
    params: list
    steps: list
    hosts: list


def split(params: list, states: list[dict], host_names: list[str]) -> list[Cohort]:
    """Parameters grouped by (step, host states, place): each group is one launch."""
    steps = [st["step"].numpy() for st in states]
    hosts = [[st[h].numpy() for st in states] for h in host_names]
    out: dict = {}
    for i, p in enumerate(params):
        key = (int(steps[i]), tuple(float(h[i]) for h in hosts), devices.placement(p))
        c = out.get(key)
        if c is None:
            c = out[key] = Cohort(*key, [], [], [[] for _ in host_names])
        c.params.append(p)
        c.steps.append(steps[i])
        for views, h in zip(c.hosts, hosts):
            views.append(h[i])
    return list(out.values())


def run_cohort(launcher, plan: Plan, cohort: Cohort, axis_states: list | None = None) -> None:
    """One step of one cohort at its own step count; its steps and host states advance.

    The launcher knows the host states by the spec's names (``plan.module.HOST_STATES``);
    ``cohort.hosts`` holds them in the same order. ``axis_states``: each member's flat views of
    its reduced-shape state tensors (``{spec name: flat view}``), which the launcher keeps in
    buffers of its own (optgen/runtime/axes.py): copied in before the step, so that a value
    written or loaded into the tensors counts, and out after it (rows and columns: a small copy)."""
    grads, host_axis_states = _before_cohort(launcher, plan, cohort, axis_states)
    adapter, device = cohort.place
    if adapter is None:
        launcher.step_addresses([g.data_ptr() for g in grads])
    else:  # after the backward pass on torch's stream; a copy freed after the step is reused in that order
        with adapter.activate(device):
            launcher.step(_device_grads(adapter, plan, grads), stream=adapter.stream(device))
    _after_cohort(launcher, plan, cohort, axis_states, host_axis_states)


def _device_grads(adapter, plan: Plan, grads: list) -> list:
    """The gradients as a CUDA launcher takes them: with their shapes where the parameters were
    given so (Launchers.get)."""
    return [adapter.interface(g.detach()) if plan.reads_shapes else devices.array(adapter, g) for g in grads]


def cohort_passes(launcher, plan: Plan, cohort: Cohort, axis_states: list | None = None):
    """:func:`run_cohort` as a generator of its sums over every tensor, for :func:`run_together`
    (optgen/runtime/lockstep.py); a CUDA cohort's inside its device's ``activate``."""
    grads, host_axis_states = _before_cohort(launcher, plan, cohort, axis_states)  # alive through the step
    adapter, device = cohort.place
    if adapter is None:
        yield from launcher.address_passes([g.data_ptr() for g in grads])
    else:
        yield from launcher.passes(_device_grads(adapter, plan, grads), stream=adapter.stream(device))
    _after_cohort(launcher, plan, cohort, axis_states, host_axis_states)


def _before_cohort(launcher, plan: Plan, cohort: Cohort, axis_states: list | None):
    """The launcher at the cohort's step, its reduced-shape states copied in: (the gradients as
    the parameters are laid out, the host copies of the reduced-shape states)."""
    spec_names = plan.module.HOST_STATES
    launcher.values = plan.values
    launcher.t = cohort.step
    if spec_names:
        launcher.host_states = dict(zip(spec_names, cohort.host))
    grads = tensors.grads_as_params(cohort.params)  # copies among them: alive through the step
    host_axis_states = [on_host(st) for st in axis_states] if axis_states else None
    if host_axis_states:
        launcher.write_axis_states(host_axis_states)
    return grads, host_axis_states


def _after_cohort(launcher, plan: Plan, cohort: Cohort, axis_states: list | None, host_axis_states) -> None:
    """The step done: the new rows and columns into the tensors, the step counts and host states on."""
    spec_names = plan.module.HOST_STATES
    if host_axis_states:  # the new rows and columns, into the tensors (a CUDA tensor's from its copy)
        launcher.read_axis_states(host_axis_states)
        for views, host in zip(axis_states, host_axis_states):
            for a, x in views.items():
                if x.device.type != "cpu":
                    x.copy_(torch.from_numpy(host[a]))
    after = cohort.step + 1
    for v in cohort.steps:
        v[()] = after
    cohort.step = after
    if spec_names:
        for spec_name, views in zip(spec_names, cohort.hosts):
            value = launcher.host_states[spec_name]
            for v in views:
                v[()] = value
        cohort.host = tuple(float(views[0]) for views in cohort.hosts)  # as stored: a float32 tensor rounds


def run_together(launches: list, where: str) -> None:
    """One step of several launches on one device whose sums over every tensor are one sum (a spec with a
    per-tensor option and a ``global_sum``: clip_by_global_norm(Adafactor), whose matrices and
    vectors run different kernels), in lockstep (optgen/runtime/lockstep.py)."""
    adapter, device = launches[0].cohort.place  # one device (the optimizer checks)
    lockstep.step_together([la.launcher for la in launches],
                           lambda: [cohort_passes(la.launcher, la.plan, la.cohort, la.axis_states) for la in launches],
                           None, where, on_cpu=adapter is None,
                           device_context=None if adapter is None else adapter.activate(device))


__all__ = ["Cohort", "split", "on_host", "run_cohort", "cohort_passes", "run_together"]
