"""A test spec that uses every function a spec may use, per element: the CUDA printer must keep
float32 kernels free of float64 (exp, log, sqrt, powers, Abs, Max, Min, sign, floor, Mod,
comparisons, a host-decided branch and a per-element branch). Not an optimizer anyone should use."""
from optgen.dsl import Spec, hyper, state, var, when, w, g, t, sqrt, exp, log, Abs, Max, Min, sign, Mod, Rational
from sympy import floor, ceiling

lr = hyper("lr", 1e-2, domain="positive")
beta = hyper("beta", 0.9, domain="[0, 1)")
kappa = hyper("kappa", 3.0, domain="positive")
m = state("m", init=Abs(g))          # a non-zero init: a t == 1 variant
s = state("s", 0)
a, b, c = var("a"), var("b"), var("c")

spec = Spec("mathy", [
    (m, beta * m + (1 - beta) * Abs(g)),
    (a, exp(-Abs(g)) + log(1 + g**2) + sqrt(m + 1) + (m + 1)**Rational(3, 2) + 1 / sqrt(m + 2)),
    (b, Max(g, -1) + Min(g, 1) + sign(g) * Rational(1, 4) + floor(4 * w) / 8 - ceiling(2 * w) / 16
        + Mod(w, 1) / 4 + (m + 1)**kappa / 10),
    (c, when(g > 0, a, b) + when(Mod(t, 2) > 0, w / 8, -w / 8)),
    (s, beta * s + (1 - beta) * c),
    (w, w - lr * s / (1 + Abs(s))),
], doc="Every function, for the printers.")
