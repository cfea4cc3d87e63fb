"""Scale invariance and the exponential learning rate (the note on exponential learning rates; Li & Arora 2019,
"An Exponential Learning Rate Schedule for Deep Learning", arXiv:1910.07454).

Lemma. If L(c theta) = L(theta) for all c > 0, then <grad L(theta), theta> = 0 and
grad L(c theta) = grad L(theta) / c. (Every such L is F(theta / |theta|); the
claim takes F uninterpreted, so it covers all of them.)

Theorem. On such a loss, torch's SGD with momentum mu (dampening 0), a constant
learning rate eta and L2 weight decay lambda produces w_t = alpha^t u_t, where u_t
is SGD with the same momentum, *no* weight decay and the exponentially growing
learning rate eta_t = eta alpha^(1 - 2t) (t = 1, 2, ...), started from the buffer
b_0 = (alpha - 1) / (alpha eta) w_0; alpha is a root of

    alpha^2 - (1 + mu - eta lambda) alpha + mu = 0.

Since L(alpha^t u) = L(u), both runs compute the same functions ("equivalent in
function space"). alpha and the schedule are *derived* below from the momentum
spec's equations (eliminate the buffer from two steps, substitute w_t = alpha^t u_t
and grad L(alpha^t u) = grad L(u) / alpha^t, match coefficients with the same
elimination applied to the no-decay spec with a free learning-rate sequence).
The check: a 2-dimensional parameter, a gradient oracle that knows only the
lemma (grad L(c p) = grad L(p)/c), three steps, symbolic; the numeric fallback
would use the Rayleigh quotient x'Ax / x'x, a scale-invariant model.
Without the initial buffer the equivalence fails at step 1 (unless mu = 0).
"""
import sympy

from optgen.dsl import Spec, hyper, state, w, g, t
from optgen.verify import Equivalence, Identity, ScaleInvariance, Side
from optgen.verify.symbols import sym
from optgen.verify.unroll import unroll
from optgen.verify.oracles import Sequence

# the momentum spec's symbols (the same objects as its own)
lr = hyper("lr", 1e-3, r"\eta", "positive")
gamma = hyper("momentum", 0.9, r"\mu", "positive")
lam = hyper("weight_decay", 0.0, r"\lambda", "nonnegative")
buf = state("buf", 0, latex="b")                # momentum_rule's buffer
alpha = sym("alpha_lr", r"\alpha", positive=True)


def momentum_rule():
    """torch's momentum recursion without its t = 1 special case (the buffer may start nonzero)."""
    lr_, mom = hyper("lr", 1e-3, r"\eta", "positive"), hyper("momentum", 0.9, r"\mu", "[0, 1)")
    buf = state("buf", 0, latex="b")
    return Spec("momentum_rule", [(buf, mom * buf + g), (w, w - lr_ * buf)])


def derive():
    """alpha's equation and the learning-rate ratio, from the specs' equations."""
    T = sym("T", integer=True, positive=True)
    eta = sympy.Function("eta")            # a free learning-rate sequence for the no-decay run
    # two steps of each, from arbitrary states, at steps T+1, T+2 (past torch's t = 1 case)
    decay = unroll(Side("momentum", hypers={"dampening": 0}), 2, Sequence(), start=T + 1, states0="symbolic")
    plain = unroll(Side(momentum_rule, hypers={"lr": eta(t)}), 2, Sequence(), start=T + 1, states0="symbolic")
    out = []
    for traj in (decay, plain):
        w0, w1, w2 = (traj.envs[j][0][w] for j in range(3))
        b0 = traj.envs[0][0][buf]
        g2 = next(iter(w2.atoms(sympy.Indexed) - w1.atoms(sympy.Indexed)))
        # eliminate the buffer: w2 = A w1 + B w0 + C grad(w1)
        W0, W1 = sympy.symbols("W0 W1")
        b_of = sympy.solve(sympy.Eq(w1, W1), b0)[0]
        rhs = sympy.expand(w2.xreplace({b0: b_of}).xreplace({w0: W0}))
        out.append({k: sympy.simplify(rhs.coeff(x)) for k, x in (("A", W1), ("B", W0), ("C", g2))})
    d, p = out
    # w_t = a^t u_t turns the decay recursion into u2 = (A/a) u1 + (B/a^2) u0 + (gradient term);
    # it must be the plain one, whose coefficients involve r = eta_(t+1)/eta_t
    r = sympy.Symbol("r", positive=True)   # eta(T+2) / eta(T+1)
    a = sympy.Symbol("a", positive=True)
    pr = {k: v.xreplace({eta(T + 2): r * eta(T + 1)}) for k, v in p.items()}
    sol = sympy.solve([sympy.Eq(d["A"] / a, pr["A"]), sympy.Eq(d["B"] / a**2, pr["B"])], [r, lam], dict=True)[0]
    return sol[r].xreplace({a: alpha}), sol[lam].xreplace({a: alpha})


