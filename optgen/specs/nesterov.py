"""Nesterov momentum, reparametrised so that the gradient is taken at the parameter.

Nesterov (1983), "A method for solving the convex programming problem with
convergence rate O(1/k^2)", Soviet Math. Dokl. 27:372-376; this is the
reparametrised form derived in the blog post "Some Deep Learning Optimizers": with u_t = theta_t + alpha v_t,

    v_{t+1} = alpha v_t - eta grad F(u_t)
    u_{t+1} = u_t - alpha v_t + (1 + alpha) v_{t+1},   v_0 = 0,

and u renamed to the parameter w. The blog post's alpha is ``momentum`` and its eta is
``lr`` (torch.optim's names). Substituting b = -v / lr gives
b' = momentum b + g and w' = w - lr (g + momentum b'), which is torch.optim.SGD
with nesterov=True and dampening=0; the tests compare the two.
"""
from optgen.dsl import Spec, hyper, state, var, w, g

lr = hyper("lr", 1e-3, latex=r"\eta", domain="positive", doc="step size")
momentum = hyper("momentum", 0.9, latex=r"\alpha", domain="[0, 1)", doc="momentum factor")

v = state("v", 0, doc="velocity (the step of the un-shifted iterate)")
v_prev = var("v_prev")

spec = Spec("nesterov", [
    (v_prev, v),
    (v, momentum * v - lr * g),
    (w, w - momentum * v_prev + (1 + momentum) * v),
], doc="Nesterov momentum in the blog post's reparametrised form (gradient at the parameter).",
   references=["Nesterov 1983, Soviet Math. Dokl. 27:372-376",
               "the blog post 'Some Deep Learning Optimizers', Nesterov reparametrisation"])
