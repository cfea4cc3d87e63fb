"""Derivations about Muon's Newton–Schulz iteration (specs/muon.py, optgen/matrix.py).

One step X <- a X + (b A + c A^2) X with A = X X^T acts on each singular value s of X
alone (X = U S V^T gives A = U S^2 U^T and the step U (a S + b S^3 + c S^5) V^T), so the
iteration is the scalar odd quintic p(s) = a s + b s^3 + c s^5, iterated. After the
normalisation by the Frobenius norm every singular value is in (0, 1]. torch's
coefficients (3.4445, -4.7750, 2.0315) maximise the slope at zero rather than converge
to 1: after 5 steps the values lie in a band around 1, not at it (torch's docstring:
"S'_ii ~ Uniform(0.5, 1.5)"). The band is checked numerically on the scalar iteration
(dense grids of [0.002, 1]); a symbolic bound on a polynomial of degree 5^5 is out of reach.
"""
import sympy

from optgen.verify import Bound

s = sympy.Symbol("s", positive=True)
a, b, c = 3.4445, -4.7750, 2.0315   # torch.optim.Muon's ns_coefficients
quintic = a * s + b * s**3 + c * s**5

claims = [
    Bound(
        name="muon_newton_schulz_band", about=("muon",), source="torch.optim.Muon (_zeropower_via_newtonschulz)",
        statement="5 steps of p(s) = 3.4445 s - 4.7750 s^3 + 2.0315 s^5 map every singular value in "
                  "[0.002, 1] into [0.68, 1.21]",
        latex=r"s \in [0.002, 1] \Rightarrow p^{5}(s) \in [0.68, 1.21],\ p(s) = 3.4445 s - 4.7750 s^3 + 2.0315 s^5",
        expr=quintic, var=s, interval=(0.002, 1.0), band=(0.68, 1.21), iterations=5),
    Bound(
        name="muon_newton_schulz_not_to_one", about=("muon",), source="torch.optim.Muon's docstring",
        statement="5 steps bring every singular value in [0.002, 1] to within 5% of 1 (they do not: "
                  "the coefficients trade convergence for slope at zero)",
        latex=r"s \in [0.002, 1] \Rightarrow p^{5}(s) \in [0.95, 1.05]",
        xfail="the quintic overshoots: p^5 spans about [0.68, 1.20], not [0.95, 1.05]",
        expr=quintic, var=s, interval=(0.002, 1.0), band=(0.95, 1.05), iterations=5),
]
