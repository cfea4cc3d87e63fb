"""A LAMB-shaped test spec (You et al., 2019, arXiv:1904.00962): per-tensor norms, a trust ratio,
two passes over memory. Exercises the CUDA target's block partial sums and finishing kernel
whatever specs/ holds."""
from optgen.dsl import Spec, hyper, state, var, when, w, g, t, sqrt, norm, exp, log, Abs

lr = hyper("lr", 1e-2, domain="positive")
beta1 = hyper("beta1", 0.9, domain="[0, 1)")
beta2 = hyper("beta2", 0.999, domain="[0, 1)")
eps = hyper("eps", 1e-6, domain="positive")
wd = hyper("weight_decay", 0.01, domain="nonnegative")
m, v = state("m", 0), state("v", 0)
u, r, wn, un = var("u"), var("r"), var("wn"), var("un")

spec = Spec("lamb_like", [
    (m, beta1 * m + (1 - beta1) * g),
    (v, beta2 * v + (1 - beta2) * g**2),
    (u, m / (1 - beta1**t) / (sqrt(v / (1 - beta2**t)) + eps) + wd * w),
    (wn, norm(w)),
    (un, norm(u)),
    (r, when(wn > 0, when(un > 0, wn / un, 1), 1)),
    (w, w - lr * r * u),
], doc="LAMB-shaped test spec.")
