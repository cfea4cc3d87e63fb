"""The ``bound`` claim kind (optgen/verify/claims.py ``Bound``): an iterated map kept in a band.

Hand derivations: p(s) = 3.4445 s - 4.7750 s^3 + 2.0315 s^5 (torch.optim.Muon's quintic) has
p(1) = 0.701 and p(p(1)) = 3.4445 (0.701) - 4.7750 (0.701)^3 + 2.0315 (0.701)^5 = 1.0709...
"""
from __future__ import annotations

import sympy

from optgen.verify import Bound, run

s = sympy.Symbol("s", positive=True)
p = 3.4445 * s - 4.7750 * s**3 + 2.0315 * s**5
P1 = 3.4445 - 4.7750 + 2.0315
P2 = 3.4445 * P1 - 4.7750 * P1**3 + 2.0315 * P1**5


def test_a_band_that_holds_at_one_point():
    r = run(Bound(name="b", expr=p, var=s, interval=(1.0, 1.0), band=(P2 - 1e-12, P2 + 1e-12), iterations=2))
    assert r.holds is True and r.method == "numeric" and "range" in r.how


def test_a_band_that_fails_gives_the_point():
    """p(1) = 0.701 < 0.71: the band fails near s = 1, at a point where p (by hand) is below 0.71."""
    r = run(Bound(name="b", expr=p, var=s, interval=(0.5, 1.0), band=(0.71, 2.0), iterations=1))
    x = r.counterexample["s"]
    assert r.holds is False and 0.9 < x <= 1.0 and "counterexample" in r.how
    by_hand = 3.4445 * x - 4.7750 * x**3 + 2.0315 * x**5
    assert abs(r.values["iterate"] - by_hand) < 1e-12 and by_hand < 0.71
