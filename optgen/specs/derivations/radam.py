"""Derivations about RAdam (Liu et al. 2020, arXiv:1908.03265; the blog post 'Some Deep Learning Optimizers', "Radam"; specs/radam.py).

rho_t is the length of the simple moving average (SMA) whose centre of mass
equals that of the bias-corrected EMA of the squared gradients. The EMA gives
the gradient of age i (i = 0 the newest) the weight (1 - b2) b2^i / (1 - b2^t),
i < t, so its centre of mass is sum_i i (1 - b2) b2^i / (1 - b2^t); an SMA of
length f has centre of mass (f - 1)/2. Equating them,

    rho_t = 2 sum_{i<t} i (1 - b2) b2^i / (1 - b2^t) + 1 = 2/(1 - b2) - 1 - 2 t b2^t / (1 - b2^t).

It tends to rho_inf = 2/(1 - b2) - 1 as t -> oo (0 < b2 < 1; checked with
b2 = exp(-lam), lam > 0), and rho_1 = 1, rho_2 = (1 + 3 b2)/(1 + b2) in (1, 2).
The rectification r_t = sqrt((rho_t - 4)(rho_t - 2) rho_inf / ((rho_inf - 4)(rho_inf - 2) rho_t))
is real exactly for rho_t in (0, 2] or [4, oo) (when rho_inf > 4, i.e. b2 > 3/5):
at t = 1 and 2 it is real although the variance is intractable there. A spec
must therefore branch on rho_t > 4, not on r_t being real; a formulation that
branches on "r_t is real" takes a rectified step at t = 1 (an expected failure).
the blog post 'Some Deep Learning Optimizers' prints the last term of rho_t as 2 t b2^2 / (1 - b2^t): a misprint
(it agrees only at t = 2; at t = 1 it gives rho_1 = 1 + 2 b2).
"""
import sympy
from sympy import Eq, Interval, Rational, Sum, S, exp, sqrt

from optgen.dsl import Spec, hyper, state, var, when, w, g, t
from optgen.verify import Equivalence, Identity, Limit, Side, SolutionSet
from optgen.verify.symbols import sym
from optgen.verify.unroll import intermediate

beta2 = hyper("beta2", 0.999, r"\beta_2", "[0, 1)")   # RAdam's, as its spec declares it
i = sympy.Symbol("i", integer=True, nonnegative=True)
lam = sym("lam", r"\lambda", positive=True)
rho, q = sym("rho", r"\rho"), sym("q", "q", positive=True)

rho_inf = 2 / (1 - beta2) - 1
rho_t = rho_inf - 2 * t * beta2**t / (1 - beta2**t)
rho_printed = rho_inf - 2 * t * beta2**2 / (1 - beta2**t)          # the blog post as printed
centre_of_mass = Sum(i * (1 - beta2) * beta2**i, (i, 0, t - 1)) / (1 - beta2**t)


def radicand(r, r_inf):
    return (r - 4) * (r - 2) * r_inf / ((r_inf - 4) * (r_inf - 2) * r)


# --- the blog post's algorithm, written from the text (eps-free adaptive modifier l_t) -----------
def radam_as_in_blog(branch="rho"):
    lr, b1, b2 = (hyper("lr", 1e-3, r"\eta", "positive"), hyper("beta1", 0.9, r"\beta_1", "[0, 1)"),
                  hyper("beta2", 0.999, r"\beta_2", "[0, 1)"))
    m, v = state("m", 0), state("v", 0)
    m_hat, r_inf, r_t, rt, l_t = var("m_hat"), var("rho_inf"), var("rho_t"), var("r_t"), var("l_t")
    test = r_t > 4 if branch == "rho" else radicand(r_t, r_inf) >= 0
    return Spec("radam_blog" if branch == "rho" else "radam_branch_on_r_real", [
        (m, b1 * m + (1 - b1) * g),
        (v, b2 * v + (1 - b2) * g**2),
        (m_hat, m / (1 - b1**t)),
        (r_inf, 2 / (1 - b2) - 1),
        (r_t, r_inf - 2 * t * b2**t / (1 - b2**t)),
        (rt, sqrt(radicand(r_t, r_inf))),
        (l_t, sqrt(1 - b2**t) / sqrt(v)),
        (w, when(test, w - lr * rt * m_hat * l_t, w - lr * m_hat)),
    ], doc="the blog post's RAdam")


B2 = Rational(999, 1000)   # concrete, so that the branch conditions are decided at each step
SPEC = dict(hypers={"beta2": B2, "eps": 0, "weight_decay": 0}, options={"decoupled_weight_decay": False})

