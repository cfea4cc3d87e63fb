"""``ReduceOnPlateau``: a schedule driven by a metric the user reports, not by the step (see the package doc)."""
from __future__ import annotations

import math

import sympy

from .core import Schedule, _num


class ReduceOnPlateau(Schedule):
    """Performance-dependent (the lecture notes on optimizers): keep the value until a metric stops improving,
    then multiply it by ``factor`` (the seed halves it: ``factor=0.5``, the default here;
    torch's default is 0.1).

    The rules are torch.optim.lr_scheduler.ReduceLROnPlateau's: after each
    :meth:`observe`, the metric improves when it beats the best so far by
    ``threshold`` (``threshold_mode`` 'rel' or 'abs', ``mode`` 'min' or 'max');
    after more than ``patience`` observations without improvement the value becomes
    ``max(value * factor, min_lr)`` (unless that changes it by less than ``eps``),
    then ``cooldown`` observations are ignored. Observe once per epoch, with the
    validation metric. ``min_lr`` bounds any hyperparameter this schedules.
    """

    metric_driven = True

    def __init__(self, init: float, mode: str = "min", factor: float = 0.5, patience: int = 10,
                 threshold: float = 1e-4, threshold_mode: str = "rel", cooldown: int = 0,
                 min_lr: float = 0.0, eps: float = 1e-8):
        if mode not in ("min", "max"):
            raise ValueError(f"ReduceOnPlateau: mode must be 'min' or 'max', got {mode!r}")
        if threshold_mode not in ("rel", "abs"):
            raise ValueError(f"ReduceOnPlateau: threshold_mode must be 'rel' or 'abs', got {threshold_mode!r}")
        if not 0 < factor < 1:
            raise ValueError(f"ReduceOnPlateau: factor must be in (0, 1), got {factor!r}")
        self.init, self.mode, self.factor, self.patience = float(init), mode, float(factor), int(patience)
        self.threshold, self.threshold_mode, self.cooldown = float(threshold), threshold_mode, int(cooldown)
        self.min_lr, self.eps = float(min_lr), float(eps)
        self.current = float(init)
        self.best = math.inf if mode == "min" else -math.inf
        self.num_bad_epochs = 0
        self.cooldown_counter = 0
        self.reductions = 0
        self.observations = 0

    @property
    def expr(self) -> sympy.Expr:
        """The value so far: max(min_lr, init factor^k) after k reductions (k is the metric's doing)."""
        k = sympy.Symbol("k", integer=True, nonnegative=True)
        return sympy.Max(_num(self.min_lr), _num(self.init) * _num(self.factor) ** k)

    def value(self, step: int) -> float:
        return self.current

    def _is_better(self, a: float, best: float) -> bool:
        if self.mode == "min" and self.threshold_mode == "rel":
            return a < best * (1.0 - self.threshold)
        if self.mode == "min":
            return a < best - self.threshold
        if self.threshold_mode == "rel":
            return a > best * (self.threshold + 1.0)
        return a > best + self.threshold

    def observe(self, metric: float) -> bool:
        """Report a metric (e.g. the validation loss after an epoch); True if the value was reduced."""
        current = float(metric)
        self.observations += 1
        if self._is_better(current, self.best):
            self.best = current
            self.num_bad_epochs = 0
        else:
            self.num_bad_epochs += 1
        if self.cooldown_counter > 0:
            self.cooldown_counter -= 1
            self.num_bad_epochs = 0
        reduced = False
        if self.num_bad_epochs > self.patience:
            new = max(self.current * self.factor, self.min_lr)
            if self.current - new > self.eps:
                self.current = new
                self.reductions += 1
                reduced = True
            self.cooldown_counter = self.cooldown
            self.num_bad_epochs = 0
        return reduced

    # -- checkpoints (also carried whole in an optimizer's state_dict) --
    _STATE = ("current", "best", "num_bad_epochs", "cooldown_counter", "reductions", "observations")

    def state_dict(self) -> dict:
        return {k: getattr(self, k) for k in self._STATE}

    def load_state_dict(self, sd: dict) -> None:
        for k in self._STATE:
            setattr(self, k, sd[k])

    def __repr__(self) -> str:
        return (f"ReduceOnPlateau(current={self.current}, best={self.best}, bad={self.num_bad_epochs}, "
                f"reductions={self.reductions})")


def report(opt, metric: float) -> dict[str, bool]:
    """Pass a metric to every performance-dependent schedule of optimizer ``opt``.

    Returns ``{hyperparameter: reduced}``. Works after ``load_state_dict``, which
    may have replaced the schedule objects with restored copies.
    """
    values = getattr(opt, "values", None)
    if values is None:
        raise TypeError(f"report: {type(opt).__name__} has no hyperparameter values")
    out = {}
    for name, value in values.items():
        if hasattr(value, "observe"):
            out[name] = value.observe(metric)
    return out

