"""Derivations about Nesterov momentum: the blog post 'Some Deep Learning Optimizers' ("Momentum", "Nesterov") and the objax optimizer docs
(objax's Momentum page).

the blog post 'Some Deep Learning Optimizers' writes Nesterov momentum with the gradient at a shifted point,

    v_t = alpha v_{t-1} - eta grad F(theta_t + alpha v_{t-1}),   theta_{t+1} = theta_t + v_t,

and reparametrises it with u_t = theta_t + alpha v_t into a form that takes the
gradient at the parameter (specs/nesterov.py, u renamed w). torch.optim.SGD with
nesterov=True (specs/momentum.py) is the same algorithm once its buffer b is
identified with the velocity: v = -lr b. The heavy-ball form of the blog post 'Some Deep Learning Optimizers' is
torch's momentum with the same identification.

the objax optimizer docs print NAG as v_k = mu v_{k-1} + grad f(w_{k-1} + mu v_{k-1}),
w_k = w_{k-1} - eta v_k. There v accumulates *positive* gradients and the step
is -eta v, so the look-ahead point w + mu v lies on the wrong side: the point
the next step moves towards is w - eta mu v. As printed, it is not Nesterov's
method; with the shift written w - eta mu v it is the shifted form above
(with v_blog = -eta v_objax).
"""

from optgen.dsl import Spec, hyper, state, w, g
from optgen.verify import Equivalence, Side

# the blog post's alpha and eta are named as in torch (momentum, lr), like specs/nesterov.py
lr = hyper("lr", 1e-3, latex=r"\eta", domain="positive", doc="step size")
momentum = hyper("momentum", 0.9, latex=r"\alpha", domain="[0, 1)", doc="momentum factor")
v = state("v", 0, doc="velocity")


def heavy_ball():
    """The blog post 'Some Deep Learning Optimizers': v_t = alpha v_{t-1} - eta grad F(theta_t), theta_{t+1} = theta_t + v_t."""
    return Spec("heavy_ball_blog", [(v, momentum * v - lr * g), (w, w + v)])


def shifted():
    """The blog post 'Some Deep Learning Optimizers': the same, with the gradient at theta + alpha v (Side.grad_at)."""
    return Spec("nesterov_shifted_blog", [(v, momentum * v - lr * g), (w, w + v)])


def objax_nag():
    """The objax optimizer docs: v_k = mu v_{k-1} + grad f(.), w_k = w_{k-1} - eta v_k."""
    return Spec("objax_nag_doc", [(v, momentum * v + g), (w, w - lr * v)])


SHIFTED = Side(shifted, grad_at=w + momentum * v, label="the blog post's shifted-gradient form")
TORCH_NESTEROV = Side("momentum", options={"nesterov": True}, hypers={"dampening": 0, "weight_decay": 0},
                      label="momentum(nesterov=True, dampening=0)")
TORCH_HEAVY = Side("momentum", options={"nesterov": False}, hypers={"dampening": 0, "weight_decay": 0},
                   label="momentum(dampening=0)")

claims = [
    Equivalence(
        name="nesterov_shifted_is_reparametrised", about=("nesterov",), source="the blog post 'Some Deep Learning Optimizers', Nesterov",
        statement="with u = theta + alpha v, the shifted-gradient form and the reparametrised form "
                  "(specs/nesterov.py) take the same steps: one step from related states keeps them related",
        left=SHIFTED, right=Side("nesterov"), grads="function", start="symbolic", steps=1,
        state_map={"w": "w + momentum*v", "v": "v"},
        observe=[("w + momentum*v", "w"), ("v", "v")]),
    Equivalence(
        name="nesterov_shifted_is_reparametrised_k_steps", about=("nesterov",), source="the blog post 'Some Deep Learning Optimizers', Nesterov",
        statement="unrolled from v_0 = 0, the reparametrised iterate is theta_t + alpha v_t of the shifted form",
        left=SHIFTED, right=Side("nesterov"), grads="function", steps=4,
        observe=[("w + momentum*v", "w")]),
    Equivalence(
        name="nesterov_reparametrised_is_torch", about=("nesterov", "momentum"),
        source="the blog post 'Some Deep Learning Optimizers'; torch.optim.SGD(nesterov=True)",
        statement="the reparametrised form is torch's SGD(nesterov=True, dampening=0), with v = -lr buf",
        left=Side("nesterov"), right=TORCH_NESTEROV, steps=4,
        observe=[("w", "w"), ("v", "-lr*buf")]),
    Equivalence(
        name="nesterov_shifted_is_torch", about=("momentum",), source="the blog post 'Some Deep Learning Optimizers'; torch.optim.SGD(nesterov=True)",
        statement="torch's Nesterov iterate is theta_t + alpha v_t of the shifted-gradient form",
        left=SHIFTED, right=TORCH_NESTEROV, grads="function", steps=3,
        observe=[("w + momentum*v", "w")]),
    Equivalence(
        name="heavy_ball_blog_is_torch", about=("momentum",), source="the blog post 'Some Deep Learning Optimizers', Momentum; torch.optim.SGD",
        statement="the blog post's heavy ball is torch's SGD(momentum, dampening=0), with v = -lr buf",
        left=Side(heavy_ball, label="the blog post's heavy ball"), right=TORCH_HEAVY, steps=4,
        observe=[("w", "w"), ("v", "-lr*buf")]),
    Equivalence(
        name="objax_nag_doc_as_printed", about=("momentum",), source="the objax optimizer docs, Momentum page",
        statement="objax's printed NAG, gradient at w + mu v, is Nesterov's shifted form (v_blog = -eta v)",
        xfail="the look-ahead point has the wrong sign and lacks eta: it should be w - eta mu v",
        left=Side(objax_nag, grad_at=w + momentum * v, label="objax page NAG (as printed)"),
        right=SHIFTED, grads="function", steps=2, observe=[("w", "w")]),
    Equivalence(
        name="objax_nag_doc_corrected", about=("momentum",), source="the objax optimizer docs, Momentum page",
        statement="with the look-ahead point w - eta mu v, objax's NAG is Nesterov's shifted form",
        left=Side(objax_nag, grad_at=w - lr * momentum * v, label="objax page NAG (w - eta mu v)"),
        right=SHIFTED, grads="function", steps=3, observe=[("w", "w"), ("-lr*v", "v")]),
]
