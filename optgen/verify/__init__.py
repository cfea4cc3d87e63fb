"""optgen verify: the derivations of the source texts, proved or refuted.

    from optgen.verify import verify
    results = verify()                 # every claim in optgen/specs/derivations/ and in specs
    results = verify(["adam"])         # claims about adam (or named adam, or in adam.py)
    print(format_results(results))     # the table, what failed and why, a summary
    print(results[0])                  # one result: what was found, with any counterexample

Modules: :mod:`.claims` (the data model), :mod:`.unroll` (k steps of a spec,
symbolically), :mod:`.oracles` (what the gradient is), :mod:`.prove` (zero tests:
symbolic, else numeric with a counterexample), :mod:`.sums` (induction over sums,
expectations), :mod:`.check` (one checker per kind of claim), :mod:`.report`
(table and Markdown), :mod:`.cli` (``optgen verify``), :mod:`.loader` (finding claims).
"""
from __future__ import annotations

from .claims import (ERROR, FAIL, PASS, XFAIL, XPASS, Claim, ClosedForm, Equivalence, Expectation,
                     Identity, Limit, Result, ScaleInvariance, SolutionSet, Bound)
from .check import run
from .loader import claims_for, load_claims, select, target_dirs
from .report import format_results
from .oracles import GRAD
from .unroll import Side, W_PREV, unroll

__all__ = ["verify", "format_results", "run", "load_claims", "claims_for", "select", "Claim", "Equivalence", "ClosedForm", "Identity",
           "Limit", "Expectation", "SolutionSet", "ScaleInvariance", "Bound", "Result", "Side", "unroll", "GRAD",
           "W_PREV", "PASS", "FAIL", "XFAIL", "XPASS", "ERROR"]


def verify(names=None, steps: int | None = None, claims=None, progress=None) -> list[Result]:
    """Check claims (all, or those selected by ``names``: names or paths, as ``optgen verify``
    takes them); return one Result each. ``print(format_results(results))`` shows them."""
    from ..registry import search_path
    with search_path(*target_dirs(names)):
        chosen = select(claims, names) if claims is not None else claims_for(names)
        out = []
        for n, claim in enumerate(chosen):
            out.append(run(claim, steps))
            if progress:
                progress(n, len(chosen), claim.name)
    return out
