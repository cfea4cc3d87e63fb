"""Derivations about Adam: the blog post 'Some Deep Learning Optimizers' ("Adam": EMA unrolling, bias correction) and
the objax optimizer docs (objax's Adam page, and what objax's code computes instead).

* The moments are exponential moving averages; unrolled,
  ``v_t = (1 - b2) sum_{i=0}^{t-1} b2^i g_{t-i}^2`` (and the same for ``m``).
* For a stationary gradient (``E[g_j^2] = sigma^2`` for all j),
  ``E[v_t] = (1 - b2^t) sigma^2``: ``v_t / (1 - b2^t)`` is unbiased.
* AdamW with weight decay 0 is Adam (without the L2 penalty).
* objax's Adam vs the paper's: with ``c_i = 1 - b_i^t`` the objax step is
  ``lr sqrt(c2)/c1 * m / sqrt(v + eps)`` and the paper's
  ``lr (m/c1) / (sqrt(v/c2) + eps)``. Their difference is exactly
  ``-lr mhat (1/sqrt(vhat + eps/c2) - 1/(sqrt(vhat) + eps))``: objax is the paper's
  Adam with eps moved inside the root *and* divided by ``1 - b2^t`` (because the
  bias correction is folded into the step size). With eps = 0 they are equal.
* the objax optimizer docs print ``s_k = b2 s_{k-1} - (1 - b2)(grad f)^2``: a sign error (the
  second moment would be negative and its root imaginary). Written against the
  Adam spec, the claim fails at step 1; with the sign corrected, the page's
  equations are the paper's Adam.
"""
import sympy
from sympy import Eq, Sum, sqrt

from optgen.dsl import Spec, hyper, state, var, w, g, t
from optgen.verify import GRAD as G, ClosedForm, Equivalence, Expectation, Side
from optgen.verify.symbols import sym

# Adam's symbols, as its spec declares them (the same objects: a symbol is its name and kind)
lr = hyper("lr", 1e-3, r"\eta", "positive")
beta1, beta2 = hyper("beta1", 0.9, r"\beta_1", "[0, 1)"), hyper("beta2", 0.999, r"\beta_2", "[0, 1)")
eps = hyper("eps", 1e-8, r"\epsilon", "positive")
i = sympy.Symbol("i", integer=True, nonnegative=True)
sigma2 = sym("sigma2", r"\sigma^2", positive=True)
ADAM = Side("adam", hypers={"weight_decay": 0}, label="adam(weight_decay=0)")

v_closed = (1 - beta2) * Sum(beta2**i * G[t - i]**2, (i, 0, t - 1))
m_closed = (1 - beta1) * Sum(beta1**i * G[t - i], (i, 0, t - 1))

# --- objax: the residual, from arbitrary moments at an arbitrary step T ---------------------
T = sym("T", "T", integer=True, positive=True)
c1, c2 = sym("c1", r"c_1", positive=True), sym("c2", r"c_2", positive=True)   # 1 - beta_i^T > 0
eps_pos = sym("epsilon", r"\epsilon", positive=True)
m_, v_ = state("m"), state("v")                                                # after the step
mhat, vhat = m_ / (1 - beta1**t), v_ / (1 - beta2**t)
objax_residual = -lr * mhat * (1 / sqrt(vhat + eps / (1 - beta2**t)) - 1 / (sqrt(vhat) + eps))


# --- the objax optimizer docs' equations as printed (objax's v is the first moment, s the second) -----------
def objax_doc(sign=-1):
    lr_, b1, b2, ep = (hyper("lr", 1e-3, r"\eta", "positive"), hyper("beta1", 0.9, r"\beta_1", "[0, 1)"),
                       hyper("beta2", 0.999, r"\beta_2", "[0, 1)"), hyper("eps", 1e-8, r"\epsilon", "positive"))
    v, s = state("v", 0), state("s", 0)
    vh, sh = var("v_hat"), var("s_hat")
    name = "objax_doc_as_printed" if sign < 0 else "objax_doc_sign_fixed"
    return Spec(name, [
        (v, b1 * v + (1 - b1) * g),
        (s, b2 * s + sign * (1 - b2) * g**2),
        (vh, v / (1 - b1**t)),
        (sh, s / (1 - b2**t)),
        (w, w - lr_ * vh / (sqrt(sh) + ep)),
    ], doc="the objax optimizer docs, Adam page, equations as printed" + ("" if sign < 0 else " with the sign fixed"))


