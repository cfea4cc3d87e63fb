"""Adan: adaptive Nesterov momentum (Xie et al. 2022, arXiv:2208.06677), in optax.adan's form.

Three moments: of the gradient, of the gradient's change, and of the square of
the Nesterov-corrected gradient::

    d = g - g_prev            (0 at the first step)
    m <- beta1 m + (1 - beta1) g
    v <- beta2 v + (1 - beta2) d
    n <- beta3 n + (1 - beta3) (g + (1 - beta2) d)^2
    w <- w - lr ((m_hat + (1 - beta2) v_hat) / (sqrt(n_hat + eps_root) + eps) + lambda w)

with Adam's bias corrections m_hat = m / (1 - beta1^t) and so on. optax's code (not
its docstring) decays the weights additively, as here, without dividing by 1 + lr lambda.
"""
from optgen.dsl import Spec, hyper, state, var, when, w, g, t, sqrt, Eq

lr = hyper("lr", 1e-3, latex=r"\eta", domain="positive", doc="step size")
beta1 = hyper("beta1", 0.98, latex=r"\beta_1", domain="[0, 1)", doc="decay of the gradient's moment")
beta2 = hyper("beta2", 0.92, latex=r"\beta_2", domain="[0, 1)", doc="decay of the gradient change's moment")
beta3 = hyper("beta3", 0.99, latex=r"\beta_3", domain="[0, 1)", doc="decay of the squared term")
eps = hyper("eps", 1e-8, latex=r"\epsilon", domain="positive", doc="added to the denominator")
eps_root = hyper("eps_root", 1e-8, latex=r"\epsilon_{root}", domain="nonnegative", doc="added under the square root")
weight_decay = hyper("weight_decay", 0.0, latex=r"\lambda", domain="nonnegative", doc="weight decay, scaled by lr")

m = state("m", 0, doc="moment of the gradient")
v = state("v", 0, doc="moment of the gradient's change")
n = state("n", 0, doc="moment of the squared Nesterov-corrected gradient")
g_prev = state("g_prev", 0, latex=r"g_{t-1}", doc="the previous step's gradient")
d = var("d")

spec = Spec("adan", [
    (d, when(Eq(t, 1), 0, g - g_prev)),
    (m, beta1 * m + (1 - beta1) * g),
    (v, beta2 * v + (1 - beta2) * d),
    (n, beta3 * n + (1 - beta3) * (g + (1 - beta2) * d)**2),
    (w, w - lr * ((m / (1 - beta1**t) + (1 - beta2) * v / (1 - beta2**t))
                  / (sqrt(n / (1 - beta3**t) + eps_root) + eps) + weight_decay * w)),
    (g_prev, g),
], doc="Adan: adaptive Nesterov momentum with three moments (optax's form).",
   references=["Xie et al. 2022, Adan: Adaptive Nesterov Momentum Algorithm, arXiv:2208.06677", "optax.adan"])
