"""What a failed or decided check reports: shared by the claim checkers in ``check`` and ``check_formulas``."""
from __future__ import annotations

import collections

import sympy

from . import claims as C
from .prove import display
from .symbols import Sampler

N_POINTS = 4        # random points per numeric check


def summary(hows: list[str]) -> str:
    counts = collections.Counter(hows)
    return ", ".join(f"{h} x{n}" if n > 1 else h for h, n in counts.items())


def failure(claim, proof, where: str, step=None, diff=None, values=None) -> C.Result:
    return C.Result(claim, False, proof.method, proof.how, detail=where,
                    counterexample={str(k): v for k, v in (proof.counterexample or {}).items()},
                    first_step=step, difference=display(diff) if diff is not None else None,
                    values=values)


def values_at(sampler_values: dict, **exprs) -> dict:
    out = {}
    for key, e in exprs.items():
        try:
            s = Sampler(fixed=sampler_values)
            out[key] = s.evaluate(e)
        except Exception:  # a side undefined at that point: say so rather than fail the report
            out[key] = sympy.nan
    return out


def full_values(samplers, cex: dict | None) -> dict:
    """All values of the sampler that produced ``cex`` (so both sides can be evaluated)."""
    for s in samplers:
        if cex and all(s.values.get(k) == v for k, v in cex.items()):
            return dict(s.values)
    return dict(cex or {})
