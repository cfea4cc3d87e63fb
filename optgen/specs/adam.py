"""Adam (Kingma & Ba, 2014, arXiv:1412.6980), in torch.optim.Adam's form."""
from optgen.dsl import Spec, hyper, option, state, var, when, w, g, t, sqrt, Max

lr = hyper("lr", 1e-3, latex=r"\eta", domain="positive", doc="step size")
beta1 = hyper("beta1", 0.9, latex=r"\beta_1", domain="[0, 1)", doc="decay of the first moment")
beta2 = hyper("beta2", 0.999, latex=r"\beta_2", domain="[0, 1)", doc="decay of the second moment")
eps = hyper("eps", 1e-8, latex=r"\epsilon", domain="positive", doc="added to the denominator")
weight_decay = hyper("weight_decay", 0.0, latex=r"\lambda", domain="nonnegative", doc="L2 penalty")
amsgrad = option("amsgrad", False, doc="use the running maximum of v (Reddi et al., 2018)")
maximize = option("maximize", False, doc="ascend instead of descend")

m, v, vmax = state("m", 0), state("v", 0), state("vmax", 0, latex=r"\hat v^{max}")
d = var("d")  # the gradient after maximize and L2 weight decay

spec = Spec("adam", [
    (d, when(maximize, -g, g) + weight_decay * w),
    (m, beta1 * m + (1 - beta1) * d),
    (v, beta2 * v + (1 - beta2) * d**2),
    (vmax, when(amsgrad, Max(vmax, v), v)),
    (w, w - lr / (1 - beta1**t) * m / (sqrt(vmax) / sqrt(1 - beta2**t) + eps)),
], doc="Adam: adaptive moment estimation, with torch.optim's options.",
   references=["Kingma & Ba 2014, arXiv:1412.6980"])
