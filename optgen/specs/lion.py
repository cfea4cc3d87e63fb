"""Lion: evolved sign momentum (Chen et al. 2023, arXiv:2302.06675), in optax.lion's form.

The step is the sign of an interpolation between the momentum and the gradient,
so every element moves by exactly lr (plus decoupled weight decay); the momentum
is then updated with a second, slower rate::

    c = beta1 m + (1 - beta1) g
    m <- beta2 m + (1 - beta2) g
    w <- w - lr (sign(c) + lambda w)

optax.lion's defaults: beta1 = 0.9, beta2 = 0.99, weight_decay = 1e-3. The paper
suggests a learning rate 3-10x smaller than AdamW's.
"""
from optgen.dsl import Spec, hyper, option, state, var, when, w, g, sign

lr = hyper("lr", 1e-4, latex=r"\eta", domain="positive", doc="step size (every element moves by lr)")
beta1 = hyper("beta1", 0.9, latex=r"\beta_1", domain="[0, 1]", doc="interpolation of the step's direction")
beta2 = hyper("beta2", 0.99, latex=r"\beta_2", domain="[0, 1)", doc="decay of the momentum")
weight_decay = hyper("weight_decay", 1e-3, latex=r"\lambda", domain="nonnegative",
                     doc="decoupled weight decay, scaled by lr")
maximize = option("maximize", False, doc="ascend instead of descend")

m = state("m", 0, doc="momentum")
d = var("d")  # the gradient after maximize
c = var("c")  # the step's direction before the sign

spec = Spec("lion", [
    (d, when(maximize, -g, g)),
    (c, beta1 * m + (1 - beta1) * d),
    (m, beta2 * m + (1 - beta2) * d),
    (w, w - lr * (sign(c) + weight_decay * w)),
], doc="Lion: the sign of interpolated momentum, with decoupled weight decay (optax.lion's form).",
   references=["Chen et al. 2023, Symbolic Discovery of Optimization Algorithms, arXiv:2302.06675",
               "optax.lion"])
