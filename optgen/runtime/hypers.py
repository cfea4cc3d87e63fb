"""Checking the values a user gives for hyperparameters, before any memory is touched.

A real hyperparameter's value is a finite number inside its domain, or a
schedule: any object with a ``value(t)`` method or a plain callable of ``t``.
Schedules are evaluated on the host once per step, in float64.

The domain of a scheduled value: inside the hyperparameter's domain, or exactly
0 where 0 is an open end of it. A learning rate of 0 at one step (the first step
of a warm-up from zero, the end of a cosine decay) is legitimate and common
(optax's and torch's warm-ups start there); a constant ``lr=0`` is not (it is
almost always a mistake, and "positive" says so); a negative value never is.
Where that is cheap, a schedule is checked over its course when it is given: an
``optgen.schedules`` schedule at its first 1024 steps and on both sides of every
corner of its formula (the shipped ones are monotone between corners, so this
covers every step); a plain callable at ``t = 1`` only. Every value is checked
again at the step that uses it, before anything is written.
"""
from __future__ import annotations

import math
import numbers
import sys
from typing import Any, Mapping

from ..spec import Spec, SpecError


def is_schedule(value: Any) -> bool:
    return hasattr(value, "value") and callable(getattr(value, "value")) or (
        callable(value) and not isinstance(value, (numbers.Number, bool)))


def value_at(value: Any, t: int, spec: Spec | None = None, name: str = "") -> Any:
    """The value a hyperparameter takes at step ``t``: a number, or what its schedule returned.

    A schedule that raises is reported with the hyperparameter and the step; what it
    returns is checked by :func:`check_number` (a non-number is an error there).
    """
    if isinstance(value, numbers.Real):
        return value
    fn = value.value if hasattr(value, "value") and callable(value.value) else value
    try:
        return fn(t)
    except Exception as exc:
        where = f"{spec.source or spec.name}: {spec.name}: " if spec is not None else ""
        raise SpecError(f"{where}the schedule {_short(value)} of {name or 'a hyperparameter'} failed at "
                        f"t={t}: {type(exc).__name__}: {exc}") from exc


def _short(value: Any, limit: int = 60) -> str:
    """``repr`` cut to ``limit`` characters (``10**400`` has 401 digits)."""
    text = repr(value)
    return text if len(text) <= limit else f"{text[:limit - 12]}...({len(text)} chars)"


def zero_is_an_open_end(domain) -> bool:
    return not domain.contains(0.0) and 0.0 in (domain.low, domain.high)


def scheduled_value_allowed(domain, v: float) -> bool:
    """A scheduled value's domain: the hyperparameter's, and 0 where 0 is an open end of it."""
    return domain.contains(v) or (v == 0 and zero_is_an_open_end(domain))


def check_number(spec: Spec, name: str, value: Any, *, context: str = "", scheduled: bool = False) -> float:
    """``value`` as a float, or a :class:`SpecError` naming the spec, the value and its domain."""
    hyper = spec.declarations[name]
    where = f"{spec.source or spec.name}: {spec.name}"
    shown = _short(value)
    if isinstance(value, bool) or not (isinstance(value, numbers.Real) or hasattr(value, "__float__")):
        raise SpecError(f"{where}: {name}={shown}{context} must be a real number "
                        f"(or a schedule returning one), not {type(value).__name__}")
    try:
        v = float(value)  # a numpy or SymPy real, a 0-d array; not a complex
    except (TypeError, ValueError) as exc:
        raise SpecError(f"{where}: {name}={shown}{context} must be a real number, and "
                        f"{type(value).__name__} does not convert to one ({exc})") from None
    except OverflowError:
        raise SpecError(f"{where}: {name}={shown}{context} is too large for a float64 "
                        f"(at most {sys.float_info.max:.4g}); allowed: {hyper.domain.text}") from None
    if not math.isfinite(v):
        raise SpecError(f"{where}: {name}={shown}{context} is not finite")
    if scheduled and not scheduled_value_allowed(hyper.domain, v):
        zero = " (or 0, for a scheduled value)" if zero_is_an_open_end(hyper.domain) else ""
        raise SpecError(f"{where}: {name}={shown}{context} is outside its domain {hyper.domain.text}{zero}")
    if not scheduled and not hyper.domain.contains(v):
        raise SpecError(f"{where}: {name}={shown}{context} is outside its domain {hyper.domain.text}")
    return v