claims = [
    ClosedForm(
        name="adam_v_ema_unrolled", about=("adam",), source="the blog post 'Some Deep Learning Optimizers', Adam",
        statement="Adam's second moment unrolls to v_t = (1-b2) sum_{i<t} b2^i g_{t-i}^2",
        side=ADAM, target="v", closed=v_closed, t=t),
    ClosedForm(
        name="adam_m_ema_unrolled", about=("adam",), source="the blog post 'Some Deep Learning Optimizers', Adam",
        statement="Adam's first moment unrolls to m_t = (1-b1) sum_{i<t} b1^i g_{t-i}",
        side=ADAM, target="m", closed=m_closed, t=t),
    Expectation(
        name="adam_v_expectation", about=("adam",), source="the blog post 'Some Deep Learning Optimizers', Adam",
        statement="for stationary gradients (E[g_j^2] = sigma^2), E[v_t] = (1 - b2^t) sigma^2",
        expr=v_closed, value=(1 - beta2**t) * sigma2, moments={2: sigma2}, assume_false=(Eq(beta2, 1),)),
    Expectation(
        name="adam_vhat_unbiased", about=("adam",), source="the blog post 'Some Deep Learning Optimizers', Adam",
        statement="so v_t / (1 - b2^t) is an unbiased estimate of E[g^2]",
        expr=v_closed / (1 - beta2**t), value=sigma2, moments={2: sigma2}, assume_false=(Eq(beta2, 1),)),
    *[Equivalence(
        name="adamw_wd0_is_adam" + ("_amsgrad" if ams else ""), about=("adamw", "adam"),
        source="issue 5; torch.optim.AdamW",
        statement=f"AdamW with weight_decay = 0 is Adam (amsgrad={ams})",
        left=Side("adamw", options={"amsgrad": ams}, hypers={"weight_decay": 0}),
        right=Side("adam", options={"amsgrad": ams}, hypers={"weight_decay": 0}), steps=3)
      for ams in (False, True)],
    Equivalence(
        name="objax_adam_eps0_is_adam", about=("objax_adam", "adam"), source="the objax optimizer docs; objax/optimizer/adam.py",
        statement="with eps = 0, objax's Adam (bias correction folded into the step size) is Adam",
        left=Side("objax_adam", hypers={"eps": 0}), right=Side("adam", hypers={"eps": 0, "weight_decay": 0}),
        steps=3),
    Equivalence(
        name="objax_adam_residual", about=("objax_adam", "adam"), source="the objax optimizer docs; objax/optimizer/adam.py",
        statement="objax's step minus Adam's step is exactly -lr mhat (1/sqrt(vhat + eps/(1-b2^t)) - 1/(sqrt(vhat)+eps)), "
                  "from any moments at any step t (the moment updates are equal)",
        left=Side("objax_adam"), right=ADAM, start="symbolic", steps=1,
        observe=[("w", "w"), ("m", "m"), ("v", "v")], residual=objax_residual,
        atomize={"m": "real", "v": "positive"},
        substitute={beta1**T: 1 - c1, beta2**T: 1 - c2, eps: eps_pos}),
    Equivalence(
        name="objax_doc_sk_sign_error", about=("adam",), source="the objax optimizer docs, Adam page",
        statement="the page's s_k = b2 s_{k-1} - (1-b2)(grad f)^2 is Adam's second moment",
        xfail="sign error on the page: the squared gradient is added, not subtracted",
        left=Side(lambda: objax_doc(-1), label="objax page (as printed)"), right=ADAM,
        observe=[("s", "v"), ("w", "w")], steps=2),
    Equivalence(
        name="objax_doc_sign_fixed_is_adam", about=("adam",), source="the objax optimizer docs, Adam page",
        statement="with the sign fixed, the page's equations (v, s, bias corrections, eps outside the root) are Adam: "
                  "one step from equal states at any step t keeps them equal",
        left=Side(lambda: objax_doc(+1), label="objax page (sign fixed)"), right=ADAM,
        start="symbolic", steps=1, state_map={"m": "v", "v": "s"},
        observe=[("w", "w"), ("v", "m"), ("s", "v")], atomize={"v": "real", "s": "positive", "m": "real"},
        substitute={beta1**T: 1 - c1, beta2**T: 1 - c2, eps: eps_pos}),
]
