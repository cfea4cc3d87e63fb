"""ASGD: averaged stochastic gradient descent (Polyak & Juditsky 1992), in torch.optim.ASGD's form.

SGD with a decaying step and a weight decay tied to it, and a running average
``ax`` of the parameters that starts averaging after ``t0`` steps::

    eta_t = lr / (1 + lambd lr (t - 1))^alpha
    mu_t  = 1 / max(1, t - 1 - t0)
    w  <- w (1 - lambd eta_t) - eta_t (g + weight_decay w)
    ax <- w if mu_t == 1 else ax + mu_t (w - ax)

torch keeps eta and mu as per-parameter tensors updated after each step with
the step count; here they are the same closed forms of t, computed on the host
(with a scheduled lr, torch's eta at step t uses the lr of step t - 1, this the
lr of step t). ``ax`` is the averaged parameter torch exposes as ``state["ax"]``.
"""
from optgen.dsl import Spec, hyper, option, state, var, when, w, g, t, Max, Eq

lr = hyper("lr", 1e-2, latex=r"\eta_0", domain="positive", doc="initial step size")
lambd = hyper("lambd", 1e-4, latex=r"\lambda", domain="nonnegative", doc="decay of the step size")
alpha = hyper("alpha", 0.75, latex=r"\alpha", domain="nonnegative", doc="power of the step size's decay")
t0 = hyper("t0", 1e6, latex=r"t_0", domain="nonnegative", doc="step after which the average starts")
weight_decay = hyper("weight_decay", 0.0, latex=r"\omega", domain="nonnegative", doc="L2 penalty")
maximize = option("maximize", False, doc="ascend instead of descend")

ax = state("ax", 0, latex=r"\bar w", doc="the averaged parameters")
eta, mu, d = var("eta"), var("mu"), var("d")

spec = Spec("asgd", [
    (eta, lr / (1 + lambd * lr * (t - 1))**alpha),
    (mu, 1 / Max(1, t - 1 - t0)),
    (d, when(maximize, -g, g) + weight_decay * w),
    (w, w * (1 - lambd * eta) - eta * d),
    (ax, when(Eq(mu, 1), w, ax + mu * (w - ax))),
], doc="ASGD: SGD with a decaying step and a running average of the parameters (torch.optim.ASGD's form).",
   references=["Polyak & Juditsky 1992, Acceleration of Stochastic Approximation by Averaging, SIAM J. Control Optim.",
               "torch.optim.ASGD"])
