"""Deciding claims: one checker per kind of :mod:`.claims`, each returning a :class:`Result`.

Each checker says which method decided the claim (see :mod:`.prove`): a
symbolic proof, or numeric evidence; and when a claim is false, where it first
fails and a counterexample with the values of both sides there.
"""
from __future__ import annotations

import time
import traceback

import sympy

from ..symbols import w
from . import claims as C
from .oracles import Atoms, Function, ScaleInvariant, Sequence
from .prove import Timeout, check_zero, samplers_for, symbolic_zero, time_limit
from .sums import assume, combine_sums
from .symbols import claim_domains, sym, variables
from .outcomes import N_POINTS, failure, full_values, summary, values_at
from .unroll import in_symbols_of, recursion, unroll

__all__ = ["run", "checkers"]

T_START = sym("T", r"T", integer=True, positive=True)


def _decided(claim, proofs: list, detail: str, extra_how: str = "") -> C.Result:
    methods = {p.method for p in proofs}
    method = "symbolic" if methods == {"symbolic"} else "numeric"
    hows = [p.how for p in proofs if p.method == method] or [p.how for p in proofs]
    how = summary(hows) + (f"; {extra_how}" if extra_how else "")
    return C.Result(claim, True, method, how, detail=detail)


# --- equivalence -------------------------------------------------------------------------

ORACLES = {"sequence": Sequence, "function": Function, "scale_invariant": ScaleInvariant}


def check_equivalence(c: C.Equivalence, steps: int | None) -> C.Result:
    # ``steps`` (optgen verify --steps) applies to unrolling from the inits; a claim from
    # arbitrary states is about its own number of steps (one step of an induction, or a residual)
    k = (steps or c.steps) if c.start != "symbolic" else c.steps
    oracle = ORACLES[c.grads](c.dim)
    if c.start == "symbolic":
        start, states0 = T_START + c.start_offset, "symbolic"
    else:
        start, states0 = (1 if c.start == "init" else c.start), "init"
    table = Atoms(positive=[n for n, kind in c.atomize.items() if kind == "positive"])
    atoms = {name: table for name in c.atomize}
    left = unroll(c.left, k, oracle, dim=c.dim, start=start, states0=states0, atoms=atoms)
    given0 = None
    if c.state_map:
        given0 = {name: left.value(e, 0) for name, e in c.state_map.items()}
    right = unroll(c.right, k, oracle, dim=c.dim, start=start, states0=states0, atoms=atoms, given0=given0)
    subs = dict(c.substitute)
    domains = claim_domains(c, [left.spec, right.spec])
    samplers = [oracle.prepare(s) for s in samplers_for(N_POINTS, ranges=c.ranges, fixed=c.fixed, domains=domains)]
    proofs = []
    for j in range(1, k + 1):
        for n, (lo, ro) in enumerate(c.observe):
            lv, rv = left.value(lo, j), right.value(ro, j)
            res = left.value(c.residual, j) if (c.residual is not None and n == 0) else [0] * c.dim
            for i in range(c.dim):
                d = (lv[i] - rv[i] - res[i]).xreplace(subs)
                proof = check_zero(d, samplers)
                if proof.holds is None:
                    return C.Result(c, None, proof.method, proof.how,
                                    detail=f"step {j}: undecided ({proof.how})")
                if not proof.holds:
                    comp = f"[{i}]" if c.dim > 1 else ""
                    what = f"{lo}{comp} vs {ro}{comp}" + (" minus the residual" if n == 0 and c.residual is not None else "")
                    at = full_values(samplers, proof.counterexample)
                    vals = values_at(at, left=lv[i].xreplace(subs), right=rv[i].xreplace(subs))
                    return failure(c, proof, f"first difference at step {j} ({what}); "
                                 f"{left.side.name} vs {right.side.name}", j, d, vals)
                proofs.append(proof)
    extra = f"{oracle.numeric_merges} gradient point(s) identified numerically" if oracle.numeric_merges else ""
    res = _decided(c, proofs, "", extra)
    if oracle.numeric_merges:
        res.method = "numeric"
    n_obs = len(c.observe) * c.dim
    inductive = c.start == "symbolic" and c.residual is None and _induction_base(c, left, right, samplers)
    defs = "; ".join(f"{a} := {v}" for a, v in table.definitions.items())
    res.detail = (f"{n_obs} observable(s) agree at each of steps 1..{k} "
                  f"({_start_text(c)}; "
                  f"gradients: {oracle.text})" + (f"; atoms {defs}" if defs else ""))
    if inductive:
        res.detail += ("; the observables cover every state either side reads, and their initial "
                       "values agree: by induction on the number of steps, the trajectories agree for every k")
    return res


def _start_text(c) -> str:
    if c.start != "symbolic":
        return "from the initial states"
    at = "T" + (f" + {c.start_offset}" if c.start_offset else "")
    return f"from arbitrary related states at step {at}"


def _live_states(side) -> set:
    """Names of the states whose value before a step is read during the step."""
    spec = side.load()
    states = {s.name for s in spec.states}
    assigned, live = set(), set()
    reads = [in_symbols_of(spec, side.grad_at)] if side.grad_at is not None else []
    for e in reads:
        live |= {s.name for s in e.free_symbols} & states
    for lhs, rhs in spec.equations:
        live |= ({s.name for s in rhs.free_symbols} & states) - assigned
        assigned.add(lhs.name)
    return live


