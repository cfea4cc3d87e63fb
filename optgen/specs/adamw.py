"""AdamW: Adam with decoupled weight decay, in torch.optim.AdamW's form.

Loshchilov & Hutter (2019), "Decoupled Weight Decay Regularization", ICLR,
arXiv:1711.05101. As torch.optim.AdamW, the decay multiplies the parameter by
(1 - lr weight_decay) before the Adam step (the paper's schedule multiplier is
folded into lr), and the gradient is not modified. Options as torch: amsgrad
(Reddi et al., 2018) and maximize. Adam with an L2 penalty is ``specs/adam.py``.
"""
from optgen.dsl import Spec, hyper, option, state, var, when, w, g, t, sqrt, Max

lr = hyper("lr", 1e-3, latex=r"\eta", domain="positive", doc="step size")
beta1 = hyper("beta1", 0.9, latex=r"\beta_1", domain="[0, 1)", doc="decay of the first moment")
beta2 = hyper("beta2", 0.999, latex=r"\beta_2", domain="[0, 1)", doc="decay of the second moment")
eps = hyper("eps", 1e-8, latex=r"\epsilon", domain="positive", doc="added to the denominator")
weight_decay = hyper("weight_decay", 1e-2, latex=r"\lambda", domain="nonnegative",
                     doc="decoupled weight decay: w <- w (1 - lr weight_decay)")
amsgrad = option("amsgrad", False, doc="use the running maximum of v (Reddi et al., 2018)")
maximize = option("maximize", False, doc="ascend instead of descend")

m, v, vmax = state("m", 0), state("v", 0), state("vmax", 0, latex=r"\hat v^{max}")
d = var("d")  # the gradient after maximize

spec = Spec("adamw", [
    (d, when(maximize, -g, g)),
    (m, beta1 * m + (1 - beta1) * d),
    (v, beta2 * v + (1 - beta2) * d**2),
    (vmax, when(amsgrad, Max(vmax, v), v)),
    (w, w * (1 - lr * weight_decay)
        - lr / (1 - beta1**t) * m / (sqrt(vmax) / sqrt(1 - beta2**t) + eps)),
], doc="AdamW: Adam with decoupled weight decay, with torch.optim's options.",
   references=["Loshchilov & Hutter 2019, ICLR, arXiv:1711.05101",
               "Reddi, Kale & Kumar 2018, ICLR (amsgrad)", "torch.optim.AdamW"])
