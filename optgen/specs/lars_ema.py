"""LARS with the momentum as an exponential moving average, in the blog post's form.

You, Gitman & Ginsburg (2017), arXiv:1708.03888, as written in the blog post
the blog post 'Some Deep Learning Optimizers', per tensor l::

    m = beta1 m + (1 - beta1) (g + delta w)
    lambda = tc ||w|| / (||g|| + delta ||w|| + eps)    (1 where ||w|| = 0 or ||g|| = 0)
    w = w - lr lambda m

The seed writes lambda "proportional to" ||w|| / (||g|| + delta ||w||): the trust
coefficient tc is that constant and eps guards the denominator, as in objax's
LARS (``specs/lars.py``), whose momentum instead accumulates lr lambda (g + delta w)
with weight 1. Here m accumulates the raw decayed gradient and the current
step's lambda scales it.
"""
from optgen.dsl import Spec, hyper, state, var, when, w, g, norm, Eq

lr = hyper("lr", 0.1, latex=r"\eta", domain="positive", doc="global learning rate")
beta1 = hyper("beta1", 0.9, latex=r"\beta_1", domain="[0, 1)", doc="decay of the momentum EMA")
weight_decay = hyper("weight_decay", 1e-4, latex=r"\delta", domain="nonnegative", doc="weight decay")
tc = hyper("trust_coefficient", 1e-3, latex=r"\kappa", domain="positive", doc="trust coefficient")
eps = hyper("eps", 1e-5, latex=r"\epsilon", domain="nonnegative", doc="added to the ratio's denominator")

m = state("m", 0, doc="EMA of the decayed gradient")
w_norm, g_norm, ratio = var("w_norm"), var("g_norm"), var("ratio")

spec = Spec("lars_ema", [
    (m, beta1 * m + (1 - beta1) * (g + weight_decay * w)),
    (w_norm, norm(w)),
    (g_norm, norm(g)),
    (ratio, when(Eq(w_norm, 0) | Eq(g_norm, 0), 1, tc * w_norm / (g_norm + weight_decay * w_norm + eps))),
    (w, w - lr * ratio * m),
], doc="LARS with EMA momentum (the blog post 'Some Deep Learning Optimizers'): w <- w - lr lambda m, lambda = tc ||w|| / (||g|| + wd ||w||).",
   references=["You, Gitman & Ginsburg 2017, arXiv:1708.03888", "the blog post 'Some Deep Learning Optimizers'"])