def check_schedule(spec: Spec, name: str, schedule: Any) -> None:
    """Check a schedule where that is cheap (see the module doc): its own ``check_steps()``
    where it has them (``optgen.schedules``), else its value at the first step."""
    steps = schedule.check_steps() if callable(getattr(schedule, "check_steps", None)) else [1]
    for step in steps:
        check_number(spec, name, value_at(schedule, step, spec, name), context=f" (the schedule's value at t={step})",
                     scheduled=True)


def resolve(spec: Spec, given: Mapping[str, Any]) -> tuple[dict[str, bool], dict[str, Any]]:
    """Split ``given`` into build-time options and real hyperparameter values.

    Missing names take their defaults. Unknown names, wrong types, non-finite
    values and values outside a domain raise :class:`SpecError`.
    """
    options = dict(spec.options)
    values: dict[str, Any] = {h.name: h.default for h in spec.declared("hyper")}
    where = f"{spec.source or spec.name}: {spec.name}"
    for name, value in given.items():
        if name in options:
            if spec.declarations[name].factor_min_dim is not None:
                raise SpecError(f"{where}: {name}={value!r} cannot be given: option {name!r} is set per tensor "
                                f"from its shape (optgen.dsl.factored: "
                                f"two or more axes, the last two at least "
                                f"{spec.declarations[name].factor_min_dim} long)")
            if not isinstance(value, (bool,)) and not (hasattr(value, "dtype") and value.dtype == bool):
                raise SpecError(f"{where}: option {name}={value!r} must be True or False")
            options[name] = bool(value)
        elif name in values:
            if is_schedule(value):
                check_schedule(spec, name, value)
                values[name] = value
            else:
                values[name] = check_number(spec, name, value)
        else:
            allowed = sorted([*options, *values])
            raise SpecError(f"{where}: unknown hyperparameter {name!r}; allowed: {', '.join(allowed)}")
    return options, values


def values_at(spec: Spec, values: Mapping[str, Any], t: int) -> dict[str, float]:
    """Every hyperparameter's float at step ``t``; a schedule leaving its domain is an error."""
    out = {}
    for name, value in values.items():
        if type(value) is float:  # the usual case, without isinstance's abc lookup (once per step)
            out[name] = value
        elif isinstance(value, numbers.Real):
            out[name] = float(value)
        else:
            out[name] = check_number(spec, name, value_at(value, t, spec, name),
                                     context=f" (the schedule's value at t={t})", scheduled=True)
    return out


def check_saved(spec: Spec, values: Mapping[str, Any], saved: Any, t: int) -> None:
    """The checks ``create`` makes, on hyperparameters loaded from a state_dict saved at step ``t``.

    A number must be finite and inside its domain (:func:`check_number`); a schedule's value at
    the next step ``t + 1`` must be (a schedule with state is probed on a copy, restored as
    :func:`restore` would restore it). Raises before anything is restored.
    """
    import copy
    where = f"{spec.source or spec.name}: {spec.name}"
    if not isinstance(saved, Mapping):
        raise SpecError(f"{where}: state_dict['hypers'] is {type(saved).__name__}; a dict of "
                        "hyperparameter values is required")
    for name, value in saved.items():
        if name not in values:
            raise SpecError(f"{where}: state_dict has unknown hyperparameter {name!r}; "
                            f"allowed: {', '.join(sorted(values))}")
        context = f" (in the state_dict, saved at t={t})"
        if not is_schedule(value):
            check_number(spec, name, value, context=context)
            continue
        probe = copy.deepcopy(value)
        current = values.get(name)
        if type(current) is type(value) and hasattr(current, "load_state_dict") and hasattr(value, "state_dict"):
            probe = copy.deepcopy(current)
            probe.load_state_dict(value.state_dict())
        check_number(spec, name, value_at(probe, t + 1),
                     context=f" (the schedule's value at t={t + 1}, from the state_dict)")


def restore(values: dict, saved: Mapping[str, Any]) -> None:
    """Load hyperparameter values from a state_dict into ``values``.

    A schedule with state (``state_dict``/``load_state_dict``, e.g.
    ``optgen.schedules.ReduceOnPlateau``) already in ``values`` is restored in place,
    so the object the user holds and reports metrics to stays the one in use;
    anything else is replaced by a copy of the saved value.
    """
    import copy
    for name, value in saved.items():
        current = values.get(name)
        if (type(current) is type(value) and hasattr(current, "load_state_dict")
                and hasattr(value, "state_dict")):
            current.load_state_dict(value.state_dict())
        else:
            values[name] = copy.deepcopy(value)
