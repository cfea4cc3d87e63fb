"""The schedules that are functions of the step: the base class and the shipped formulas (see the package doc)."""
from __future__ import annotations

import math
import sys
from typing import Iterable, Sequence

import sympy

from ..spec import t


N = sympy.Symbol("n", integer=True, nonnegative=True)  # steps (or epochs) done before step t


def steps_done(steps_per_epoch: int = 1) -> sympy.Expr:
    """``n`` in terms of ``t``: steps (or epochs) completed before step ``t``."""
    if steps_per_epoch == 1:
        return t - 1
    return sympy.floor((t - 1) / sympy.Integer(steps_per_epoch))


def _num(x) -> sympy.Expr:
    """A number as an exact SymPy value (ints and floats keep their value)."""
    if isinstance(x, sympy.Basic):
        return x
    if isinstance(x, bool) or not isinstance(x, (int, float)):
        raise TypeError(f"a schedule parameter must be a real number (int or float), not {x!r}")
    if isinstance(x, int) and abs(x) > sys.float_info.max:
        raise ValueError(f"a schedule parameter must fit a float64 (at most {sys.float_info.max:.4g}), "
                         f"not an integer of {len(str(abs(x)))} digits")
    if not math.isfinite(x):
        raise ValueError(f"a schedule parameter must be finite, not {x!r}")
    return sympy.Integer(x) if isinstance(x, int) else sympy.Float(x, 17)


def _positive_int(name, x) -> int:
    if isinstance(x, bool) or int(x) != x or x < 1:
        raise ValueError(f"{name} must be a positive integer, not {x!r}")
    return int(x)


class Schedule:
    """A value per step: ``expr`` (SymPy, in ``t``) and ``value(t)`` (float64).

    Subclasses write their formula in ``n`` (:data:`N`, steps or epochs done) and set
    ``self.steps_per_epoch``; ``value`` computes n = (t - 1) // steps_per_epoch in
    integers and evaluates the formula at it, so an epoch boundary is never missed
    by a float rounding of (t - 1) / S. :class:`Expression` is written in ``t`` itself.
    """

    expr_n: sympy.Expr = None
    steps_per_epoch: int = 1
    corners: tuple = ()   # values of n where the formula changes piece (monotone between them)
    metric_driven = False  # ReduceOnPlateau: its value follows a reported metric, not t
    CHECK_WINDOW = 1024   # the first steps optgen.create checks every value of

    def check_steps(self) -> list[int]:
        """The steps at which ``optgen.create`` checks this schedule's value against the
        hyperparameter's domain: the first ``CHECK_WINDOW`` and both sides of every corner."""
        S = self.steps_per_epoch
        steps = set(range(1, self.CHECK_WINDOW + 1))
        for n in self.corners:
            steps.update(k * S + 1 for k in (n - 1, n, n + 1) if k >= 0)
        return sorted(steps)

    @property
    def expr(self) -> sympy.Expr:
        """The schedule as an expression in the step ``t``."""
        return self.expr_n.subs(N, steps_done(self.steps_per_epoch))

    def _arg(self, step: int):
        return (int(step) - 1) // self.steps_per_epoch

    def _function(self):
        return sympy.lambdify([N], self.expr_n, modules="math")

    def value(self, step: int) -> float:
        fn = self.__dict__.get("_fn")
        if fn is None:
            fn = self.__dict__["_fn"] = self._function()
        return float(fn(self._arg(step)))

    def values(self, steps: Iterable[int]) -> list[float]:
        return [self.value(s) for s in steps]

    def latex(self) -> str:
        return sympy.latex(self.expr)

    # lambdified functions do not pickle: rebuild on demand
    def __getstate__(self):
        state = dict(self.__dict__)
        state.pop("_fn", None)
        return state

    def __setstate__(self, state):
        self.__dict__.update(state)

    def __mul__(self, other) -> "Schedule":
        """The product of two schedules, or of a schedule and a number (e.g. warmup * decay)."""
        if self.metric_driven or getattr(other, "metric_driven", False):
            return NotImplemented  # driven by a metric, not a function of t
        if isinstance(other, Schedule):
            if self.expr_n is not None and other.expr_n is not None and \
                    self.steps_per_epoch == other.steps_per_epoch:
                product = StepExpression(self.expr_n * other.expr_n, self.steps_per_epoch)
                product.corners = tuple(sorted({*self.corners, *other.corners}))
                return product
            if self.steps_per_epoch == other.steps_per_epoch == 1:
                return Expression(self.expr * other.expr)
            raise ValueError("schedules with different steps_per_epoch do not multiply; "
                             "write an Expression in t instead")
        if isinstance(other, (int, float)) and not isinstance(other, bool):
            if self.expr_n is None:
                return Expression(self.expr * _num(other))
            return StepExpression(self.expr_n * _num(other), self.steps_per_epoch)
        return NotImplemented

    __rmul__ = __mul__

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.expr})"


