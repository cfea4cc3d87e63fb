"""What every compiled optimizer does the same way, whatever the device.

The host side of a step: hyperparameter values (schedules evaluated) at step t,
the variant chosen by the host conditions, the float64 host stage, and the host
states (scalars such as NAdam's product of momentum factors) carried to the
next step. And checkpoints: the step, the hyperparameters (schedule state
included), the host states; the device runtime adds the per-element states.
"""
from __future__ import annotations

import copy
from typing import Any


from .. import abi
from ..spec import Spec, SpecError
from . import hypers as hyper_values
from .checkpoint import check_checkpoint
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
        self.host_states = {name: 0.0 for name in module.HOST_STATES}
        self.nonfinite = nonfinite_policy.check_policy(nonfinite, where)
        self.skipped_steps = 0  # steps not applied for a non-finite gradient (nonfinite="skip")

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

    def _admit(self, bad: list, grads) -> bool:
        """Whether the step goes ahead, given the indices of the non-finite gradients (the policy)."""
        if not bad:
            return True
        if self.nonfinite == "raise":
            raise nonfinite_policy.NonFiniteGradientError(
                nonfinite_policy.describe(grads[bad[0]], bad[0], self._where))
        self.skipped_steps += 1
        return False

    def _finish_step(self, t: int, host: dict) -> None:
        self.host_states = {name: float(host[new]) for name, new in self.module.HOST_STATES.items()}
        self.t = t

    # -- checkpoints --
    def _checkpoint(self, states: list) -> dict:
        return {"spec": self.spec.name, "t": self.t, "states": states,
                "host_states": dict(self.host_states), "skipped_steps": self.skipped_steps,
                "hypers": copy.deepcopy(self.values), "options": dict(self.options)}

    def _check_checkpoint(self, sd: dict, shapes: list, dtypes: list | None = None) -> list:
        """The per-tensor states of ``sd`` after checking all of it fits; raises before changing anything."""
        states = check_checkpoint(self, sd, shapes, dtypes)
        nonfinite_policy.check_skipped_steps(sd, self._where)
        return states

    def _restore_host_side(self, sd: dict) -> None:
        self.t = int(sd["t"])
        self.skipped_steps = nonfinite_policy.check_skipped_steps(sd, self._where)
        self.host_states.update({k: float(v) for k, v in sd.get("host_states", {}).items()})
        hyper_values.restore(self.values, sd.get("hypers", {}))
