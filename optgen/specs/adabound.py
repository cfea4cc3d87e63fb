"""AdaBound: Adam with per-element step sizes clipped to bounds that tighten with t.

Luo, Xiong, Liu & Sun (2019), "Adaptive Gradient Methods with Dynamic Bound of
Learning Rate", ICLR, arXiv:1902.09843, in the form of the authors' released
implementation (the ``adabound`` package, github.com/Luolc/AdaBound), whose
hyperparameter names (final_lr, gamma, amsbound) this spec uses:

    m = beta1 m + (1 - beta1) d;  v = beta2 v + (1 - beta2) d^2
    step = lr sqrt(1 - beta2^t) / (1 - beta1^t) / (sqrt(v) + eps)
    eta_l(t) = final_lr (1 - 1 / (gamma t + 1));  eta_u(t) = final_lr (1 + 1 / (gamma t))
    w = w - clip(step, eta_l(t), eta_u(t)) m

The paper's Algorithm 2 writes eta_t = clip(alpha / sqrt(v_t), eta_l, eta_u) / sqrt(t)
without bias correction or eps, and its experiments use
eta_l = 0.1 - 0.1 / ((1 - beta2) t + 1), eta_u = 0.1 + 0.1 / ((1 - beta2) t); the
released code (what users run) replaces 1/sqrt(t) by Adam's bias corrections,
adds eps, and generalises 0.1 to final_lr and (1 - beta2) to gamma. Both bounds
tend to final_lr, so AdaBound turns from Adam into SGD with step final_lr. The
released code also rescales final_lr by lr / initial lr under an lr schedule;
here final_lr is a hyperparameter of its own (give it a schedule too, if wanted).
"""
from optgen.dsl import Spec, hyper, option, state, var, when, w, g, t, sqrt, Max, Min

lr = hyper("lr", 1e-3, latex=r"\alpha", domain="positive", doc="Adam step size")
beta1 = hyper("beta1", 0.9, latex=r"\beta_1", domain="[0, 1)", doc="decay of the first moment")
beta2 = hyper("beta2", 0.999, latex=r"\beta_2", domain="[0, 1)", doc="decay of the second moment")
final_lr = hyper("final_lr", 0.1, latex=r"\eta^*", domain="positive",
                 doc="the SGD step size both bounds converge to")
gamma = hyper("gamma", 1e-3, latex=r"\gamma", domain="(0, 1)", doc="how fast the bounds tighten")
eps = hyper("eps", 1e-8, latex=r"\epsilon", domain="positive", doc="added to the denominator")
weight_decay = hyper("weight_decay", 0.0, latex=r"\lambda", domain="nonnegative",
                     doc="L2 penalty added to the gradient")
amsbound = option("amsbound", False, doc="use the running maximum of v (the AMSGrad variant)")
maximize = option("maximize", False, doc="ascend instead of descend")

m, v, vmax = state("exp_avg", 0, latex=r"m"), state("exp_avg_sq", 0, latex=r"v"), \
    state("max_exp_avg_sq", 0, latex=r"v^{max}")
d, step, lower, upper = var("d"), var("step"), var("lower"), var("upper")

spec = Spec("adabound", [
    (d, when(maximize, -g, g) + weight_decay * w),
    (m, beta1 * m + (1 - beta1) * d),
    (v, beta2 * v + (1 - beta2) * d**2),
    (vmax, when(amsbound, Max(vmax, v), v)),
    (lower, final_lr * (1 - 1 / (gamma * t + 1))),
    (upper, final_lr * (1 + 1 / (gamma * t))),
    (step, lr * sqrt(1 - beta2**t) / (1 - beta1**t) / (sqrt(vmax) + eps)),
    (w, w - Min(Max(step, lower), upper) * m),
], doc="AdaBound: Adam whose per-element step sizes are clipped to bounds tightening to final_lr.",
   references=["Luo, Xiong, Liu & Sun 2019, ICLR, arXiv:1902.09843",
               "github.com/Luolc/AdaBound (the authors' implementation)"])
