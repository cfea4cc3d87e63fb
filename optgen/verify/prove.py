"""Proof attempts: is an expression zero? Symbolically if cheap, else numerically.

Every check returns a :class:`Proof` that says which method decided it:

``symbolic``
    a chain of cheap, *sound* rewrites of the difference ``lhs - rhs`` reaches 0:
    SymPy's automatic canonical form (``structural``), ``cancel`` (rational
    functions to a canonical p/q; first as written, then with ``b**(t-1)``
    written ``b**t / b``), ``expand``, radicals with positive radicands
    split (``sqrt(a b) = sqrt(a) sqrt(b)`` only where SymPy's assumptions know
    ``a, b > 0``) and cancelled, ``powsimp``, symbolic powers ``b**(r+n)`` taken
    as ``X b**n`` for a fresh variable ``X``, and, last and under a time limit,
    ``simplify``.
    No step assumes more than the symbols' declared assumptions.
``numeric``
    the difference evaluated at random points inside the symbols' domains:
    exactly (random rationals, when the expression has no radicals) or with
    50 significant digits (mpmath). A point where it is not zero is a
    *counterexample*, reported with the values. All points zero, without a
    symbolic proof, is reported as numeric evidence, never as a proof.

The numeric screen runs first: it is cheap, and a claim that is false fails
fast, with its counterexample, before any expensive rewriting.
"""
from __future__ import annotations

import contextlib
import dataclasses
import signal
import threading
import time

import sympy

from .symbols import PREC, Sampler, variables


def freeze_powers(expr):  # (imported lazily: sums imports this module's users)
    from .sums import freeze_powers as f
    return f(expr)

__all__ = ["Proof", "time_limit", "Timeout", "symbolic_zero", "numeric_zero", "check_zero",
           "display", "ZERO_TOL"]

ZERO_TOL = sympy.Float(10, PREC) ** -30   # |value| below this at 50 digits counts as zero


class Timeout(Exception):
    """A symbolic step ran out of its time budget."""


_deadlines: list[float] = []   # nested time limits: the innermost effective deadline last


def _raise_timeout(signum, frame):
    raise Timeout()


@contextlib.contextmanager
def time_limit(seconds: float | None):
    """Interrupt the block after ``seconds`` (SIGALRM; only on the main thread of Unix).

    Limits nest: an inner limit never extends an outer one, and the outer limit is
    re-armed when the inner block ends (if the outer deadline passed meanwhile, it
    fires at once)."""
    usable = (seconds is not None and hasattr(signal, "setitimer")
              and threading.current_thread() is threading.main_thread())
    if not usable:
        yield
        return
    now = time.monotonic()
    deadline = now + seconds
    if _deadlines:
        deadline = min(deadline, _deadlines[-1])
    old = signal.signal(signal.SIGALRM, _raise_timeout) if not _deadlines else None
    _deadlines.append(deadline)
    signal.setitimer(signal.ITIMER_REAL, max(deadline - now, 1e-4))
    try:
        yield
    finally:
        _deadlines.pop()
        if _deadlines:
            signal.setitimer(signal.ITIMER_REAL, max(_deadlines[-1] - time.monotonic(), 1e-4))
        else:
            signal.setitimer(signal.ITIMER_REAL, 0)
            signal.signal(signal.SIGALRM, old)


@dataclasses.dataclass
class Proof:
    """The outcome of one zero test.

    ``holds``: True (zero), False (a counterexample shows it is not), None (unknown).
    ``method``: "symbolic" or "numeric"; ``how`` says which step or which points.
    """

    holds: bool | None
    method: str
    how: str
    counterexample: dict | None = None
    value: object = None            # the difference at the counterexample

    @property
    def label(self) -> str:
        return f"{self.method} ({self.how})" if self.how else self.method


def _split_radicals(expr):
    """Rewrite ``(p/q)**(n/2)`` into ``p**(n/2) q**(-n/2)`` where SymPy can tell the
    factors are positive (SymPy does this itself for a product of positive symbols;
    here the radicand is first brought to a product by ``factor_terms``/``together``)."""
    def fix(e):
        base = sympy.factor_terms(sympy.together(e.base))
        return sympy.Pow(base, e.exp)
    return expr.replace(lambda e: e.is_Pow and e.exp.is_Rational and not e.exp.is_Integer
                        and e.base.is_Add, fix)