claims = [
    Identity(
        name="radam_rho_is_sma_length", about=("radam",), source="the blog post 'Some Deep Learning Optimizers', Radam",
        statement="rho_t = 2 (centre of mass of the bias-corrected EMA) + 1 = 2/(1-b2) - 1 - 2 t b2^t/(1-b2^t)",
        lhs=2 * centre_of_mass + 1, rhs=rho_t, assume_false=(Eq(beta2, 1),)),
    Identity(
        name="radam_spec_rho_t", about=("radam",), source="specs/radam.py",
        statement="the radam spec computes rho_t by the derived formula",
        lhs=lambda: intermediate(Side("radam"), "rho_t"), rhs=rho_t),
    Limit(
        name="radam_rho_limit", about=("radam",), source="the blog post 'Some Deep Learning Optimizers', Radam",
        statement="rho_t -> rho_inf = 2/(1-b2) - 1 as t -> oo, for 0 < b2 < 1 (b2 = exp(-lam), lam > 0)",
        expr=rho_t, var=t, point=sympy.oo, value=rho_inf, substitute={beta2: exp(-lam)}),
    Identity(
        name="radam_rho_1", about=("radam",), source="issue 5",
        statement="rho_1 = 1 for every b2", lhs=rho_t.xreplace({t: 1}), rhs=1),
    Identity(
        name="radam_rho_2", about=("radam",), source="issue 5",
        statement="rho_2 = (1 + 3 b2)/(1 + b2)", lhs=rho_t.xreplace({t: 2}), rhs=(1 + 3 * beta2) / (1 + beta2)),
    SolutionSet(
        name="radam_rho_2_below_2", about=("radam",), source="issue 5",
        statement="0 < rho_2 < 2 for every 0 < b2 < 1: no b2 in (0, 1) has rho_2 <= 0 or rho_2 >= 2",
        condition=sympy.Or((1 + 3 * beta2) / (1 + beta2) <= 0, (1 + 3 * beta2) / (1 + beta2) >= 2),
        var=beta2, domain=Interval.open(0, 1), expected=S.EmptySet),
    SolutionSet(
        name="radam_r_real_set", about=("radam",), source="the blog post 'Some Deep Learning Optimizers', Radam; issue 5",
        statement="for rho_inf > 4, r_t is real exactly when rho_t in (0, 2] or [4, oo)",
        condition=radicand(rho, 4 + q) >= 0, var=rho, domain=S.Reals,
        expected=sympy.Union(Interval.Lopen(0, 2), Interval(4, sympy.oo))),
    SolutionSet(
        name="radam_r_1_real", about=("radam",), source="issue 5",
        statement="r_1 is real for every b2 in (3/5, 1) (rho_inf > 4): no b2 there makes its radicand negative",
        condition=radicand(1, rho_inf) < 0, var=beta2, domain=Interval.open(Rational(3, 5), 1),
        expected=S.EmptySet),
    Identity(
        name="radam_rho_blog_misprint", about=("radam",), source="the blog post 'Some Deep Learning Optimizers', Radam",
        statement="the blog post's rho_t = 2/(1-b2) - 1 - 2 t b2^2/(1-b2^t) is the derived rho_t",
        xfail="misprint: b2^2 for b2^t (equal only at t = 2)", lhs=rho_printed, rhs=rho_t),
    Equivalence(
        name="radam_spec_is_blog", about=("radam",), source="the blog post 'Some Deep Learning Optimizers', Radam; specs/radam.py",
        statement="specs/radam.py with the paper's threshold 4 and eps = 0 is the blog post's RAdam "
                  "(b2 = 0.999: un-rectified for t <= 4, rectified from t = 5)",
        left=Side("radam", **{**SPEC, "hypers": {**SPEC["hypers"], "rho_threshold": 4}}),
        right=Side(radam_as_in_blog, hypers={"beta2": B2}, label="the blog post's RAdam"), steps=6,
        atomize={"v": "positive"}),
    Equivalence(
        name="radam_torch_threshold_5", about=("radam",), source="torch.optim.RAdam; specs/radam.py",
        statement="torch's threshold rho_t > 5 gives the same steps as the paper's rho_t > 4 (b2 = 0.999)",
        xfail="they differ at t = 5, where rho_5 = 4.993 is in (4, 5]",
        left=Side("radam", **{**SPEC, "hypers": {**SPEC["hypers"], "rho_threshold": 5}}),
        right=Side(radam_as_in_blog, hypers={"beta2": B2}, label="the blog post's RAdam"), steps=6,
        atomize={"v": "positive"}),
    Equivalence(
        name="radam_branch_on_r_real", about=("radam",), source="issue 5",
        statement="branching on 'r_t is real' instead of on rho_t > 4 gives the same steps (b2 = 0.999)",
        xfail="r_1 and r_2 are real (rho_1 = 1, rho_2 < 2), so it takes rectified steps at t = 1, 2",
        left=Side(lambda: radam_as_in_blog("r_real"), hypers={"beta2": B2}, label="RAdam branching on r_t real"),
        right=Side(radam_as_in_blog, hypers={"beta2": B2}, label="the blog post's RAdam"), steps=3,
        atomize={"v": "positive"}),
]
