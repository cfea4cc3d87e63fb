"""RMSProp, in torch.optim.RMSprop's form.

Tieleman & Hinton (2012), "Lecture 6.5 - rmsprop", COURSERA: Neural Networks for
Machine Learning; the centered variant from Graves (2013), "Generating Sequences
With Recurrent Neural Networks", arXiv:1308.0850. As torch.optim.RMSprop:

    v = alpha v + (1 - alpha) d^2
    gavg = alpha gavg + (1 - alpha) d                         (centered)
    avg = sqrt(v) + eps            or sqrt(v - gavg^2) + eps  (centered)
    momentum > 0:  buf = momentum buf + d / avg;  w = w - lr buf
    momentum = 0:  w = w - lr d / avg                         (no buffer)

torch takes a different code path for momentum = 0 (it never creates the
buffer); here ``momentum == 0`` is a host condition, so it selects a kernel
variant that neither reads nor writes the buffer. The blog post's form with
sigma_0 = |g_0| is ``specs/rmsprop_warmstart.py``.
"""
from optgen.dsl import Eq, Spec, hyper, option, state, var, when, w, g, sqrt

lr = hyper("lr", 1e-2, latex=r"\eta", domain="positive", doc="step size")
alpha = hyper("alpha", 0.99, latex=r"\alpha", domain="[0, 1)", doc="decay of the mean square")
eps = hyper("eps", 1e-8, latex=r"\epsilon", domain="positive", doc="added to the denominator")
weight_decay = hyper("weight_decay", 0.0, latex=r"\lambda", domain="nonnegative",
                     doc="L2 penalty added to the gradient")
momentum = hyper("momentum", 0.0, latex=r"\mu", domain="nonnegative", doc="momentum factor (0: none)")
centered = option("centered", False, doc="divide by the estimated variance instead of the mean square")
maximize = option("maximize", False, doc="ascend instead of descend")

v = state("square_avg", 0, latex=r"v", doc="running mean of squared gradients")
gavg = state("grad_avg", 0, latex=r"\bar g", doc="running mean of gradients (centered)")
buf = state("momentum_buffer", 0, latex=r"b", doc="momentum buffer (momentum > 0)")
d, avg = var("d"), var("avg")

spec = Spec("rmsprop", [
    (d, when(maximize, -g, g) + weight_decay * w),
    (v, alpha * v + (1 - alpha) * d**2),
    (gavg, when(centered, alpha * gavg + (1 - alpha) * d, gavg)),
    (avg, when(centered, sqrt(v - gavg**2), sqrt(v)) + eps),
    (buf, when(Eq(momentum, 0), buf, momentum * buf + d / avg)),
    (w, when(Eq(momentum, 0), w - lr * d / avg, w - lr * buf)),
], doc="RMSProp: steps divided by a running root mean square, with torch.optim's options.",
   references=["Tieleman & Hinton 2012, COURSERA Neural Networks for Machine Learning, lecture 6.5",
               "Graves 2013, arXiv:1308.0850 (centered)", "torch.optim.RMSprop"])
