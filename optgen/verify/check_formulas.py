"""Checkers for claims about formulas: identities, limits, expectations, solution
sets, and properties of a loss (see :mod:`.claims`). Shared helpers are in
:mod:`.check`."""
from __future__ import annotations

import sympy

from . import claims as C
from .oracles import GRAD
from .outcomes import N_POINTS, failure, full_values, summary, values_at
from .prove import Timeout, check_zero, display, samplers_for, symbolic_zero, time_limit
from .sums import assume, expectation
from .symbols import Sampler, claim_domains, sym, variables

__all__ = ["check_identity", "check_limit", "check_expectation", "check_solution_set",
           "check_scale_invariance", "check_bound"]


def check_identity(c: C.Identity, steps: int | None) -> C.Result:
    subs = dict(c.substitute)
    lhs, rhs = C.evaluated(c.lhs), C.evaluated(c.rhs)
    d = assume((lhs - rhs).doit(), c.assume_false).xreplace(subs)
    samplers = samplers_for(N_POINTS + 4, ranges=c.ranges, domains=claim_domains(c))
    proof = check_zero(d, samplers, timeout=10)
    if proof.holds is False:
        vals = values_at(full_values(samplers, proof.counterexample),
                          lhs=assume(lhs.doit(), c.assume_false).xreplace(subs),
                          rhs=assume(rhs.doit(), c.assume_false).xreplace(subs))
        return failure(c, proof, "the two sides differ", None, d, vals)
    if proof.holds and proof.method == "numeric" and c.t is not None:
        k = steps or c.steps
        t = c.t
        if all(symbolic_zero(d.xreplace({t: n}).doit(), timeout=5) for n in range(1, k + 1)):
            return C.Result(c, True, "symbolic", f"each t = 1..{k}", detail=f"for t <= {k}; "
                            f"numeric for symbolic t ({proof.how})")
    return C.Result(c, proof.holds, proof.method, proof.how, detail="")


def check_limit(c: C.Limit, steps: int | None) -> C.Result:
    subs = dict(c.substitute)
    expr, value = C.evaluated(c.expr).xreplace(subs), C.evaluated(c.value).xreplace(subs)
    var = c.var
    try:
        with time_limit(15):
            found = sympy.limit(expr, var, c.point)
        how = symbolic_zero(found - value)
        if how is not None:
            return C.Result(c, True, "symbolic", f"sympy.limit = {found}; equal by {how}")
    except (Timeout, NotImplementedError, ValueError):
        found = None
    # numeric: the difference at growing var, at random values of the other symbols
    s = Sampler(seed=3, domains=claim_domains(c))
    errs = []
    for x in (10**2, 10**4, 10**6):
        e = (expr - value).xreplace({var: x})
        errs.append(abs(complex(s.evaluate(e))))
    decreasing = errs[-1] < 1e-6 and errs[-1] <= errs[0]
    how = "at var = 1e2, 1e4, 1e6: |difference| = " + ", ".join(f"{e:.2g}" for e in errs)
    if decreasing:
        return C.Result(c, True, "numeric", how, detail=f"sympy.limit gave {found}")
    return C.Result(c, False, "numeric", how, detail="does not approach the value",
                    counterexample={str(k): v for k, v in s.values.items()})


def check_expectation(c: C.Expectation, steps: int | None) -> C.Result:
    base = c.base if c.base is not None else GRAD
    moments = {k: sympy.sympify(v) for k, v in c.moments.items()}
    e = assume(expectation(sympy.sympify(c.expr), moments, base).doit(), c.assume_false)
    d = e - sympy.sympify(c.value)
    proof = check_zero(d, samplers_for(N_POINTS + 2, domains=claim_domains(c)))
    if proof.holds is False:
        return failure(c, proof, f"E[...] = {display(e) or '(large)'}", None, d)
    return C.Result(c, proof.holds, proof.method, "linearity of E, moments given; " + proof.how,
                    detail=f"E[...] = {e}")


def _solve(cond, var, domain):
    if isinstance(cond, sympy.Or):
        return sympy.Union(*[_solve(a, var, domain) for a in cond.args])
    if isinstance(cond, sympy.And):
        return sympy.Intersection(*[_solve(a, var, domain) for a in cond.args])
    return sympy.solveset(cond, var, domain)


def check_solution_set(c: C.SolutionSet, steps: int | None) -> C.Result:
    var, cond = c.var, C.evaluated(c.condition)
    with time_limit(20):
        found = _solve(cond, var, c.domain)
    missing = sympy.Complement(c.expected, found)
    extra = sympy.Complement(found, c.expected)
    if missing == sympy.S.EmptySet and extra == sympy.S.EmptySet:
        # an independent numeric look at the same statement
        bad = _set_disagreement(cond, var, c.domain, c.expected)
        if bad is None:
            return C.Result(c, True, "symbolic", "solveset; confirmed at 200 points", detail=f"set = {found}")
        return C.Result(c, None, "numeric", "solveset and sampling disagree", detail=f"at {var} = {bad}")
    point = _point_in(missing if missing != sympy.S.EmptySet else extra)
    return C.Result(c, False, "symbolic", "solveset", detail=f"the set is {found}",
                    counterexample={str(var): point} if point is not None else None,
                    difference=None)


