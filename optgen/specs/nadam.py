"""NAdam: Adam with Nesterov momentum, in torch.optim.NAdam's form.

Dozat (2016), "Incorporating Nesterov Momentum into Adam", ICLR workshop. As
torch.optim.NAdam, with the momentum schedule
mu_t = beta1 (1 - 0.5 * 0.96^(t momentum_decay)):

    mu_prod = mu_1 mu_2 ... mu_t
    m = beta1 m + (1 - beta1) d;  v = beta2 v + (1 - beta2) d^2
    denom = sqrt(v / (1 - beta2^t)) + eps
    w = w - lr (1 - mu_t) / (1 - mu_prod) d / denom
          - lr mu_{t+1} / (1 - mu_prod mu_{t+1}) m / denom

``decoupled_weight_decay`` is torch's NAdamW switch: multiply w by
(1 - lr weight_decay) instead of adding an L2 term to the gradient.

mu_prod is a product over the steps so far, prod_{k<=t} beta1 (1 - 0.5 q^k) with
q = 0.96^momentum_decay: a q-Pochhammer symbol, which has no closed form in t.
It is written as a state with torch's recurrence; since its update reads only t
and hyperparameters, the compiler makes it a host state: one float64 scalar
updated in the host stage, not an array (NAdam moves 28 bytes per float32
parameter, as Adam).
"""
from optgen.dsl import Spec, hyper, option, state, var, when, w, g, t, sqrt

lr = hyper("lr", 2e-3, latex=r"\eta", domain="positive", doc="step size")
beta1 = hyper("beta1", 0.9, latex=r"\beta_1", domain="[0, 1)", doc="decay of the first moment")
beta2 = hyper("beta2", 0.999, latex=r"\beta_2", domain="[0, 1)", doc="decay of the second moment")
eps = hyper("eps", 1e-8, latex=r"\epsilon", domain="positive", doc="added to the denominator")
weight_decay = hyper("weight_decay", 0.0, latex=r"\lambda", domain="nonnegative",
                     doc="L2 penalty (or decoupled decay with decoupled_weight_decay)")
momentum_decay = hyper("momentum_decay", 4e-3, latex=r"\psi", domain="nonnegative",
                       doc="momentum schedule: mu_t = beta1 (1 - 0.5 * 0.96^(t psi))")
decoupled_weight_decay = option("decoupled_weight_decay", False,
                                doc="decoupled weight decay (NAdamW) instead of L2")
maximize = option("maximize", False, doc="ascend instead of descend")

m = state("exp_avg", 0, latex=r"m", doc="first moment")
v = state("exp_avg_sq", 0, latex=r"v", doc="second moment")
mu_prod = state("mu_product", 1, latex=r"\prod_{k \le t} \mu_k", doc="product of the momentum schedule")
d, w0, denom = var("d"), var("w_decayed"), var("denom")
mu, mu_next = var("mu"), var("mu_next")

spec = Spec("nadam", [
    (d, when(maximize, -g, g) + when(decoupled_weight_decay, 0, weight_decay * w)),
    (w0, when(decoupled_weight_decay, w * (1 - lr * weight_decay), w)),
    (mu, beta1 * (1 - 0.5 * 0.96**(t * momentum_decay))),
    (mu_next, beta1 * (1 - 0.5 * 0.96**((t + 1) * momentum_decay))),
    (mu_prod, mu_prod * mu),
    (m, beta1 * m + (1 - beta1) * d),
    (v, beta2 * v + (1 - beta2) * d**2),
    (denom, sqrt(v / (1 - beta2**t)) + eps),
    (w, w0 - lr * (1 - mu) / (1 - mu_prod) * d / denom
        - lr * mu_next / (1 - mu_prod * mu_next) * m / denom),
], doc="NAdam: Adam with Nesterov momentum and torch's momentum schedule.",
   references=["Dozat 2016, ICLR workshop, 'Incorporating Nesterov Momentum into Adam'",
               "torch.optim.NAdam"])
