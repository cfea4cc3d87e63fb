"""A host scalar that overflows the dtype of the kernel it is passed to is an error.

The host stage computes in float64 and hands its scalars to each pass as the
kernel's dtype: ``lr=1e300`` (or ``-lr/(1 - beta1**t)`` of a large lr) became
``float32(-inf)`` and turned every float32 parameter into -inf without a word.
The scalars a step passes are checked before any kernel runs: at create time for
step 1 (constants), and at every step (a schedule's value at that step). A value
that is already inf or NaN in float64 is not this check's business: it is a
branch the kernel does not take (a host condition), or a hyperparameter check's.
"""
from __future__ import annotations

import math
import numbers

import numpy as np

from ..spec import SpecError
from . import hypers as hyper_values

FLOAT32 = np.dtype(np.float32)
_FLOAT32_MAX = float(np.finfo(np.float32).max)


def overflowing_scalar(variant, host: dict, dtypes) -> tuple[str, float] | None:
    """(name, value) of the first host scalar of the step that float32 cannot hold, if a float32 group runs."""
    if FLOAT32 not in dtypes:
        return None  # float64 kernels get the host's float64 values as they are
    names = _host_args(variant)
    if not names or max(map(math.fabs, map(host.__getitem__, names))) <= _FLOAT32_MAX:
        return None  # every step but a failing one: one comparison (NaN compares false: no overflow)
    for name in names:
        v = float(host[name])
        if abs(v) > _FLOAT32_MAX and math.isfinite(v):
            with np.errstate(over="ignore"):
                if math.isinf(np.float32(v)):  # not merely rounding down to the maximum
                    return name, v
    return None


_HOST_ARGS: dict = {}  # id(variant) -> (variant, its passes' host arguments in order, each once)


def _host_args(variant) -> tuple[str, ...]:
    known = _HOST_ARGS.get(id(variant))
    if known is None or known[0] is not variant:
        known = _HOST_ARGS[id(variant)] = (variant, tuple(dict.fromkeys(n for p in variant.passes for n in p.host_args)))
    return known[1]


def _hypers_behind(name: str, host_pairs: dict, hyper_names: set) -> list[str]:
    """The hyperparameters a host value is computed from (through other host values)."""
    seen, stack, out = set(), [name], set()
    while stack:
        s = stack.pop()
        if s in seen:
            continue
        seen.add(s)
        if s in hyper_names:
            out.add(s)
        elif s in host_pairs:
            stack += [f.name for f in host_pairs[s].free_symbols]
    return sorted(out)


def overflow_error(opt, variant, name: str, value: float, t: int) -> SpecError:
    """The error for host scalar ``name`` = ``value`` at step ``t``: which hyperparameters, which formula."""
    from ..compiler import compile_spec  # the error path only: the expressions of the host values
    key = next(k for k, v in opt.module.VARIANTS.items() if v is variant)
    host_pairs = {s.name: e for s, e in compile_spec(opt.spec, opt.options, "cpu").variants[key].host}
    hypers = {h.name for h in opt.spec.hyper_symbols}
    behind = _hypers_behind(name, host_pairs, hypers)
    at_t = hyper_values.values_at(opt.spec, opt.values, t)
    given = ", ".join(f"{h}={at_t[h]!r}" + ("" if isinstance(opt.values[h], numbers.Real)
                                            else f" (its schedule at step {t})") for h in behind)
    formula = f"{name} = {host_pairs[name]}" if name in host_pairs else name  # a hyperparameter itself
    return SpecError(
        f"{opt._where}: at step {t}, {given or name} gives the float32 kernels {formula} = {value:.6g}, "
        f"beyond the float32 range (±{_FLOAT32_MAX:.6g}) of float32 parameters: they would become inf or NaN. "
        "Use a smaller value (or float64 parameters); nothing was changed")


def check_scalars_fit(opt, t: int, variant: dict, host: dict, dtypes) -> None:
    """Raise before any kernel runs if a host scalar of step ``t`` overflows a kernel's dtype."""
    bad = overflowing_scalar(variant, host, dtypes)
    if bad is not None:
        raise overflow_error(opt, variant, *bad, t)
