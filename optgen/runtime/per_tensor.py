"""An optimizer whose spec has per-tensor options: one compiled optimizer per set of their values.

A per-tensor option (``optgen.dsl.factored``: Adafactor factors its second moment only for
tensors of two or more axes) is an option like any other, built into kernels of its own for
each value; the runtime sets it for each tensor from its shape when the optimizer is made,
never per element nor per step. The tensors that take one set of values are one compiled
optimizer (``create_cpu``), and :class:`PerTensorOptions` steps them together and keeps one
checkpoint: the step, the hyperparameters (one table, shared), and the states by position,
each tensor with the states of its branch (docs/axis-reductions.md).
"""
from __future__ import annotations

import copy
from typing import Any, Sequence

import numpy as np

from .. import abi
from ..axes import options_for_shape
from ..spec import Spec, SpecError
from . import lockstep, nonfinite as nonfinite_policy
from .checkpoint import check_checkpoint
from .checks import check_grads, check_params


class PerTensorOptions:
    """Same interface as the compiled optimizers: ``step``, ``state_dict``, ``load_state_dict``,
    ``set_hyper``, ``t``, ``hypers``; ``parts`` are ``[(indices, optimizer)]``."""

    def __init__(self, spec: Spec, params: Sequence, options: dict, values: dict, nonfinite: str, create_on_device,
                 device: str = "cpu"):
        self._where = where = f"optgen.create({spec.name!r})"
        self.spec, self.options, self.values, self.device = spec, dict(options), values, device
        nonfinite = nonfinite_policy.check_policy(nonfinite, where)
        if device == "cpu":
            self.params = check_params(params, where)
            part_policy = "propagate"  # the policy on non-finite gradients is this object's: every part steps, or none
        else:  # device arrays: each part's runtime checks its own, and its policy (CUDA: "propagate" only)
            if isinstance(params, np.ndarray) or hasattr(params, "__cuda_array_interface__"):
                raise TypeError(f"{where}: params must be a list of arrays, not one array (wrap it: [w])")
            self.params, part_policy, nonfinite = list(params), nonfinite, "propagate"
        self.nonfinite = nonfinite
        self.skipped_steps = 0
        by_values: dict = {}
        for i, p in enumerate(self.params):
            by_values.setdefault(tuple(sorted(options_for_shape(spec, p.shape).items())), []).append(i)
        self.parts = [(idx, create_on_device(spec, [self.params[i] for i in idx], {**options, **dict(key)},
                                             values, nonfinite=part_policy))
                      for key, idx in by_values.items()]
        #: whether the parts step in lockstep (runtime/lockstep.py): a spec that sums over every
        #: tensor (``clip_by_global_norm(adafactor)``) adds each sum over all of them
        self.together = len(self.parts) > 1 and any(abi.sums_over_all_tensors(opt.module.VARIANTS.values())
                                                     for _, opt in self.parts)
        if self.together:
            lockstep.check_together([opt.module for _, opt in self.parts], spec, where)
        self._all_reduce = None

    @property
    def all_reduce(self):
        """Sharded runs: as a compiled optimizer's ``all_reduce`` (runtime/base.py), called with the
        float64 vector of this process's sums over every tensor, every part's added."""
        return self._all_reduce

    @all_reduce.setter
    def all_reduce(self, fn) -> None:
        self._all_reduce = fn
        for _, opt in self.parts:  # a part stepped alone calls its own
            opt.all_reduce = fn

    @property
    def t(self) -> int:
        return self.parts[0][1].t

    @property
    def hypers(self) -> dict:
        return {**self.values, **self.options}

    def set_hyper(self, name: str, value: Any) -> None:
        for _, opt in self.parts:  # one table of values, shared: the first sets it, each checks it
            opt.set_hyper(name, value)

    def step(self, grads: Sequence, **device_args) -> None:
        """One step of every part; ``device_args``: what the device's step takes besides (CUDA: ``stream``)."""
        if self.device == "cpu":
            grads = check_grads(grads, self.params, self._where)
        else:
            grads = list(grads)
            if len(grads) != len(self.params):
                raise ValueError(f"{self._where}: got {len(grads)} gradients for {len(self.params)} parameters")
        if self.nonfinite != "propagate":
            bad = [i for i, gr in enumerate(grads) if not np.all(np.isfinite(gr))]
            if bad:
                if self.nonfinite == "raise":
                    raise nonfinite_policy.NonFiniteGradientError(
                        nonfinite_policy.describe(grads[bad[0]], bad[0], self._where))
                self.skipped_steps += 1
                return
        if not self.together:
            for idx, opt in self.parts:
                opt.step([grads[i] for i in idx], **device_args)
            return
        lockstep.step_together([opt for _, opt in self.parts],
                               lambda: [opt.passes([grads[i] for i in idx], **device_args) for idx, opt in self.parts],
                               self.all_reduce, self._where, on_cpu=self.device == "cpu")

    def state_dict(self) -> dict:
        states: list = [None] * len(self.params)
        for idx, opt in self.parts:
            for i, st in zip(idx, opt.state_dict()["states"]):
                states[i] = st
        first = self.parts[0][1].state_dict()
        return {"spec": self.spec.name, "t": self.t, "states": states, "host_states": first["host_states"],
                "skipped_steps": self.skipped_steps, "hypers": copy.deepcopy(self.values),
                "options": dict(self.options)}

    def _part_dict(self, sd: dict, idx: list, opt) -> dict:
        states = sd.get("states")
        if not isinstance(states, (list, tuple)) or len(states) != len(self.params):
            raise ValueError(f"{self._where}: state_dict['states'] must be a list with one dict per tensor "
                             f"({len(self.params)})")
        return {**sd, "states": [states[i] for i in idx], "options": opt.options, "skipped_steps": 0}

    def load_state_dict(self, sd: dict) -> None:
        """Checks every part's share first (runtime/checkpoint.py); changes nothing unless all of it fits."""
        if not isinstance(sd, dict):
            raise TypeError(f"{self._where}: load_state_dict needs the dict state_dict() returns")
        if dict(sd.get("options", self.options)) != self.options:
            raise SpecError(f"{self._where}: state_dict has options {sd['options']}, this optimizer {self.options}")
        skipped = nonfinite_policy.check_skipped_steps(sd, self._where)
        parts = [(opt, self._part_dict(sd, idx, opt)) for idx, opt in self.parts]
        for opt, part in parts:
            check_checkpoint(opt, part, opt._shapes, opt._dtypes)
        for opt, part in parts:
            opt.load_state_dict(part)
        self.skipped_steps = skipped


__all__ = ["PerTensorOptions"]
