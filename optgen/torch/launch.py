"""One step of one param group: plans (spec, options, checked values) and the launches of the kernels.

torch keeps a step count per parameter: a parameter whose ``.grad`` is None is
skipped and its state does not advance, so after such steps the parameters of
one group may stand at different steps. The parameters are therefore split into
*cohorts* of equal step count (and equal host states, e.g. NAdam's product of
momentum factors, which torch also keeps per parameter); each cohort is one
optgen CPU optimizer run at that cohort's step: one kernel launch per pass per
dtype (optgen/torch/cohorts.py). Usually every parameter has a gradient and there is one cohort.

The parameters of a group are also split by device (:mod:`optgen.torch.devices`):
CPU tensors run the CPU kernels; CUDA tensors run the CUDA kernels
(``optgen/runtime/cuda.py``) on torch's current stream, one cohort of one device
at a time, reached through ``__cuda_array_interface__``; their step counts and
host states stay on the CPU, as torch.optim keeps ``step`` (so that reading them
never waits for the GPU).

The optimizer of a cohort (its chunk table and address tables) is built once
and reused while the same parameters and state tensors, at the same addresses,
form that cohort; the state tensors it reaches are torch's own, in
``optimizer.state``. The step counts stay torch's per-parameter scalar tensors
(the state_dict is torch's) and are read and advanced through numpy views.

Most steps are the last one again: the same plan, the same parameters with
gradients, the same tensors. A group whose last step was one cohort keeps it as a
:class:`Steady`, and the next step, after one check of all that, goes straight to
the launch: on a 4-tensor MLP the planning, the cohorts and the launcher lookup
were most of the step (docs/torch.md, "Through optgen bench").
"""
from __future__ import annotations

import dataclasses
import functools
import operator

import numpy as np
import torch

from .. import abi
from ..axes import options_for_shape, per_tensor_options
from ..compiler.driver import load_module
from ..runtime import hypers as hyper_values
from ..runtime.cpu import CPUOptimizer
from . import devices, tensors
from .cohorts import Cohort, on_host, run_cohort, run_together

MAX_LAUNCHERS = 16  # per optimizer: cohorts are few; a stale one is dropped, rebuilt if it comes back


@dataclasses.dataclass
class Plan:
    """What a group runs: the spec, its options, its checked hyperparameter values, the module."""
    spec: object
    options: dict
    values: dict
    module: object  # the CPU module; its STATES, HOST_STATES and VARIANTS are the CUDA module's too
    cuda_module: object = None  # loaded with the first CUDA tensor
    by_shape: dict = dataclasses.field(default_factory=dict)  # per-tensor option values -> their Plan
    per_tensor: bool | None = None  # whether the spec sets options per tensor (known at the first for_shape)

    def module_for(self, target: str) -> object:
        if target == "cpu":
            return self.module
        if self.cuda_module is None:
            self.cuda_module = load_module(self.spec, self.options, "cuda")
        return self.cuda_module

    @functools.cached_property
    def reads_shapes(self) -> bool:
        """Whether its kernels take each tensor with its shape (``abi.reads_shapes``), decided once."""
        return abi.reads_shapes(self.module)

    def for_shape(self, shape) -> "Plan":
        """The plan of a tensor of ``shape``: this one with the spec's per-tensor options (Adafactor's
        ``factored``) set from the shape, as the numpy runtime sets them (optgen/runtime/per_tensor.py)."""
        if self.per_tensor is None:
            self.per_tensor = bool(per_tensor_options(self.spec))
        if not self.per_tensor:
            return self
        extra = options_for_shape(self.spec, shape)
        key = tuple(sorted(extra.items()))
        plan = self.by_shape.get(key)
        if plan is None:
            options = {**self.options, **extra}
            plan = self.by_shape[key] = Plan(self.spec, options, self.values, load_module(self.spec, options, "cpu"))
        return plan