class Expression(Schedule):
    """Any SymPy expression in ``t`` (``optgen.spec.t``), e.g. ``1e-3 * Min(1, t / 100)``."""

    def __init__(self, expr):
        expr = sympy.sympify(expr)
        bad = {s for s in expr.free_symbols if s != t}
        if bad:
            raise ValueError(f"a schedule may depend on t only; {expr} also uses {sorted(map(str, bad))}")
        self.expr_t = expr

    @property
    def expr(self) -> sympy.Expr:
        return self.expr_t

    def _arg(self, step: int):
        return int(step)

    def _function(self):
        return sympy.lambdify([t], self.expr_t, modules="math")


class StepExpression(Schedule):
    """Any SymPy expression in ``n`` (:data:`N`: steps, or epochs of ``steps_per_epoch``, done)."""

    def __init__(self, expr_n, steps_per_epoch: int = 1):
        expr_n = sympy.sympify(expr_n)
        bad = {s for s in expr_n.free_symbols if s != N}
        if bad:
            raise ValueError(f"a StepExpression may depend on n only; {expr_n} also uses {sorted(map(str, bad))}")
        self.expr_n = expr_n
        self.steps_per_epoch = _positive_int("steps_per_epoch", steps_per_epoch)


class Constant(Schedule):
    def __init__(self, value: float):
        self.expr_n = _num(value)


class PiecewiseConstant(Schedule):
    """``values[i]`` while ``boundaries[i-1] <= n < boundaries[i]`` (n in epochs with ``steps_per_epoch``).

    ``values`` has one more entry than ``boundaries``. :meth:`from_scales` builds it
    from an initial value and multiplicative factors at boundaries (optax
    ``piecewise_constant_schedule``; torch ``MultiStepLR`` is ``scales = [gamma] * k``).
    """

    def __init__(self, values: Sequence[float], boundaries: Sequence[int], steps_per_epoch: int = 1):
        values, boundaries = list(values), [int(b) for b in boundaries]
        if len(values) != len(boundaries) + 1:
            raise ValueError(f"PiecewiseConstant: {len(values)} values need {len(values) - 1} boundaries, "
                             f"got {len(boundaries)}")
        if any(b1 >= b2 for b1, b2 in zip(boundaries, boundaries[1:])):
            raise ValueError(f"PiecewiseConstant: boundaries must increase, got {boundaries}")
        self.values_, self.boundaries = values, boundaries
        self.steps_per_epoch = _positive_int("steps_per_epoch", steps_per_epoch)
        pieces = [(_num(v), N < b) for v, b in zip(values, boundaries)]
        self.expr_n = sympy.Piecewise(*pieces, (_num(values[-1]), True))
        self.corners = tuple(boundaries)

    @classmethod
    def from_scales(cls, init: float, boundaries_and_scales: dict, steps_per_epoch: int = 1):
        values, boundaries, v = [init], [], init
        for b in sorted(boundaries_and_scales):
            v = v * boundaries_and_scales[b]
            values.append(v)
            boundaries.append(b)
        return cls(values, boundaries, steps_per_epoch)


class Exponential(Schedule):
    """``init * exp(-n / r)`` (the lecture notes on optimizers: r ~ the training set size)."""

    def __init__(self, init: float, r: float, steps_per_epoch: int = 1):
        if r <= 0:
            raise ValueError(f"Exponential: r must be positive, got {r!r}")
        self.init, self.r = init, r
        self.steps_per_epoch = _positive_int("steps_per_epoch", steps_per_epoch)
        self.expr_n = _num(init) * sympy.exp(-N / _num(r))

    @classmethod
    def from_gamma(cls, init: float, gamma: float, steps_per_epoch: int = 1) -> "Exponential":
        """``init * gamma^n`` (torch ExponentialLR), i.e. r = -1 / log(gamma)."""
        if not 0 < gamma < 1:
            raise ValueError(f"Exponential.from_gamma: gamma must be in (0, 1), got {gamma!r}")
        return cls(init, -1.0 / math.log(gamma), steps_per_epoch)


class Reciprocal(Schedule):
    """``init * (1 + n / r)^(-c)`` (the lecture notes on optimizers: c ~ 1)."""

    def __init__(self, init: float, r: float, c: float = 1.0, steps_per_epoch: int = 1):
        if r <= 0:
            raise ValueError(f"Reciprocal: r must be positive, got {r!r}")
        self.steps_per_epoch = _positive_int("steps_per_epoch", steps_per_epoch)
        self.expr_n = _num(init) * (1 + N / _num(r)) ** (-_num(c))


class LinearWarmup(Schedule):
    """From ``init`` to ``peak`` linearly over ``warmup_steps``, then ``peak``."""

    def __init__(self, peak: float, warmup_steps: int, init: float = 0.0, steps_per_epoch: int = 1):
        W = _positive_int("warmup_steps", warmup_steps)
        self.steps_per_epoch = _positive_int("steps_per_epoch", steps_per_epoch)
        self.expr_n = _num(init) + (_num(peak) - _num(init)) * sympy.Min(N, W) / W
        self.corners = (W,)


