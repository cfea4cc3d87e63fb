"""Adadelta, in torch.optim.Adadelta's form.

Zeiler (2012), "ADADELTA: An Adaptive Learning Rate Method", arXiv:1212.5701.
As torch.optim.Adadelta, the update is scaled by ``lr`` (1.0 is the paper).
"""
from optgen.dsl import Spec, hyper, option, state, var, when, w, g, sqrt

lr = hyper("lr", 1.0, latex=r"\eta", domain="positive", doc="scale of the update (1 in the paper)")
rho = hyper("rho", 0.9, latex=r"\rho", domain="[0, 1]", doc="decay of the running averages")
eps = hyper("eps", 1e-6, latex=r"\epsilon", domain="positive", doc="added inside the square roots")
weight_decay = hyper("weight_decay", 0.0, latex=r"\lambda", domain="nonnegative",
                     doc="L2 penalty added to the gradient")
maximize = option("maximize", False, doc="ascend instead of descend")

v = state("square_avg", 0, latex=r"E[g^2]", doc="running mean of squared gradients")
u = state("acc_delta", 0, latex=r"E[\Delta w^2]", doc="running mean of squared updates")
d, delta = var("d"), var("delta")

spec = Spec("adadelta", [
    (d, when(maximize, -g, g) + weight_decay * w),
    (v, rho * v + (1 - rho) * d**2),
    (delta, sqrt(u + eps) / sqrt(v + eps) * d),
    (u, rho * u + (1 - rho) * delta**2),
    (w, w - lr * delta),
], doc="Adadelta: steps scaled by the ratio of running RMS of updates and gradients.",
   references=["Zeiler 2012, arXiv:1212.5701", "torch.optim.Adadelta"])