def axis_state_views(plan: Plan, states: list[dict], state_names: dict) -> list[dict] | None:
    """Each member's flat views of its reduced-shape state tensors (Adafactor's row and column
    statistics), on their device, by the spec's names; None for a module without such states."""
    names = abi.axis_states(plan.module)
    if not names:
        return None
    return [{a: tensors.flat_view(st[state_names.get(a, a)]) for a in names} for st in states]


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
    """CPU or CUDA optimizers per cohort, keyed by module, device and the addresses the launcher reaches.

    The key holds each parameter's identity and address and every state tensor's address:
    a launcher reaches its arrays through tables of addresses, so a state tensor replaced by
    another (``load_state_dict``, or ``optimizer.state[p]["exp_avg"] = t``) must get a new
    launcher, or the kernels would go on updating the old tensor's memory."""

    def __init__(self):
        self._cache: dict = {}

    def clear(self) -> None:
        self._cache.clear()

    def get(self, plan: Plan, params: list, states: list[dict], state_names: dict, place: tuple):
        """The cohort's optimizer; ``place``: ``(adapter, device)`` (:func:`devices.placement`)."""
        adapter, device = place
        names = [state_names.get(s, s) for s in plan.module.STATES]
        key = (id(plan.module), device, tuple(id(p) for p in params), tuple(addresses(params, states, names)))
        opt = self._cache.get(key)
        if opt is None:
            if len(self._cache) >= MAX_LAUNCHERS:
                self._cache.clear()
            view = tensors.flat if adapter is None else functools.partial(devices.array, adapter)
            # a matrix step (Muon) views each parameter as its matrix, an axis reduction reads its rows
            if not plan.reads_shapes:
                arrays = [view(p) for p in params]
            elif adapter is None:
                arrays = [tensors.shaped(p, plan.spec.name) for p in params]
            else:  # a CUDA tensor with its shape: its own __cuda_array_interface__
                arrays = [adapter.interface(tensors.contiguous(p, plan.spec.name)) for p in params]
            views = [{s: view(st[n]) for s, n in zip(plan.module.STATES, names)} for st in states]
            for v, reduced in zip(views, axis_state_views(plan, states, state_names) or ()):
                v.update(on_host(reduced))  # the first values of the reduced-shape states
            if adapter is None:
                opt = CPUOptimizer(plan.spec, plan.module, arrays, plan.options, plan.values, states=views)
            else:
                with adapter.activate(device):  # its tables on the parameters' device
                    opt = _cuda_optimizer(plan, arrays, views, adapter.launch)
            self._cache[key] = opt
        return opt


def _cuda_optimizer(plan: Plan, arrays: list, views: list, launch: dict):
    from ..runtime.cuda import CUDAOptimizer
    from ..runtime.cuda_support import require_cuda
    cuda = require_cuda(f"optgen.torch ({plan.spec.name}) on CUDA tensors")  # numba-cuda, a GPU
    return CUDAOptimizer(plan.spec, plan.module_for("cuda"), arrays, plan.options, plan.values,
                         cuda=cuda, states=views, **launch)


def addresses(params: list, states: list[dict], names: list[str]):
    """The parameters' addresses and those of their state tensors ``names``; None if one is missing."""
    try:
        return [p.data_ptr() for p in params] + [st[n].data_ptr() for st in states for n in names]
    except (KeyError, AttributeError):  # a state deleted or set to None since
        return None


@dataclasses.dataclass
class Launch:
    """One launch of a group's step: a cohort (one step count, one device) of the tensors of one
    set of per-tensor option values (``plan``), its launcher and its reduced-shape state views."""
    plan: Plan
    cohort: Cohort
    launcher: object
    axis_states: list | None
    names: list  # the cohort's state tensors' names in optimizer.state, "step" included
    addresses: list | None = None

    def run(self) -> None:
        run_cohort(self.launcher, self.plan, self.cohort, self.axis_states)


