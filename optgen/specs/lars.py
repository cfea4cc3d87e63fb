"""LARS: layer-wise adaptive rate scaling, in objax's form (the objax optimizer docs).

You, Gitman & Ginsburg (2017), "Large Batch Training of Convolutional Networks",
arXiv:1708.03888; the form of ``objax.optimizer.LARS`` (the objax optimizer docs), per tensor
("layer") l, with trust coefficient tc::

    ratio = tc ||w|| / (||g|| + wd ||w|| + eps)    (1 where ||w|| = 0 or ||g|| = 0)
    v = momentum v + lr ratio (g + wd w)
    w = w - v

Defaults are objax's (momentum 0.9, weight_decay 1e-4, tc 1e-3, eps 1e-5); objax
takes lr at each call, here lr is a hyperparameter (give it a schedule, e.g. the
paper's polynomial decay lr0 (1 - t/T)^2: ``optgen.schedules.PolynomialDecay``).

The option ``norm_of_decayed_grad`` takes optax.lars's ratio instead:
tc ||w|| / (||g + wd w|| + eps) (1 where ||w|| = 0 or ||g + wd w|| = 0); with
weight_decay = 0 the two agree. optax keeps -v (``trace`` of the negated update);
the trajectory is the same.

The norms are per-tensor reductions: the step is two passes over memory (pass 0
sums w^2 and g^2; the ratio is formed per tensor on the host; pass 1 updates v, w).
The momentum-as-EMA form of the blog post 'Some Deep Learning Optimizers' is ``specs/lars_ema.py``.
"""
from optgen.dsl import Spec, hyper, option, state, var, when, w, g, norm, Eq

lr = hyper("lr", 0.1, latex=r"\gamma", domain="positive", doc="global learning rate")
momentum = hyper("momentum", 0.9, latex=r"m", domain="[0, 1)", doc="momentum")
weight_decay = hyper("weight_decay", 1e-4, latex=r"\beta", domain="nonnegative", doc="weight decay")
tc = hyper("trust_coefficient", 1e-3, latex=r"\eta", domain="positive", doc="trust coefficient")
eps = hyper("eps", 1e-5, latex=r"\epsilon", domain="nonnegative", doc="added to the ratio's denominator")
decayed = option("norm_of_decayed_grad", False,
                 doc="optax.lars's ratio: tc ||w|| / (||g + wd w|| + eps)")

v = state("v", 0, doc="velocity")
d, w_norm, g_norm, d_norm, ratio = var("d"), var("w_norm"), var("g_norm"), var("d_norm"), var("ratio")

spec = Spec("lars", [
    (d, g + weight_decay * w),
    (w_norm, norm(w)),
    (g_norm, norm(g)),
    (d_norm, norm(d)),
    (ratio, when(decayed,
                 when(Eq(w_norm, 0) | Eq(d_norm, 0), 1, tc * w_norm / (d_norm + eps)),
                 when(Eq(w_norm, 0) | Eq(g_norm, 0), 1, tc * w_norm / (g_norm + weight_decay * w_norm + eps)))),
    (v, momentum * v + lr * ratio * d),
    (w, w - v),
], doc="LARS: SGD with momentum and a layer-wise trust ratio ||w|| / (||g|| + wd ||w||) (objax's form).",
   references=["You, Gitman & Ginsburg 2017, arXiv:1708.03888", "objax.optimizer.LARS (the objax optimizer docs)",
               "optax.lars (option norm_of_decayed_grad)"])
