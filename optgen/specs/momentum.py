"""SGD with momentum (heavy ball), in torch.optim.SGD's form with momentum > 0.

Polyak (1964), "Some methods of speeding up the convergence of iteration
methods", USSR Comput. Math. & Math. Phys. 4(5):1-17; Nesterov's variant as in
Sutskever et al. (2013), "On the importance of initialization and momentum in
deep learning", ICML, in the form torch.optim.SGD implements:

    d   = g + weight_decay * w                (-g with maximize)
    buf = d                                    on the first step (torch: no dampening)
    buf = momentum * buf + (1 - dampening) * d afterwards
    w   = w - lr * buf                         (nesterov: w - lr * (d + momentum * buf))

torch refuses nesterov with dampening != 0; this spec computes the formula above
for any dampening. For momentum = 0 use ``specs/sgd.py`` (torch's momentum=0 path
has no buffer, and ignores dampening). The blog post's reparametrised Nesterov
form is ``specs/nesterov.py``.
"""
from optgen.dsl import Eq, Spec, hyper, option, state, var, when, w, g, t

lr = hyper("lr", 1e-3, latex=r"\eta", domain="positive", doc="step size")
momentum = hyper("momentum", 0.9, latex=r"\mu", domain="positive", doc="momentum factor")
dampening = hyper("dampening", 0.0, latex=r"\tau", domain="[0, 1]",
                  doc="dampening of the gradient in the momentum buffer")
weight_decay = hyper("weight_decay", 0.0, latex=r"\lambda", domain="nonnegative",
                     doc="L2 penalty added to the gradient")
nesterov = option("nesterov", False, doc="Nesterov momentum (Sutskever et al., 2013)")
maximize = option("maximize", False, doc="ascend instead of descend")

buf = state("buf", 0, latex=r"b", doc="momentum buffer")
d = var("d")  # the gradient after maximize and L2 weight decay

spec = Spec("momentum", [
    (d, when(maximize, -g, g) + weight_decay * w),
    (buf, when(Eq(t, 1), d, momentum * buf + (1 - dampening) * d)),
    (w, w - lr * when(nesterov, d + momentum * buf, buf)),
], doc="SGD with heavy-ball or Nesterov momentum, as torch.optim.SGD (momentum > 0).",
   references=["Polyak 1964, USSR Comput. Math. & Math. Phys. 4(5):1-17",
               "Sutskever, Martens, Dahl & Hinton 2013, ICML (Nesterov momentum)",
               "torch.optim.SGD"])
