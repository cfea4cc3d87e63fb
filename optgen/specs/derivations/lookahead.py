"""Derivations about Lookahead (Zhang et al. 2019, arXiv:1907.08610; the blog post 'Some Deep Learning Optimizers', "Lookahead").

The slow weights follow phi_t = phi_{t-1} + alpha (theta_t - phi_{t-1}), where
theta_t are the fast weights after the t-th round of k inner steps (the blog post 'Some Deep Learning Optimizers'
writes phi_{t+1} = phi_t + alpha (theta_{t+1,k} - phi_t)). Unrolled,

    phi_t = (1 - alpha)^t phi_0 + alpha sum_{i=0}^{t-1} (1 - alpha)^i theta_{t-i},

an exponential moving average whose weights sum to 1. The blog post 'Some Deep Learning Optimizers' prints
phi_{t+1} = (1 - alpha)^t phi_0 + alpha sum_{i=0}^{t} (1 - alpha)^i theta_{t-i,k}: the
weight of phi_0 is one power of (1 - alpha) short (its weights sum to
1 + alpha (1 - alpha)^t), and its theta index is one behind its own recursion.
Both readings of the printed formula are claims that must fail.

The lookahead transform (optgen.transforms.lookahead) implements the recursion:
its slow weights after round n equal the closed form, with theta_n the fast
weights its inner spec computes at step n k (before they are reset to phi).
With k = 1 and alpha = 1, lookahead is its inner optimizer.
"""
import sympy
from sympy import Sum

from optgen.transforms import lookahead
from optgen.verify import ClosedForm, Equivalence, Side
from optgen.dsl import hyper, t
from optgen.verify.symbols import sym

alpha = hyper("alpha", 0.5, r"\alpha", "[0, 1]")   # lookahead's slow step size
theta = sympy.IndexedBase("theta")
phi0, phi_prev = sym("phi_0", r"\phi_0"), sym("phi_prev", r"\phi_{t-1}")
w0 = sym("w_0", "w_{0}")
i = sympy.Symbol("i", integer=True, nonnegative=True)

recursion = phi_prev + alpha * (theta[t] - phi_prev)            # phi_t from phi_{t-1}
ema = (1 - alpha)**t * phi0 + alpha * Sum((1 - alpha)**i * theta[t - i], (i, 0, t - 1))
# the blog post as printed, phi_{t+1} = ..., read as phi_t (t -> t - 1):
printed = (1 - alpha)**(t - 1) * phi0 + alpha * Sum((1 - alpha)**i * theta[t - 1 - i], (i, 0, t - 1))
# the same with the theta index re-read to match the recursion (only the phi_0 weight differs):
printed_reindexed = (1 - alpha)**(t - 1) * phi0 + alpha * Sum((1 - alpha)**i * theta[t - i], (i, 0, t - 1))

K = 2  # inner steps per round in the check against the transform


def rounds(traj, n):
    """theta_m = the fast weights the inner spec computes at step m k, before the sync."""
    return {theta[m]: traj.assigned(m * K, "w", 0) for m in range(1, n + 1)}


claims = [
    ClosedForm(
        name="lookahead_ema_closed_form", about=("lookahead",), source="the blog post 'Some Deep Learning Optimizers', Lookahead",
        statement="the slow weights unroll to phi_t = (1-alpha)^t phi_0 + alpha sum_{i<t} (1-alpha)^i theta_{t-i}",
        recurrence=recursion, previous=phi_prev, initial=phi0, closed=ema, t=t, steps=5),
    ClosedForm(
        name="lookahead_ema_blog_as_printed", about=("lookahead",), source="the blog post 'Some Deep Learning Optimizers', Lookahead",
        statement="the blog post's unrolled EMA, phi_{t+1} = (1-alpha)^t phi_0 + alpha sum_{i<=t} (1-alpha)^i theta_{t-i,k}",
        xfail="misprint: phi_0 needs (1-alpha)^(t+1), and theta_{t-i} is one round behind the recursion",
        recurrence=recursion, previous=phi_prev, initial=phi0, closed=printed, t=t, steps=5),
    ClosedForm(
        name="lookahead_ema_blog_theta_reindexed", about=("lookahead",), source="the blog post 'Some Deep Learning Optimizers', Lookahead",
        statement="the blog post's unrolled EMA with the theta index read as theta_{t+1-i,k}",
        xfail="misprint: the weight of phi_0 is (1-alpha)^(t+1), not (1-alpha)^t",
        recurrence=recursion, previous=phi_prev, initial=phi0, closed=printed_reindexed, t=t, steps=5),
    ClosedForm(
        name="lookahead_transform_is_ema", about=("lookahead", "momentum"),
        source="the blog post 'Some Deep Learning Optimizers', Lookahead; optgen.transforms.lookahead",
        statement=f"lookahead(momentum, k={K}): the slow weights after round n are the EMA of the fast weights "
                  "theta_m at the ends of the rounds, with phi_0 = w_0",
        side=Side(lambda: lookahead("momentum"), hypers={"k": K, "weight_decay": 0, "dampening": 0},
                  label=f"lookahead(momentum, k={K})"),
        target="phi", closed=ema.xreplace({phi0: w0}), t=t, steps=3, induction=False,
        at=lambda n: n * K, bind=rounds),
    *[Equivalence(
        name=f"lookahead_k1_alpha1_is_{inner}", about=("lookahead", inner), source="issue 5",
        statement=f"lookahead({inner}) with k = 1 and alpha = 1 is {inner}",
        left=Side(lambda inner=inner: lookahead(inner), hypers={"k": 1, "alpha": 1, **extra},
                  label=f"lookahead({inner}, k=1, alpha=1)"),
        right=Side(inner, hypers=extra), steps=3)
      for inner, extra in (("sgd", {}), ("adam", {"weight_decay": 0}))],
]
