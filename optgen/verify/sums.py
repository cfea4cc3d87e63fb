"""Sums over a symbolic range: induction proofs and expectations.

A closed form such as ``v_t = (1 - b) sum_{i=0}^{t-1} b^i g_{t-i}^2`` holds for every
``t`` when it holds for ``t = 1`` and when ``C(t+1) = f(C(t), g_{t+1}, t+1)`` for
the recursion ``f`` read off the spec (induction). The step is an identity
between sums with different ranges and different summation variables; SymPy
does not prove it by itself. :func:`combine_sums` makes it a question about one
summand:

1. each sum ``sum_i F(i)`` whose summand contains an indexed atom ``g[c i + d]``
   (``c = +-1``) is re-indexed by ``j = c i + d``, the index of the atom, so that
   sums over the same atoms use the same variable;
2. the sums are brought to a common range by peeling the terms outside it off
   as explicit terms (the ranges must differ by integers);
3. the sums are merged into one, whose summand is expanded; if it is zero, the
   sum is zero. What is left is an ordinary expression.

:func:`expectation` applies ``E[.]`` to a sum of products, given the moments of
the random atoms (``E[g_j^2] = sigma^2`` for a stationary sequence): it is linear
and moves into sums; a term with two different random atoms (``g_i g_j``) has no
given moment and is refused.
"""
from __future__ import annotations

import sympy
from sympy import Indexed, Sum

__all__ = ["combine_sums", "expectation", "assume", "freeze_powers", "J"]

J = sympy.Symbol("j", integer=True)   # the common summation variable after re-indexing


def assume(expr, false=()):
    """``expr`` with each condition in ``false`` (e.g. ``Eq(beta2, 1)``) replaced by False,
    so that SymPy's Piecewise results of ``summation`` collapse to the generic branch."""
    expr = sympy.sympify(expr)
    if not false:
        return expr
    repl = {}
    for c in false:
        repl[c] = sympy.false
        if isinstance(c, sympy.Eq):
            repl[sympy.Eq(c.rhs, c.lhs)] = sympy.false
            repl[sympy.Ne(c.lhs, c.rhs)] = sympy.true
    return expr.xreplace(repl)


def _reindex(s: Sum) -> Sum:
    if len(s.limits) != 1:
        return s
    i, a, b = s.limits[0]
    f = s.function
    for atom in sorted(f.atoms(Indexed), key=str):
        idx = [x for x in atom.indices if x.has(i)]
        if len(idx) != 1:
            continue
        idx = sympy.expand(idx[0])
        c = idx.coeff(i)
        d = sympy.expand(idx - c * i)
        if c not in (1, -1) or d.has(i):
            continue
        new_f = f.xreplace({i: (J - d) / c}) if i != J else f.subs(i, (J - d) / c)
        lo, hi = c * a + d, c * b + d
        if c == -1:
            lo, hi = hi, lo
        return Sum(sympy.expand(new_f), (J, sympy.expand(lo), sympy.expand(hi)))
    if i != J:
        return Sum(f.xreplace({i: J}), (J, a, b))
    return s


def _peel(coeff, s: Sum, lo, hi) -> list:
    """Terms of ``coeff * s`` outside ``[lo, hi]`` as explicit terms, and the rest."""
    j, a, b = s.limits[0]
    f = s.function
    below = sympy.simplify(lo - a)
    above = sympy.simplify(b - hi)
    if not (below.is_Integer and above.is_Integer) or below < 0 or above < 0 or below + above > 50:
        raise ValueError(f"ranges of {s} and [{lo}, {hi}] do not differ by small integers")
    terms = [coeff * f.xreplace({j: a + k}) for k in range(int(below))]
    terms += [coeff * f.xreplace({j: b - k}) for k in range(int(above))]
    return terms