def symbolic_zero(expr, timeout: float | None = 5.0, allow_simplify: bool = True) -> str | None:
    """The name of the rewrite that shows ``expr == 0``, or None if none did (in time)."""
    expr = sympy.sympify(expr)
    if expr == 0:
        return "structural"
    start = time.perf_counter()

    def left():
        return None if timeout is None else max(timeout - (time.perf_counter() - start), 0.05)

    steps = [("cancel", sympy.cancel),
             ("powers expanded, then cancel", lambda e: sympy.cancel(sympy.expand_power_exp(e))),
             ("expand", lambda e: sympy.expand(e, power_base=False)),
             ("radicals split, then cancel", lambda e: sympy.cancel(sympy.expand(_split_radicals(e)))),
             ("powsimp, then cancel", lambda e: sympy.cancel(sympy.powsimp(sympy.expand(e)))),
             ("symbolic powers as variables, then cancel", lambda e: sympy.cancel(freeze_powers(e)))]
    if allow_simplify:
        steps.append(("simplify", sympy.simplify))
    for name, step in steps:
        try:
            with time_limit(left()):
                if step(expr) == 0:
                    return name
        except Timeout:
            return None
        except (TypeError, ValueError, NotImplementedError, ZeroDivisionError, RecursionError,
                sympy.PolynomialError):
            continue
        if timeout is not None and time.perf_counter() - start > timeout:
            return None
    return None


def _is_zero_value(v) -> bool:
    if v is sympy.nan or v == sympy.zoo:
        return False
    if v.is_Rational:
        return v == 0
    re, im = v.as_real_imag()
    return abs(re) <= ZERO_TOL and abs(im) <= ZERO_TOL


def _value_of(sampler: Sampler, expr):
    try:
        return sampler.evaluate(expr)
    except ZeroDivisionError:
        return sympy.zoo


def numeric_zero(expr, samplers) -> tuple[bool, dict | None, object, str]:
    """Evaluate ``expr`` with each sampler's random values.

    Returns ``(all zero, counterexample values or None, value there, how)``.
    Points where the expression is undefined (division by zero) are skipped.
    """
    expr = sympy.sympify(expr)
    n_exact = n_float = 0
    for sampler in samplers:
        v = _value_of(sampler, expr)
        if v == sympy.zoo or v is sympy.nan:
            continue
        if v.is_Rational:
            n_exact += 1
        else:
            n_float += 1
        if not _is_zero_value(v):
            used = {s: sampler.values[s] for s in variables(expr) if s in sampler.values}
            return False, used, v, ""
    parts = []
    if n_exact:
        parts.append(f"exact at {n_exact} random rational point{'s' * (n_exact > 1)}")
    if n_float:
        parts.append(f"{PREC}-digit at {n_float} random point{'s' * (n_float > 1)}")
    return bool(n_exact or n_float), None, 0, ", ".join(parts) or "no point where it is defined"


def samplers_for(n: int = 6, seed: int = 0, **kw) -> list[Sampler]:
    return [Sampler(seed=seed + 7919 * k, **kw) for k in range(n)]


def check_zero(expr, samplers=None, *, symbolic: bool = True, timeout: float | None = 5.0,
               allow_simplify: bool = True) -> Proof:
    """Is ``expr`` identically zero? Numeric screen, then a symbolic proof attempt."""
    expr = sympy.sympify(expr)
    if expr == 0:
        return Proof(True, "symbolic", "structural")
    samplers = samplers if samplers is not None else samplers_for()
    zero, cex, value, how = numeric_zero(expr, samplers)
    if not zero:
        if cex is None:
            return Proof(None, "numeric", how)
        how = "exact counterexample (rational point)" if value.is_Rational else f"counterexample ({PREC} digits)"
        return Proof(False, "numeric", how, cex, value)
    if symbolic:
        step = symbolic_zero(expr, timeout=timeout, allow_simplify=allow_simplify)
        if step is not None:
            return Proof(True, "symbolic", step)
    return Proof(True, "numeric", how)


def display(expr, max_ops: int = 120, timeout: float = 2.0):
    """A readable form of a (nonzero) difference, or None when it is too large to show."""
    expr = sympy.sympify(expr)
    try:
        with time_limit(timeout):
            small = sympy.factor(sympy.cancel(expr)) if sympy.count_ops(expr) < 4 * max_ops else expr
    except Exception:  # display only (Timeout included): any failure means "not shown"
        small = expr
    return small if sympy.count_ops(small) <= max_ops else None
