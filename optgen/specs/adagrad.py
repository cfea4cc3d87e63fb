"""Adagrad, in torch.optim.Adagrad's form.

Duchi, Hazan & Singer (2011), "Adaptive Subgradient Methods for Online Learning
and Stochastic Optimization", JMLR 12:2121-2159. As torch.optim.Adagrad: the
step size decays as lr / (1 + (t - 1) lr_decay), the accumulator starts at
``initial_accumulator_value``, and eps is added to its square root.
"""
from optgen.dsl import Spec, hyper, option, state, var, when, w, g, t, sqrt

lr = hyper("lr", 1e-2, latex=r"\eta", domain="positive", doc="step size")
lr_decay = hyper("lr_decay", 0.0, latex=r"\delta", domain="nonnegative",
                 doc="step size decay: lr / (1 + (t - 1) lr_decay)")
weight_decay = hyper("weight_decay", 0.0, latex=r"\lambda", domain="nonnegative",
                     doc="L2 penalty added to the gradient")
initial_accumulator_value = hyper("initial_accumulator_value", 0.0, latex=r"s_0",
                                  domain="nonnegative", doc="starting value of the sum of squares")
eps = hyper("eps", 1e-10, latex=r"\epsilon", domain="positive", doc="added to the denominator")
maximize = option("maximize", False, doc="ascend instead of descend")

s = state("sum", init=initial_accumulator_value, latex=r"s", doc="sum of squared gradients")
d = var("d")  # the gradient after maximize and L2 weight decay

spec = Spec("adagrad", [
    (d, when(maximize, -g, g) + weight_decay * w),
    (s, s + d**2),
    (w, w - lr / (1 + (t - 1) * lr_decay) * d / (sqrt(s) + eps)),
], doc="Adagrad: per-element step sizes from the sum of squared gradients.",
   references=["Duchi, Hazan & Singer 2011, JMLR 12:2121-2159", "torch.optim.Adagrad"])
