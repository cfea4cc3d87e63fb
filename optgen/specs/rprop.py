"""Rprop: resilient backpropagation (Riedmiller & Braun 1993), in torch.optim.Rprop's form.

Only the gradient's sign is used. Each element keeps its own step size, which
grows by eta_plus while the gradient keeps its sign and shrinks by eta_minus when
it flips; after a flip the element does not move, and the next step treats the
gradient as zero::

    s = sign(g g_prev)
    step_size <- clip(step_size * (eta_plus if s > 0, eta_minus if s < 0, else 1), step_min, step_max)
    d = 0 if s < 0 else g
    w <- w - sign(d) step_size
    g_prev <- d

Step sizes start at lr (torch: ``full_like(grad, lr)`` at the first step).
Meant for full-batch training: a stochastic gradient's sign flips by noise.
"""
from optgen.dsl import Spec, hyper, option, state, var, when, w, g, sign, Max, Min, Piecewise, Gt, Lt

lr = hyper("lr", 1e-2, latex=r"\eta", domain="positive", doc="initial step size")
eta_minus = hyper("eta_minus", 0.5, latex=r"\eta^-", domain="(0, 1)", doc="step size factor after a sign flip")
eta_plus = hyper("eta_plus", 1.2, latex=r"\eta^+", domain="positive", doc="step size factor while the sign holds")
step_min = hyper("step_min", 1e-6, latex=r"\Delta_{min}", domain="nonnegative", doc="smallest step size")
step_max = hyper("step_max", 50.0, latex=r"\Delta_{max}", domain="positive", doc="largest step size")
maximize = option("maximize", False, doc="ascend instead of descend")

step_size = state("step_size", init=lr, latex=r"\Delta", doc="per-element step size")
g_prev = state("g_prev", 0, latex=r"g_{t-1}", doc="the previous gradient (0 after a sign flip)")
d, s = var("d"), var("s")
g_eff = var("g_eff")

spec = Spec("rprop", [
    (g_eff, when(maximize, -g, g)),
    (s, sign(g_eff * g_prev)),
    (step_size, Min(Max(step_size * Piecewise((eta_plus, Gt(s, 0)), (eta_minus, Lt(s, 0)), (1, True)),
                        step_min), step_max)),
    (d, when(Lt(s, 0), 0, g_eff)),
    (w, w - sign(d) * step_size),
    (g_prev, d),
], doc="Rprop: per-element step sizes adapted by the gradient's sign (torch.optim.Rprop's form).",
   references=["Riedmiller & Braun 1993, A Direct Adaptive Method for Faster Backpropagation Learning: "
               "The RPROP Algorithm, ICNN", "torch.optim.Rprop"])
