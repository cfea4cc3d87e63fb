"""Yogi (Zaheer et al. 2018, NeurIPS), in optax.yogi's form.

Adam whose second moment moves additively, by at most (1 - beta2) g^2 per step,
towards g^2, so that it cannot collapse after one large gradient::

    m <- beta1 m + (1 - beta1) g
    v <- v - (1 - beta2) sign(v - g^2) g^2
    w <- w - lr m_hat / (sqrt(v_hat) + eps)

Both moments start at ``init_value`` (optax: initial_accumulator_value = 1e-6),
and optax bias-corrects both as Adam does.
"""
from optgen.dsl import Spec, hyper, state, w, g, t, sqrt, sign

lr = hyper("lr", 1e-2, latex=r"\eta", domain="positive", doc="step size")
beta1 = hyper("beta1", 0.9, latex=r"\beta_1", domain="[0, 1)", doc="decay of the first moment")
beta2 = hyper("beta2", 0.999, latex=r"\beta_2", domain="[0, 1)", doc="rate of the second moment's moves")
eps = hyper("eps", 1e-3, latex=r"\epsilon", domain="positive", doc="added to the denominator")
init_value = hyper("init_value", 1e-6, latex=r"v_0", domain="nonnegative", doc="both moments' value before the first step")

m = state("m", init=init_value, doc="first moment")
v = state("v", init=init_value, doc="second moment, moved additively")

spec = Spec("yogi", [
    (m, beta1 * m + (1 - beta1) * g),
    (v, v - (1 - beta2) * sign(v - g**2) * g**2),
    (w, w - lr * (m / (1 - beta1**t)) / (sqrt(v / (1 - beta2**t)) + eps)),
], doc="Yogi: Adam with an additive, sign-controlled second moment (optax's form).",
   references=["Zaheer et al. 2018, Adaptive Methods for Nonconvex Optimization, NeurIPS", "optax.yogi"])
