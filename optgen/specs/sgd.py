"""SGD: plain stochastic gradient descent, in torch.optim.SGD's form with momentum=0.

Robbins & Monro (1951), "A Stochastic Approximation Method", Ann. Math. Statist.
22(3), 400-407; the form of ``torch.optim.SGD`` with ``momentum=0`` (dampening
and nesterov play no part there). ``weight_decay`` is an L2 penalty added to the
gradient, as torch does. The heavy-ball form is ``specs/momentum.py``.
"""
from optgen.dsl import Spec, hyper, option, var, when, w, g

lr = hyper("lr", 1e-3, latex=r"\eta", domain="positive", doc="step size")
weight_decay = hyper("weight_decay", 0.0, latex=r"\lambda", domain="nonnegative",
                     doc="L2 penalty added to the gradient")
maximize = option("maximize", False, doc="ascend instead of descend")

d = var("d")  # the gradient after maximize and L2 weight decay

spec = Spec("sgd", [
    (d, when(maximize, -g, g) + weight_decay * w),
    (w, w - lr * d),
], doc="SGD: gradient descent, w <- w - lr * (g + weight_decay * w).",
   references=["Robbins & Monro 1951, Ann. Math. Statist. 22(3):400-407",
               "torch.optim.SGD (momentum=0)"])
