"""optgen verify: the derivations of the source texts, proved or refuted.

    from optgen.verify import verify
    results = verify()                 # every claim in optgen/specs/derivations/ and in specs
    results = verify(["adam"])         # claims about adam (or named adam, or in adam.py)
    for r in results:
        print(r.claim.name, r.outcome, r.method, r.how)

Modules: :mod:`.claims` (the data model), :mod:`.unroll` (k steps of a spec,
symbolically), :mod:`.oracles` (what the gradient is), :mod:`.prove` (zero tests:
symbolic, else numeric with a counterexample), :mod:`.sums` (induction over sums,
expectations), :mod:`.check` (one checker per kind of claim), :mod:`.report`
(table and Markdown), :mod:`.cli` (``optgen verify``), :mod:`.loader` (finding claims).
"""
from __future__ import annotations

from .claims import (ERROR, FAIL, PASS, XFAIL, XPASS, Claim, ClosedForm, Equivalence, Expectation,
                     Identity, Limit, Result, ScaleInvariance, SolutionSet)
from .check import run
from .loader import load_claims, select
from .oracles import GRAD
from .unroll import Side, W_PREV, unroll

__all__ = ["verify", "run", "load_claims", "select", "Claim", "Equivalence", "ClosedForm", "Identity",
           "Limit", "Expectation", "SolutionSet", "ScaleInvariance", "Result", "Side", "unroll", "GRAD",
           "W_PREV", "PASS", "FAIL", "XFAIL", "XPASS", "ERROR"]


def verify(names=None, steps: int | None = None, claims=None, progress=None) -> list[Result]:
    """Check claims (all, or those selected by ``names``); return one Result each."""
    chosen = select(claims if claims is not None else load_claims(), names)
    out = []
    for n, claim in enumerate(chosen):
        out.append(run(claim, steps))
        if progress:
            progress(n, len(chosen), claim.name)
    return out
