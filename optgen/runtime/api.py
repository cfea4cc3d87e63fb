"""``optgen.create``: a spec name (or path) and arrays in, a running optimizer out."""
from __future__ import annotations

from typing import Any, Sequence

from ..registry import load_spec
from . import hypers as hyper_values
from .nonfinite import check_policy

DEVICES = ("cpu", "cuda")


def create(name, params: Sequence, device: str = "cpu", nonfinite: str = "propagate", **given: Any):
    """Build (if needed) and load the kernels of ``name`` and wrap ``params``.

    ``nonfinite`` is what a step does with a NaN or infinite gradient: ``"propagate"``
    (the default: nothing is checked), ``"skip"`` (the step is not applied and is
    counted in ``skipped_steps``) or ``"raise"`` (docs/reliability.md).
    Every check on the hyperparameters runs before any buffer is allocated.

    One array at several positions of ``params`` (tied weights) is one parameter: one
    state, one update per step, with the gradient at its first position (every later
    position must be given the same gradient array); ``state_dict()`` still lists
    states by position, a later position holding a copy. Distinct arrays that overlap
    in memory are refused. ``load_state_dict`` checks the whole checkpoint (the step,
    every state's shape and dtype, the hyperparameters, with the checks made here)
    before it changes anything. See ``optgen/runtime/aliasing.py`` and ``checkpoint.py``.
    """
    spec = load_spec(name)
    check_policy(nonfinite, f"optgen.create({spec.name!r})")
    options, values = hyper_values.resolve(spec, given)
    if device not in DEVICES:
        raise ValueError(f"optgen.create({spec.name!r}): unknown device {device!r}; use one of {DEVICES}")
    # one path for both devices: the launcher checks what its device needs, then loads the module
    if device == "cpu":
        from .cpu import create_cpu as create_on_device
    else:
        from .cuda import create_cuda as create_on_device  # optional: needs numba-cuda
    from ..axes import per_tensor_options
    if per_tensor_options(spec):  # options set per tensor from its shape: one optimizer per set of values
        from .per_tensor import PerTensorOptions
        return PerTensorOptions(spec, params, options, values, nonfinite, create_on_device, device)
    return create_on_device(spec, params, options, values, nonfinite=nonfinite)
