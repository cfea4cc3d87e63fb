"""AdaBelief (Zhuang et al. 2020, arXiv:2010.07468), in optax.adabelief's form.

Adam with the second moment of the gradient's deviation from its running mean
(the "belief") instead of the second moment of the gradient::

    m <- beta1 m + (1 - beta1) g
    s <- beta2 s + (1 - beta2) (g - m)^2 + eps_root
    w <- w - lr m_hat / (sqrt(s_hat) + eps),   m_hat = m / (1 - beta1^t), s_hat = s / (1 - beta2^t)

As in optax, ``eps_root`` is added to the state itself every step, and the
deviation uses the momentum after its update. ``nesterov`` uses optax's
look-ahead m_hat = beta1 m / (1 - beta1^(t+1)) + (1 - beta1) g / (1 - beta1^t).
"""
from optgen.dsl import Spec, hyper, option, state, var, when, w, g, t, sqrt

lr = hyper("lr", 1e-3, latex=r"\eta", domain="positive", doc="step size")
beta1 = hyper("beta1", 0.9, latex=r"\beta_1", domain="[0, 1)", doc="decay of the first moment")
beta2 = hyper("beta2", 0.999, latex=r"\beta_2", domain="[0, 1)", doc="decay of the belief")
eps = hyper("eps", 1e-16, latex=r"\epsilon", domain="positive", doc="added to the denominator")
eps_root = hyper("eps_root", 1e-16, latex=r"\epsilon_{root}", domain="nonnegative",
                 doc="added to the belief every step")
nesterov = option("nesterov", False, doc="Nesterov's look-ahead on the first moment (optax's form)")

m, s = state("m", 0, doc="first moment"), state("s", 0, doc="second moment of g - m (the belief)")
m_hat = var("m_hat")

spec = Spec("adabelief", [
    (m, beta1 * m + (1 - beta1) * g),
    (s, beta2 * s + (1 - beta2) * (g - m)**2 + eps_root),
    (m_hat, when(nesterov, beta1 * m / (1 - beta1**(t + 1)) + (1 - beta1) * g / (1 - beta1**t),
                 m / (1 - beta1**t))),
    (w, w - lr * m_hat / (sqrt(s / (1 - beta2**t)) + eps)),
], doc="AdaBelief: Adam with the second moment of g - m, the gradient's deviation from its mean (optax's form).",
   references=["Zhuang et al. 2020, AdaBelief Optimizer, arXiv:2010.07468", "optax.adabelief"])
