"""Prodigy: AdamW whose learning rate d is estimated from the run itself, in optax.contrib.prodigy's form.

Mishchenko & Defazio (2024), "Prodigy: An Expeditiously Adaptive Parameter-Free
Learner", ICML, arXiv:2306.06101. As ``optax.contrib.prodigy`` (defaults lr 1,
betas (0.9, 0.999), beta3 = sqrt(beta2), eps 1e-8, d0 = estim_lr0 = 1e-6,
d_coef = estim_lr_coef = 1, weight_decay 0, safeguard_warmup off). With
b_t = sqrt(1 - beta2^t) / (1 - beta1^t), d the current estimate and w0 the first
parameters::

    dlr = d lr b_t;   dg = d g
    m = beta1 m + (1 - beta1) dg;   v = beta2 v + (1 - beta2) dg^2
    s = beta3 s + (d if safeguard_warmup else dlr) dg / d0
    r = beta3 r + (d / d0) dlr <g, w0 - w>           (a dot product over every tensor)
    d = max(d, d_coef r / sum |s|)                    (a sum over every tensor)
    w = w - weight_decay dlr w - dlr m / (sqrt(v) + d eps)

d and r are scalars of the whole optimizer, kept by the runtime like NAdam's
product of momentum factors, though their new values exist only after a pass over
every tensor. Two passes: pass 0 updates m, v, s and sums g (w0 - w) and |s|; d and
r are formed once; pass 1 writes w (it reads the new d). lr is the schedule's
multiplier (optax recommends 1 with a warm-up and decay to 0).
"""
from optgen.dsl import Abs, Max, Spec, g, global_sum, hyper, option, sqrt, state, t, var, w, when

lr = hyper("lr", 1.0, latex=r"\eta", domain="nonnegative", doc="multiplier of the estimated step size (a schedule)")
beta1 = hyper("beta1", 0.9, latex=r"\beta_1", domain="[0, 1)", doc="decay of the first moment")
beta2 = hyper("beta2", 0.999, latex=r"\beta_2", domain="[0, 1)", doc="decay of the second moment")
beta3 = hyper("beta3", 0.999 ** 0.5, latex=r"\beta_3", domain="[0, 1)",
              doc="decay of the estimate's sums (optax: sqrt(beta2) when not given)")
eps = hyper("eps", 1e-8, latex=r"\epsilon", domain="positive", doc="added to sqrt(v), scaled by d")
d0 = hyper("d0", 1e-6, latex=r"d_0", domain="positive", doc="initial (under-)estimate of the step size")
d_coef = hyper("d_coef", 1.0, latex=r"c_d", domain="positive", doc="the estimates are multiplied by this")
weight_decay = hyper("weight_decay", 0.0, latex=r"\lambda", domain="nonnegative", doc="decoupled weight decay")
safeguard_warmup = option("safeguard_warmup", False, doc="leave lr out of s's update (for warm-up schedules)")

m, v, s = state("m", 0), state("v", 0), state("s", 0, doc="weighted sum of the scaled gradients")
w0 = state("w0", w, latex=r"w_0", doc="the parameters at the first step")
d = state("d", d0, latex="d", doc="the step-size estimate (a scalar of the whole optimizer)")
r = state("r", 0, latex="r", doc="the estimate's weighted numerator (a scalar of the whole optimizer)")
dlr, dg, d_new = var("dlr"), var("dg"), var("d_new")

spec = Spec("prodigy", [
    (dlr, d * lr * sqrt(1 - beta2**t) / (1 - beta1**t)),
    (dg, d * g),
    (r, beta3 * r + (d / d0) * dlr * global_sum(g * (w0 - w))),
    (m, beta1 * m + (1 - beta1) * dg),
    (v, beta2 * v + (1 - beta2) * dg**2),
    (s, beta3 * s + when(safeguard_warmup, d, dlr) * dg / d0),
    (d_new, Max(d, d_coef * r / global_sum(Abs(s)))),
    (w, w - weight_decay * dlr * w - dlr * m / (sqrt(v) + d_new * eps)),
    (d, d_new),
], doc="Prodigy: AdamW with a step size estimated from the run (optax.contrib.prodigy's form).",
   references=["Mishchenko & Defazio 2024, ICML, arXiv:2306.06101", "optax.contrib.prodigy"])