class PolynomialDecay(Schedule):
    """``(init - end) (1 - min(n, T) / T)^power + end`` (LARS: lr0 (1 - t/T)^2)."""

    def __init__(self, init: float, total_steps: int, power: float = 2.0, end: float = 0.0,
                 steps_per_epoch: int = 1):
        T = _positive_int("total_steps", total_steps)
        self.steps_per_epoch = _positive_int("steps_per_epoch", steps_per_epoch)
        self.expr_n = (_num(init) - _num(end)) * (1 - sympy.Min(N, T) / T) ** _num(power) + _num(end)
        self.corners = (T,)


class WarmupCosine(Schedule):
    """Linear warmup from ``init`` to ``peak`` over ``warmup_steps``, then cosine decay to
    ``end`` at ``decay_steps`` (counted from the start, warmup included), then ``end``:
    optax.warmup_cosine_decay_schedule's parametrisation (``exponent`` as optax)."""

    def __init__(self, peak: float, warmup_steps: int, decay_steps: int, init: float = 0.0,
                 end: float = 0.0, exponent: float = 1.0, steps_per_epoch: int = 1):
        W, D = int(warmup_steps), _positive_int("decay_steps", decay_steps)
        if W < 0 or W >= D:
            raise ValueError(f"WarmupCosine: need 0 <= warmup_steps < decay_steps, got {W}, {D}")
        self.steps_per_epoch = _positive_int("steps_per_epoch", steps_per_epoch)
        peak_, end_ = _num(peak), _num(end)
        frac = sympy.Min(N - W, D - W) / (D - W)
        cosine = end_ + (peak_ - end_) * ((1 + sympy.cos(sympy.pi * frac)) / 2) ** _num(exponent)
        if W == 0:
            self.expr_n = cosine
        else:
            self.expr_n = sympy.Piecewise((_num(init) + (peak_ - _num(init)) * N / W, N < W), (cosine, True))
        self.corners = (W, D)


class ExponentialGrowth(Schedule):
    """``init * rate^n`` with ``rate > 1``: an exponentially growing learning rate (the note on exponential learning rates).

    :meth:`equivalent_to_weight_decay` gives the schedule of Li & Arora (2020, "An
    Exponential Learning Rate Schedule for Deep Learning", ICLR, arXiv:1910.07454):
    on a scale-invariant loss (e.g. a network with batch norm), SGD with momentum
    ``gamma`` (torch's form, v <- gamma v + g, w <- w - lr_t v), weight decay
    ``lambda`` and a constant ``lr`` is equivalent to SGD with momentum ``gamma``,
    no weight decay and ``lr_n = lr alpha^(-2n-1)``, where alpha is the root near 1
    of ``x^2 - (1 + gamma - lr lambda) x + gamma = 0`` (alpha = 1 - lr lambda when
    gamma = 0): the weights differ by the factor alpha^n, the function they compute
    does not. With momentum, the equivalence needs the growing-lr run's momentum
    buffer to start at ``-(1 - alpha) w_0 / (alpha lr)`` (``initial_velocity``).
    """

    def __init__(self, init: float, rate: float, steps_per_epoch: int = 1):
        if rate <= 0:
            raise ValueError(f"ExponentialGrowth: rate must be positive, got {rate!r}")
        self.init, self.rate = init, rate
        self.steps_per_epoch = _positive_int("steps_per_epoch", steps_per_epoch)
        self.expr_n = _num(init) * _num(rate) ** N

    @staticmethod
    def alpha(lr: float, weight_decay: float, momentum: float = 0.0) -> float:
        """The root near 1 of x^2 - (1 + momentum - lr weight_decay) x + momentum = 0."""
        s = 1.0 + momentum - lr * weight_decay
        disc = s * s - 4.0 * momentum
        if disc < 0:
            raise ValueError(f"ExponentialGrowth: no real alpha for lr={lr}, weight_decay={weight_decay}, "
                             f"momentum={momentum} (need (1 + momentum - lr wd)^2 >= 4 momentum)")
        return (s + math.sqrt(disc)) / 2.0

    @classmethod
    def equivalent_to_weight_decay(cls, lr: float, weight_decay: float, momentum: float = 0.0,
                                   steps_per_epoch: int = 1) -> "ExponentialGrowth":
        a = cls.alpha(lr, weight_decay, momentum)
        return cls(lr / a, a ** -2, steps_per_epoch)

    @classmethod
    def initial_velocity(cls, w0, lr: float, weight_decay: float, momentum: float = 0.0):
        a = cls.alpha(lr, weight_decay, momentum)
        return -(1.0 - a) * w0 / (a * lr)