RATIO, LAMBDA = derive()   # eta_{t+1}/eta_t = 1/alpha^2; lambda in terms of alpha

SCHEDULE = lr * alpha ** (1 - 2 * t)            # eta_t, with eta_1 = eta / alpha
B0 = (alpha - 1) / (alpha * lr)                 # initial buffer, per unit of w_0
RIGHT = dict(hypers={"lr": SCHEDULE}, label="no weight decay, lr eta alpha^(1-2t)")
COMMON = dict(grads="scale_invariant", dim=2, steps=3,
              observe=[("w", w * alpha**t)],
              ranges={gamma: (sympy.Rational(1, 10), sympy.Rational(9, 10)), alpha: (gamma, 1)})
LEFT = Side("momentum", options={"nesterov": False}, hypers={"dampening": 0, "weight_decay": LAMBDA},
            label="momentum(weight_decay=lambda(alpha)), constant lr")

claims = [
    ScaleInvariance(
        name="scale_invariance_lemma", source="the note on exponential learning rates, Lemma",
        statement="L(c theta) = L(theta) for c > 0 implies <grad L, theta> = 0 and grad L(c theta) = grad L(theta)/c "
                  "(L = F(theta/|theta|), F uninterpreted, theta in R^3)", dim=3),
    ScaleInvariance(
        name="scale_invariance_rayleigh", source="the note on exponential learning rates",
        statement="the Rayleigh quotient theta'A theta / theta'theta (the numeric model) is scale-invariant",
        dim=2, loss=lambda th: (2 * th[0]**2 + th[0] * th[1] - 3 * th[1]**2) / (th[0]**2 + th[1]**2)),
    Identity(
        name="exp_lr_schedule_ratio", about=("momentum",), source="the note on exponential learning rates, Theorem (Li & Arora 2019)",
        statement="the schedule eta_t = eta alpha^(1-2t) grows by the ratio derived from the specs' equations "
                  "(eliminating the momentum buffer and matching w_t = alpha^t u_t)",
        lhs=SCHEDULE.xreplace({t: t + 1}) / SCHEDULE, rhs=RATIO),
    Equivalence(
        name="exp_lr_equivalence", about=("momentum",), source="the note on exponential learning rates, Theorem (Li & Arora 2019)",
        statement=(f"weight decay + constant lr + momentum = exponentially growing lr: w_t = alpha^t u_t, "
                   f"with derived eta_(t+1)/eta_t = {RATIO}, lambda = {sympy.simplify(LAMBDA)} "
                   f"(i.e. alpha^2 - (1 + mu - eta lambda) alpha + mu = 0, mu the momentum), u's buffer starting at "
                   f"(alpha - 1)/(alpha eta) w_0"),
        left=LEFT, right=Side(momentum_rule, init={"buf": B0 * w}, **RIGHT), **COMMON),
    Equivalence(
        name="exp_lr_equivalence_every_step", about=("momentum",), source="the note on exponential learning rates, Theorem (Li & Arora 2019)",
        statement="the same for every number of steps: one step from states related by u = w / alpha^t, "
                  "b_u = alpha^(t-1) (alpha b + (alpha - 1) w / eta) at any step t >= 1 keeps them related",
        left=LEFT, right=Side(momentum_rule, init={"buf": B0 * w}, **RIGHT),
        **{**COMMON, "steps": 1, "observe": [
            ("w", w * alpha**t),
            (alpha**(t - 1) * (alpha * buf + (alpha - 1) * w / lr),
             "buf")]},
        start="symbolic", start_offset=1,
        state_map={"w": w / alpha**t,
                   "buf": alpha**(t - 1) * (alpha * buf
                                            + (alpha - 1) * w / lr)}),
    Equivalence(
        name="exp_lr_without_initial_buffer", about=("momentum",), source="the note on exponential learning rates, Theorem",
        statement="the same with u's buffer starting at 0",
        xfail="the first step differs unless mu = 0: the growing-lr run needs the initial buffer",
        left=LEFT, right=Side(momentum_rule, **RIGHT), **COMMON),
]