class Steady:
    """A group's last step, which the next one repeats while nothing it depends on has changed.

    What it depends on: the plans' modules (the group's values decide them: :func:`group_key`;
    new values of the same modules, a scheduler's lr, only replace the plans), which
    parameters have gradients, the addresses of the parameters and their state tensors
    (the launchers' tables), and that every member's step count and host states are still
    its cohort's (a user may have written them). :meth:`check` compares these, a few
    attribute reads per tensor, and the step goes straight to the launches (:func:`run_cohort`).
    A step of several launches repeats as one of one: tensors at different step counts (some
    skipped a step without a gradient) or of different per-tensor options (Adafactor's biases
    and matrices) each keep their launch."""

    def __init__(self, group: dict, form, launches: list[Launch], state: dict, together: bool = False):
        self.keys = tuple(form.defaults)
        self.title = form.title
        self.together = together  # the launches' sums over every tensor are one (:func:`run_together`)
        self.values = tuple(map(group.get, self.keys))
        # a tensor (or an array) can change in place (group["lr"].fill_(x)), and == on it is elementwise
        self.equality_suffices = not any(map(_changes_in_place, self.values))
        self.launches = launches
        self.params = list(group["params"])
        self.n_params = len(self.params)
        self.members = [p for p in self.params if p.grad is not None]
        self.every_param = len(self.members) == self.n_params
        self.grads = [p.grad for p in self.members]
        for la in launches:
            la.addresses = addresses(la.cohort.params, [state[p] for p in la.cohort.params], la.names)

    def check(self, group: dict, state, plan_of, check_grad) -> bool:
        """Whether this step can repeat the last one. ``plan_of()``: the group's plan, checked
        (called when a value changed); ``check_grad(p, g, j)``: checks a new gradient object."""
        values = tuple(map(group.get, self.keys))
        if not (self.equality_suffices and values == self.values):  # == is `is` first, then float ==
            plan = plan_of()
            parts = [plan.for_shape(la.cohort.params[0].shape) for la in self.launches]
            if any(part.module is not la.plan.module for part, la in zip(parts, self.launches)):
                return False
            for part, la in zip(parts, self.launches):
                la.plan = part
            self.values = values
        params = group["params"]
        if len(params) != self.n_params or not all(map(operator.is_, params, self.params)):
            return False
        grads = [p.grad for p in params]
        # the usual step: every parameter has the gradient object it had (which was checked then)
        if not (self.every_param and all(map(operator.is_, grads, self.grads))) and \
                not self._same_members(params, grads, check_grad):
            return False
        for la in self.launches:
            c = la.cohort
            if addresses(c.params, [state.get(p, {}) for p in c.params], la.names) != la.addresses:
                return False
            step = c.step
            for v in c.steps:  # a loop, not any(generator): this runs once a parameter a step
                if v[()] != step:
                    return False
            for views, x in zip(c.hosts, c.host):
                for v in views:
                    if v[()] != x:
                        return False
        return True

    def _same_members(self, params: list, grads: list, check_grad) -> bool:
        """Whether the parameters with gradients are the last step's; a new gradient object is checked."""
        members = [p for p, g in zip(params, grads) if g is not None]
        if len(members) != len(self.members) or not all(map(operator.is_, members, self.members)):
            return False
        if len(grads) != len(members):
            grads = [g for g in grads if g is not None]
        for i, (p, g) in enumerate(zip(members, grads)):
            if g is not self.grads[i]:  # a gradient object seen before was checked then
                check_grad(p, g, _position(params, p))
                self.grads[i] = g
        return True

    def run(self) -> None:
        if self.together:
            run_together(self.launches, self.title)
            return
        for la in self.launches:
            la.run()


def _position(params: list, p) -> int:
    return next(j for j, q in enumerate(params) if q is p)


def _changes_in_place(v) -> bool:
    if isinstance(v, (tuple, list)):
        return any(map(_changes_in_place, v))
    return isinstance(v, (torch.Tensor, np.ndarray))
