"""What every compiled optimizer does the same way, whatever the device.

The host side of a step: hyperparameter values (schedules evaluated) at step t,
the variant chosen by the host conditions, the float64 host stage and its check
against float32 kernels, and the host states (scalars such as NAdam's product
of momentum factors) carried to the next step. The placement of the parameters:
tied weights (one state and one update at the first position) and the dtype
groups, one launch per pass each. And checkpoints, whole: the step, the
hyperparameters (schedule state included), the host states and the per-element
states, checked before anything changes.

A device runtime (``cpu.py``, ``cuda.py``) is what is left: its array checks,
its groups' buffers (the user's arrays and numpy states on the CPU, device
buffers on the GPU), the launch of a pass, and two hooks by which a checkpoint
reads and writes one tensor's state (:meth:`CompiledOptimizer._read_state`,
:meth:`CompiledOptimizer._write_state`).
"""
from __future__ import annotations

import copy
from typing import Any

import numpy as np

from .. import abi
from ..spec import Spec, SpecError
from . import aliasing
from . import hypers as hyper_values
from .checkpoint import check_checkpoint
from .fits import check_scalars_fit
from . import nonfinite as nonfinite_policy


class CompiledOptimizer:
    """Base of the CPU and CUDA runtimes: host stage, hyperparameters, checkpoints."""

    device = "?"

    def __init__(self, spec: Spec, module, options: dict, values: dict, where: str,
                 nonfinite: str = "propagate"):
        self.spec = spec
        self.module = module
        self.options = options
        self.values = values
        self._where = where
        self.t = 0
        self.states = list(module.STATES)
        #: states of a reduced shape (one value per row or column): name -> (kind, its new value's name)
        self.axis_states = dict(abi.axis_states(module))
        self.host_states = {name: 0.0 for name in module.HOST_STATES}
        self._precompiler = None  # the background compile of what the run reaches (runtime/precompile.py)
        self.nonfinite = nonfinite_policy.check_policy(nonfinite, where)
        self.skipped_steps = 0  # steps not applied for a non-finite gradient (nonfinite="skip")
        #: sharded runs: a function that adds a step's sums over every tensor (``global_sum``) across
        #: processes, called between the pass that sums them and their first use (the device's
        #: ``global_sums``); None: this process holds every tensor
        self.all_reduce = None

    # -- hyperparameters --
    @property
    def hypers(self) -> dict:
        return {**self.values, **self.options}

    def set_hyper(self, name: str, value: Any) -> None:
        """Change a real hyperparameter (or give it a schedule) between steps."""
        if name in self.options:
            raise SpecError(f"{self._where}: {name} is a build-time option; create a new optimizer to change it")
        _, new = hyper_values.resolve(self.spec, {name: value})
        self.values[name] = new[name]

    # -- the host side of a step --
    def _variant(self, t: int) -> tuple[abi.Variant, dict]:
        """(variant, host-stage inputs) of step ``t``: the host conditions decide the variant."""
        inputs = {**hyper_values.values_at(self.spec, self.values, t), **self.host_states}
        return self.module.VARIANTS[self.module.select_variant(t, inputs)], inputs

    def _host_stage(self, t: int) -> tuple[abi.Variant, dict]:
        """(variant, host values) of step ``t``: conditions and scalars, once per step."""
        variant, inputs = self._variant(t)
        return variant, variant.host(t, inputs)

    def _begin_step(self) -> tuple[int, abi.Variant, dict]:
        """(t, variant, host values) of the next step, the host values checked against the kernels' dtypes."""
        t = self.t + 1
        variant, host = self._host_stage(t)
        check_scalars_fit(self, t, variant, host, self._kernel_dtypes)
        return t, variant, host

    # -- placement --
    def _place(self, shapes, dtypes, ranges) -> list[tuple[np.dtype, list[int]]]:
        """``[(dtype, parameter indices)]``: the groups, one launch per pass each, after what every
        device checks before it allocates a buffer: that the step's constant host values fit
        the kernels' dtypes, and which positions are tied weights (runtime/aliasing.py; ``ranges``
        are the parameters' memory ranges on their device)."""
        self._shapes, self._dtypes = [tuple(s) for s in shapes], [np.dtype(d) for d in dtypes]
        self._kernel_dtypes = set(self._dtypes)
        check_scalars_fit(self, 1, *self._host_stage(1), self._kernel_dtypes)  # constants: before any buffer
        self._tied = aliasing.duplicates(aliasing.first_positions(ranges, self._where))
        later = {j for j, _ in self._tied}
        by_dtype: dict = {}
        for i, dt in enumerate(self._dtypes):
            if i not in later:
                by_dtype.setdefault(dt, []).append(i)
        return list(by_dtype.items())

    def _admit(self, bad: list, grads) -> bool:
        """Whether the step goes ahead, given the indices of the non-finite gradients (the policy)."""
        if not bad:
            return True
        if self.nonfinite == "raise":
            raise nonfinite_policy.NonFiniteGradientError(
                nonfinite_policy.describe(grads[bad[0]], bad[0], self._where))
        self.skipped_steps += 1
        return False

    def _finish_step(self, t: int, host: dict, first_tensors: dict | None = None) -> None:
        """Step ``t`` done: the host states from the host values ``host`` or, for one made of sums
        over every tensor (Prodigy's d), from the first group's per-tensor values ``first_tensors``."""
        if self.module.HOST_STATES:
            found = host if first_tensors is None else {**first_tensors, **host}
            # a host state made of sums over every tensor is the same for every tensor: any one's value
            self.host_states = {name: float(np.asarray(found[new]).flat[0])
                                for name, new in self.module.HOST_STATES.items()}
        self.t = t

    # -- checkpoints --
    def _read_state(self, group, k: int, state: str) -> np.ndarray:
        """A host copy of state ``state`` of the group's ``k``-th tensor, flat (the device's hook)."""
        raise NotImplementedError

    def _write_state(self, group, k: int, state: str, values: np.ndarray) -> None:
        """Set state ``state`` of the group's ``k``-th tensor from flat host ``values`` (the device's hook)."""
        raise NotImplementedError

    def _synchronize(self) -> None:
        """Wait for launched work before states are read or written (a no-op where launches are synchronous)."""

    def state_dict(self) -> dict:
        """Everything needed to resume bit-identically: step, states (host arrays), host states, hyperparameters."""
        self._synchronize()
        states: list[dict] = [{} for _ in self._shapes]
        for gr in self.groups:
            for k, i in enumerate(gr.indices):
                for s in self.states:
                    states[i][s] = self._read_state(gr, k, s).reshape(self._shapes[i])
                for s in self.axis_states:  # the group's own buffers (runtime/axes.py), of the reduced shape
                    states[i][s] = gr.axes.view(s, k).copy().reshape(gr.axes.state_shape(s, k))
        aliasing.copy_tied_states(states, self._tied)
        return {"spec": self.spec.name, "t": self.t, "states": states,
                "host_states": dict(self.host_states), "skipped_steps": self.skipped_steps,
                "hypers": copy.deepcopy(self.values), "options": dict(self.options)}

    def load_state_dict(self, sd: dict) -> None:
        """Checks everything in ``sd`` first (runtime/checkpoint.py); changes nothing unless all of it fits."""
        states = check_checkpoint(self, sd, self._shapes, self._dtypes)
        nonfinite_policy.check_skipped_steps(sd, self._where)
        aliasing.check_tied_states(states, self._tied, self.states, self._where)
        self._synchronize()
        for gr in self.groups:
            for k, i in enumerate(gr.indices):
                for s in self.states:
                    self._write_state(gr, k, s, np.asarray(states[i][s]).reshape(-1))
        self.write_axis_states(states)
        self._restore_host_side(sd)

    def _place_axes(self, shapes: list, states) -> None:
        """Each group's rows and columns (``gr.axes``, runtime/axes.py), for a module with axis
        reductions; a tensor of fewer than two axes is refused, naming the equation that reduces
        over one. ``states``: the caller's first values of the reduced-shape states, or None."""
        passes = [p for v in self.module.VARIANTS.values() for p in v.passes]
        if not (self.axis_states or any(p.uses_axes for p in passes)):
            return
        from ..axes import check_axes
        from .axes import AxisTable
        resolved = self.spec.resolve(**self.options)
        for i, shape in enumerate(shapes):
            check_axes(resolved, shape, f"{self._where}: params[{i}]")
        n_means = max((len(p.axis_reductions) for p in passes), default=0)
        n_reductions = max(abi.max_reductions(self.module.VARIANTS.values()), 1)
        for gr in self.groups:
            gr.axes = AxisTable([shapes[i] for i in gr.indices], gr.dtype, n_reductions, n_means,
                                self.axis_states, None if states is None else [states[i] for i in gr.indices])

    def _compiled_for_the_run(self) -> None:
        """At the end of a step: once the precompiler is done, no later step waits for a compile."""
        if self._precompiler is not None:
            self._precompiler.wait()
            self._precompiler = None

    def _axis_loops(self) -> list:
        """The rows' and columns' own compiled loops, for the precompiler, if a group has axes."""
        from .axes import AxisTable
        return AxisTable.compiled_loops() if any(gr.axes is not None for gr in self.groups) else []

    def write_axis_states(self, states) -> None:
        """Set the reduced-shape states (the groups' own buffers, runtime/axes.py) from ``states[i][name]``."""
        for gr, k, i, s in self._axis_state_places():
            gr.axes.view(s, k)[...] = np.asarray(states[i][s]).reshape(-1)

    def read_axis_states(self, states) -> None:
        """Copy the reduced-shape states into the arrays ``states[i][name]`` (flat, of that size)."""
        for gr, k, i, s in self._axis_state_places():
            states[i][s][...] = gr.axes.view(s, k)

    def _axis_state_places(self):
        return [(gr, k, i, s) for gr in self.groups if self.axis_states
                for k, i in enumerate(gr.indices) for s in self.axis_states]

    def _restore_host_side(self, sd: dict) -> None:
        self.t = int(sd["t"])
        self.skipped_steps = nonfinite_policy.check_skipped_steps(sd, self._where)
        self.host_states.update({k: float(v) for k, v in sd.get("host_states", {}).items()})
        hyper_values.restore(self.values, sd.get("hypers", {}))
