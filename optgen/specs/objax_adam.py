"""objax's Adam: epsilon inside the square root, bias correction folded into the step size.

Kingma & Ba (2014), "Adam: A Method for Stochastic Optimization",
arXiv:1412.6980, as implemented by objax.optimizer.Adam (the objax
optimizer docs; code in objax/optimizer/adam.py):

    lr_t = lr sqrt(1 - beta2^t) / (1 - beta1^t)
    m = m + (1 - beta1) (g - m)
    v = v + (1 - beta2) (g^2 - v)
    w = w - lr_t m / sqrt(v + eps)

Two differences from the documentation page, which we resolve in favour of the
code: (1) the page's s_k line reads s_k = beta2 s_{k-1} - (1 - beta2) g^2, a
sign error -- the second moment is a running mean of squares, so the term is
added, as in the code and the Adam paper; (2) the page writes
w - eta v_hat / (sqrt(s_hat) + eps) and notes the approximation
sqrt(s_hat + eps) ~ sqrt(s_hat) + eps, while the code adds eps to the
*uncorrected* v inside the square root and folds both bias corrections into
the step size, as written above. ``m + (1 - beta1)(g - m)`` is written here as
``beta1 m + (1 - beta1) g`` (equal up to rounding).
"""
from optgen.dsl import Spec, hyper, state, w, g, t, sqrt

lr = hyper("lr", 1e-3, latex=r"\eta", domain="positive", doc="step size (objax passes it per call)")
beta1 = hyper("beta1", 0.9, latex=r"\beta_1", domain="[0, 1)", doc="decay of the first moment")
beta2 = hyper("beta2", 0.999, latex=r"\beta_2", domain="[0, 1)", doc="decay of the second moment")
eps = hyper("eps", 1e-8, latex=r"\epsilon", domain="positive", doc="added to v inside the square root")

m = state("m", 0, latex=r"v", doc="first moment (objax's v)")
v = state("v", 0, latex=r"s", doc="second moment (objax's s)")

spec = Spec("objax_adam", [
    (m, beta1 * m + (1 - beta1) * g),
    (v, beta2 * v + (1 - beta2) * g**2),
    (w, w - lr * sqrt(1 - beta2**t) / (1 - beta1**t) * m / sqrt(v + eps)),
], doc="objax's Adam: eps inside the square root, bias corrections folded into the step size.",
   references=["Kingma & Ba 2014, arXiv:1412.6980",
               "objax.optimizer.Adam (the objax optimizer docs; objax/optimizer/adam.py)"])