def _point_in(s):
    try:
        if isinstance(s, sympy.FiniteSet):
            return next(iter(s))
        for piece in (s.args if isinstance(s, sympy.Union) else [s]):
            if isinstance(piece, sympy.Interval):
                lo, hi = piece.inf, piece.sup
                if hi == sympy.oo:
                    return lo + 1
                return (lo + hi) / 2
            if isinstance(piece, sympy.FiniteSet):
                return next(iter(piece))
    except Exception:  # only for the message
        return None
    return None


def _set_disagreement(cond, var, domain, expected, n=200):
    lo = float(domain.inf) if domain.inf.is_finite else -20.0
    hi = float(domain.sup) if domain.sup.is_finite else 20.0
    free = variables(cond) - {var}
    if free:
        return None  # parametric: covered by the symbolic result only
    for k in range(n):
        x = sympy.Rational(round((lo + (hi - lo) * (k + 0.5) / n) * 1000), 1000)
        if x not in domain:
            continue
        truth = cond.xreplace({var: x})
        if truth not in (sympy.true, sympy.false):
            truth = bool(sympy.N(truth))
        if bool(truth) != bool(expected.contains(x)):
            return x
    return None


# --- loss properties -------------------------------------------------------------------------

def check_scale_invariance(c: C.ScaleInvariance, steps: int | None) -> C.Result:
    theta = [sym(f"theta_{i}", r"\theta_{%d}" % i) for i in range(1, c.dim + 1)]
    cc = sym("c", "c", positive=True)
    if c.loss is None:
        r = sympy.sqrt(sum(x**2 for x in theta))
        L = sympy.Function("F")(*[x / r for x in theta])
    else:
        L = c.loss(theta)
    scaled = {x: cc * x for x in theta}
    checks = [("hypothesis L(c theta) = L(theta)", L.xreplace(scaled) - L)]
    grad = [sympy.diff(L, x) for x in theta]
    checks.append(("<grad L, theta> = 0", sum(x * gx for x, gx in zip(theta, grad))))
    for i, gx in enumerate(grad):
        checks.append((f"grad L(c theta)_{i + 1} = grad L(theta)_{i + 1} / c", gx.xreplace(scaled) - gx / cc))
    proofs = []
    for what, d in checks:
        how = symbolic_zero(d, timeout=10, allow_simplify=False)
        if how is not None:
            proofs.append(C.Result(c, True, "symbolic", how))
            continue
        if c.loss is None:
            return C.Result(c, None, "symbolic", "not proved", detail=f"{what}: no symbolic proof")
        proof = check_zero(d, samplers_for(N_POINTS))
        if proof.holds is False:
            return failure(c, proof, f"{what} is false for this loss", None, d)
        proofs.append(C.Result(c, True, proof.method, proof.how))
    method = "symbolic" if all(p.method == "symbolic" for p in proofs) else "numeric"
    return C.Result(c, True, method, summary([p.how for p in proofs]),
                    detail=f"{len(checks)} identities, theta in R^{c.dim}, c > 0")




def check_bound(c: C.Bound, steps: int | None) -> C.Result:
    """Numeric: the iterated map on dense linear and geometric grids of the interval (float64)."""
    import numpy as np
    lo, hi = (float(x) for x in c.interval)
    f = sympy.lambdify(c.var, C.evaluated(c.expr), "numpy")
    grid = [np.linspace(lo, hi, c.points)]
    if lo > 0:
        grid.append(np.geomspace(lo, hi, c.points))
    x0 = np.concatenate(grid)
    x = x0.copy()
    for _ in range(c.iterations):
        x = f(x)
    low, high = float(np.min(x)), float(np.max(x))
    how = (f"{x0.size} points of [{lo:g}, {hi:g}] (linear{' and geometric' if lo > 0 else ''} grids), "
           f"{c.iterations} iterations: range [{low:.6g}, {high:.6g}]")
    bad = np.flatnonzero((x < float(c.band[0])) | (x > float(c.band[1])) | ~np.isfinite(x))
    if bad.size:
        k = int(bad[0])
        how += f"; counterexample at {c.var} = {float(x0[k]):.6g}: {float(x[k]):.6g}"
        return C.Result(c, False, "numeric", how, detail=f"outside [{c.band[0]}, {c.band[1]}]",
                        counterexample={str(c.var): float(x0[k])}, values={"iterate": float(x[k])})
    return C.Result(c, True, "numeric", how, detail="on the grids, not a proof for every point")