def _induction_base(c, left, right, samplers) -> bool:
    """True when the observables relate every live state and w of both sides and the
    values from the inits satisfy the same relations before the first step and
    after each step before the symbolic start (``start_offset``)."""
    names_l = set().union(*[{s.name for s in in_symbols_of(left.spec, lo).free_symbols} for lo, _ in c.observe])
    names_r = set().union(*[{s.name for s in in_symbols_of(right.spec, ro).free_symbols} for _, ro in c.observe])
    if not ({"w"} | _live_states(c.left)) <= names_l or not ({"w"} | _live_states(c.right)) <= names_r:
        return False
    oracle = ORACLES[c.grads](c.dim)
    first = c.start_offset   # the steps before the symbolic start: checked from the inits
    l0 = unroll(c.left, max(first, 1), oracle, dim=c.dim)
    r0 = unroll(c.right, max(first, 1), oracle, dim=c.dim)
    prepared = [oracle.prepare(s) for s in samplers_for(N_POINTS, ranges=samplers[0].ranges, fixed=c.fixed,
                                                        domains=samplers[0].domains)]
    for j in range(first + 1):
        for lo, ro in c.observe:
            for a, b in zip(l0.value(lo, j), r0.value(ro, j)):
                if not check_zero(a - b, prepared).holds:
                    return False
    return True


# --- closed forms ---------------------------------------------------------------------------

def _recursion_of(c: C.ClosedForm):
    if c.side is not None:
        rec, before, _, T = recursion(c.side, c.target)
        prev = before[c.target]
        spec = c.side.load()
        if c.target == "w":
            init = sym("w_0", "w_{0}")
        else:
            init = spec.declarations[c.target].init.xreplace({w: sym("w_0", "w_{0}")})
        others = (variables(rec) & set(before.values())) - {prev}
        return rec, prev, T, init, others
    return (sympy.sympify(c.recurrence), sympy.sympify(c.previous), sympy.sympify(c.t),
            sympy.sympify(c.initial), set())


def check_closed_form(c: C.ClosedForm, steps: int | None) -> C.Result:
    k = steps or c.steps
    t = sympy.sympify(c.t)
    closed = sympy.sympify(c.closed)
    rec, prev, T, init, others = _recursion_of(c)
    samplers = samplers_for(N_POINTS, domains=claim_domains(c, [c.side.load()] if c.side is not None else []))
    notes, proofs = [], []
    induction = None
    if c.induction and not others:
        step = assume(combine_sums(closed.xreplace({t: t + 1}) - rec.xreplace({prev: closed, T: t + 1})),
                      c.assume_false)
        base = assume((closed.xreplace({t: 1}).doit() - rec.xreplace({prev: init, T: 1})), c.assume_false)
        pb = check_zero(base, samplers)
        if pb.holds is False:
            return failure(c, pb, "the closed form is wrong at t = 1 (base case)", 1, base,
                         values_at(full_values(samplers, pb.counterexample),
                                    closed=closed.xreplace({t: 1}).doit(), recursion=rec.xreplace({prev: init, T: 1})))
        how = symbolic_zero(step, timeout=10)
        if how is not None and pb.method == "symbolic":
            induction = f"induction on t: base {pb.how}, step {how}"
        else:
            notes.append("induction step not proved symbolically")
    elif c.induction and others:
        notes.append(f"no induction: the recursion also reads {sorted(map(str, others))}")
    # every t <= k, by unrolling the spec (or iterating the recursion)
    traj = None
    if c.side is not None:
        last = c.at(k) if c.at else k
        traj = unroll(c.side, last, Sequence())
    value = init
    for n in range(1, k + 1):
        if traj is not None:
            j = c.at(n) if c.at else n
            value = traj.value(c.target, j)[0]
        else:
            value = rec.xreplace({prev: value, T: n})
        expected = closed.xreplace({t: n}).doit()
        if c.bind is not None:
            expected = expected.xreplace(c.bind(traj, n))
        d = assume(value - expected, c.assume_false)
        proof = check_zero(d, samplers)
        if not proof.holds:
            vals = values_at(full_values(samplers, proof.counterexample), unrolled=value, closed=expected)
            return failure(c, proof, f"first difference at t = {n}", n, d, vals)
        proofs.append(proof)
    res = _decided(c, proofs, "")
    finite = f"t = 1..{k} by unrolling: {res.method} ({res.how})"
    if induction:
        res.method, res.how = "symbolic", induction + "; " + finite
    else:
        res.how = finite + ("; " + "; ".join(notes) if notes else "")
    res.detail = "for every t" if induction else f"for t <= {k} only"
    return res


def checkers() -> dict:
    """The checker of each kind of claim."""
    from .check_formulas import (check_bound, check_expectation, check_identity, check_limit,
                                 check_scale_invariance, check_solution_set)
    return {
        C.Equivalence: check_equivalence,
        C.ClosedForm: check_closed_form,
        C.Identity: check_identity,
        C.Limit: check_limit,
        C.Expectation: check_expectation,
        C.SolutionSet: check_solution_set,
        C.ScaleInvariance: check_scale_invariance,
        C.Bound: check_bound,
    }


CLAIM_TIMEOUT = 120.0   # seconds; a claim that takes longer is reported as an ERROR


def run(claim: C.Claim, steps: int | None = None, timeout: float | None = CLAIM_TIMEOUT) -> C.Result:
    """Decide one claim; never raises (an exception or the time limit becomes an ERROR result)."""
    start = time.perf_counter()
    try:
        with time_limit(timeout):
            result = checkers()[type(claim)](claim, steps)
    except Timeout:
        result = C.Result(claim, None, "-", error=f"no decision within {timeout:.0f} s (try fewer --steps)")
    except Exception as exc:  # report it as this claim's error, keep verifying the others
        result = C.Result(claim, None, "-", error=f"{type(exc).__name__}: {exc}",
                          detail=traceback.format_exc(limit=3))
    result.seconds = time.perf_counter() - start
    return result
