"""Adamax: Adam with the infinity norm, in torch.optim.Adamax's form.

Kingma & Ba (2014), "Adam: A Method for Stochastic Optimization",
arXiv:1412.6980, section 7.1. As torch.optim.Adamax, eps is added to |g|
inside the maximum: u = max(beta2 u, |g| + eps).
"""
from optgen.dsl import Spec, hyper, option, state, var, when, w, g, t, Abs, Max

lr = hyper("lr", 2e-3, latex=r"\eta", domain="positive", doc="step size")
beta1 = hyper("beta1", 0.9, latex=r"\beta_1", domain="[0, 1)", doc="decay of the first moment")
beta2 = hyper("beta2", 0.999, latex=r"\beta_2", domain="[0, 1)", doc="decay of the infinity norm")
eps = hyper("eps", 1e-8, latex=r"\epsilon", domain="positive", doc="added to |g| in the norm")
weight_decay = hyper("weight_decay", 0.0, latex=r"\lambda", domain="nonnegative",
                     doc="L2 penalty added to the gradient")
maximize = option("maximize", False, doc="ascend instead of descend")

m = state("exp_avg", 0, latex=r"m", doc="first moment")
u = state("exp_inf", 0, latex=r"u", doc="exponentially weighted infinity norm")
d = var("d")  # the gradient after maximize and L2 weight decay

spec = Spec("adamax", [
    (d, when(maximize, -g, g) + weight_decay * w),
    (m, beta1 * m + (1 - beta1) * d),
    (u, Max(beta2 * u, Abs(d) + eps)),
    (w, w - lr / (1 - beta1**t) * m / u),
], doc="Adamax: Adam's variant with the exponentially weighted infinity norm.",
   references=["Kingma & Ba 2014, arXiv:1412.6980, section 7.1", "torch.optim.Adamax"])
