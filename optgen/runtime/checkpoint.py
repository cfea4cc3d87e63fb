"""Checking a state_dict before ``load_state_dict`` changes anything.

Loading is all or nothing: every part of the checkpoint is checked first — the
spec and options it is for, the per-tensor states (present, of the parameter's
shape *and dtype*: a float64 state is not silently rounded into a float32
optimizer), the step ``t`` (an integer >= 0: ``2.7`` is not truncated), the
host states, and the hyperparameters, with the very checks ``create`` makes
(:func:`optgen.runtime.hypers.check_saved`) — and only then is anything written.
"""
from __future__ import annotations

import math
import numbers
from typing import Mapping

import numpy as np

from ..axes import reduced_shape
from ..spec import SpecError
from . import hypers as hyper_values


def check_checkpoint(opt, sd, shapes: list, dtypes: list | None = None) -> list:
    """The per-tensor states of ``sd`` once all of ``sd`` is known to fit ``opt``; raises otherwise."""
    where = opt._where
    if not isinstance(sd, Mapping):
        raise TypeError(f"{where}: load_state_dict needs the dict state_dict() returns, not {type(sd).__name__}")
    if sd.get("spec", opt.spec.name) != opt.spec.name:
        raise SpecError(f"{where}: state_dict is for {sd['spec']!r}")
    if dict(sd.get("options", opt.options)) != opt.options:
        raise SpecError(f"{where}: state_dict has options {sd['options']}, this optimizer {opt.options}")
    t = _check_step(sd, where)
    states = _check_states(sd, opt.states, shapes, dtypes, where)
    for kind in ("row", "col"):  # states of a reduced shape (docs/axis-reductions.md)
        names = [s for s, (k, _) in getattr(opt, "axis_states", {}).items() if k == kind]
        if names:
            _check_states(sd, names, [reduced_shape(shape, kind) for shape in shapes], dtypes, where)
    _check_host_states(sd, opt.host_states, t, where)
    hyper_values.check_saved(opt.spec, opt.values, sd.get("hypers", {}), t)
    return states


def _check_step(sd: Mapping, where: str) -> int:
    if "t" not in sd:
        raise ValueError(f"{where}: state_dict lacks the step 't'")
    t = sd["t"]
    whole = isinstance(t, numbers.Integral) or (isinstance(t, numbers.Real) and math.isfinite(t)
                                                 and float(t).is_integer())
    if isinstance(t, bool) or not whole or t < 0:
        raise ValueError(f"{where}: state_dict has t={t!r}; the step must be a whole number >= 0")
    return int(t)


def _check_states(sd: Mapping, names: list, shapes: list, dtypes, where: str) -> list:
    states = sd.get("states")
    if not isinstance(states, (list, tuple)):
        raise ValueError(f"{where}: state_dict['states'] must be a list with one dict per tensor, "
                         f"not {type(states).__name__}")
    if len(states) != len(shapes):
        raise ValueError(f"{where}: state_dict has {len(states)} tensors, optimizer has {len(shapes)}")
    for i, (st, shape) in enumerate(zip(states, shapes)):
        if not isinstance(st, Mapping):
            raise ValueError(f"{where}: state_dict tensor {i} is {type(st).__name__}, not a dict of states")
        for s in names:
            if s not in st or tuple(np.shape(st[s])) != tuple(shape):
                raise ValueError(f"{where}: state_dict tensor {i} lacks state {s!r} of shape {shape}")
            if dtypes is not None and np.asarray(st[s]).dtype != np.dtype(dtypes[i]):
                raise TypeError(f"{where}: state_dict tensor {i} state {s!r} has dtype "
                                f"{np.asarray(st[s]).dtype}; params[{i}] is {np.dtype(dtypes[i])} and states "
                                "are loaded as saved, not cast (convert it yourself if you mean to)")
    return states


def _check_host_states(sd: Mapping, host_states: dict, t: int, where: str) -> None:
    saved = sd.get("host_states", {})
    if not isinstance(saved, Mapping):
        raise ValueError(f"{where}: state_dict['host_states'] must be a dict, not {type(saved).__name__}")
    unknown = set(saved) - set(host_states)
    if unknown:
        raise ValueError(f"{where}: state_dict has unknown host state(s) {sorted(unknown)}; "
                         f"this optimizer has {sorted(host_states) or 'none'}")
    missing = set(host_states) - set(saved)
    if missing and t > 0:
        raise ValueError(f"{where}: state_dict lacks host state(s) {sorted(missing)}")
    for name, value in saved.items():
        if isinstance(value, bool) or not isinstance(value, numbers.Real) or not math.isfinite(value):
            raise ValueError(f"{where}: state_dict host state {name}={value!r} must be a finite real number")