def freeze_powers(expr):
    """Each ``b**(r + n)`` (``r`` symbolic, ``n`` an integer) written ``X * b**n`` with one
    fresh symbol ``X`` per ``(b, r)`` (``b**(-r)`` becomes ``1/X``). SymPy merges
    ``b**r * b`` back into ``b**(r+1)``; with ``X`` the expression is a rational
    function of ``X`` and ``b``, and an identity in ``X`` is an identity in ``b**r``."""
    frozen: dict = {}

    def fix(p):
        n, r = p.exp.as_coeff_Add()
        if not n.is_Integer:
            n, r = sympy.Integer(0), p.exp
        key, sign = (p.base, r), 1
        if (p.base, -r) in frozen:
            key, sign = (p.base, -r), -1
        if key not in frozen:
            frozen[key] = sympy.Dummy("X")
        return frozen[key] ** sign * p.base ** n

    return expr.replace(lambda e: e.is_Pow and not e.exp.is_number and e.exp.free_symbols, fix)


def _zero_or_expanded(body):
    """0 if a cheap normal form of ``body`` is 0 (symbolic powers frozen, see
    :func:`freeze_powers`, or like powers combined), else ``body`` expanded."""
    expanded = sympy.expand(body)
    for form in (lambda e: sympy.cancel(freeze_powers(e)),
                 lambda e: sympy.expand(sympy.powsimp(e))):
        if form(expanded) == 0:
            return 0
    return expanded


def combine_sums(expr):
    """``expr`` with its single-variable sums merged into at most one (see module doc)."""
    expr = sympy.expand(sympy.sympify(expr))
    rest, groups = [], []
    for term in sympy.Add.make_args(expr):
        sums = [f for f in sympy.Mul.make_args(term) if isinstance(f, Sum)]
        if len(sums) != 1:
            rest.append(term)
            continue
        groups.append((term / sums[0], _reindex(sums[0])))
    if not groups:
        return expr
    los = [s.limits[0][1] for _, s in groups]
    his = [s.limits[0][2] for _, s in groups]
    lo0, hi0 = los[0], his[0]
    dlo = [sympy.simplify(x - lo0) for x in los]
    dhi = [sympy.simplify(x - hi0) for x in his]
    if not all(d.is_Integer for d in dlo + dhi):
        return sympy.Add(*rest, *[c * s for c, s in groups])
    lo = lo0 + max(dlo)
    hi = hi0 + min(dhi)
    peeled, summand = [], []
    for coeff, s in groups:
        peeled += _peel(coeff, s, lo, hi)
        summand.append(coeff * s.function)
    body = _zero_or_expanded(sympy.Add(*summand))
    merged = 0 if body == 0 else Sum(body, (J, lo, hi))
    return sympy.Add(*rest, *peeled, merged)


def expectation(expr, moments: dict, base):
    """``E[expr]`` where the random atoms are ``base[...]`` with ``E[base[j]**k] = moments[k]``.

    Linear: constants come out, the expectation moves into sums. A term with a
    product of two random atoms, or a power without a given moment, raises
    ValueError (the claim must state that moment)."""
    expr = sympy.sympify(expr)

    def term_expectation(term):
        factors = sympy.Mul.make_args(term)
        random = [f for f in factors if f.has(base)]
        if not random:
            return term
        if len(random) > 1:
            raise ValueError(f"E[{term}]: a product of random atoms; give its moment")
        (f,) = random
        if isinstance(f, Indexed) and f.base == base:
            k = 1
        elif f.is_Pow and isinstance(f.base, Indexed) and f.base.base == base and f.exp.is_Integer:
            k = int(f.exp)
        elif isinstance(f, Sum):
            return (term / f) * Sum(expectation(f.function, moments, base), *f.limits)
        else:
            raise ValueError(f"E[{f}]: not a power of one random atom")
        if k not in moments:
            raise ValueError(f"E[{f}]: no moment of order {k} given")
        return (term / f) * moments[k]

    expanded = sympy.expand(expr)
    if isinstance(expanded, Sum):
        return Sum(expectation(expanded.function, moments, base), *expanded.limits)
    return sympy.Add(*[term_expectation(term) for term in sympy.Add.make_args(expanded)])
